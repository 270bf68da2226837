// A sweep's page: the result charts and member curves, updated in place while its runs train.
"use strict";
(() => {
  const figureId = (item) => "sweep-" + item.id, curveId = (item, i) => "curve-" + i;
  matchlab.plotAll("figures", figureId);
  matchlab.plotAll("curves", curveId);
  matchlab.keepFresh({
    charts: [["figures", figureId], ["curves", curveId]],
    swap: ["sweep-facts", "cells-table", "sweep-runs"],
    isActive: (doc) => doc.getElementById("sweep-facts")?.dataset.active === "1",
  });
})();
