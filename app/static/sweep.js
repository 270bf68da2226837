// A sweep's page: the result charts and member curves; reloads while its runs train.
"use strict";
(() => {
  matchlab.plotAll("figures", (item) => "sweep-" + item.id);
  matchlab.plotAll("curves", (item, i) => "curve-" + i);
  const facts = document.getElementById("sweep-facts");
  if (facts && facts.dataset.active === "1") {
    setInterval(() => { if (!document.hidden) window.location.reload(); }, 15000);
  }
})();
