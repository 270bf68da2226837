// The compare page: draw the charts; every control rewrites the URL (which holds the view).
"use strict";
(() => {
  matchlab.plotAll("figures", (item, i) => "chart-" + i);
  if (document.getElementById("results-figure")) matchlab.plotAll("results-figure", () => "chart-results");
  matchlab.keepFresh({
    charts: [["figures", (item, i) => "chart-" + i]],
    swap: ["summary-table", "few-runs", "results-table", "results-excluded"],
    isActive: (doc) => doc.getElementById("compare-active")?.dataset.active === "1",
  });
  const form = document.getElementById("compare-view");
  if (!form) return;
  const keys = document.getElementById("keys-value");
  const smooth = document.getElementById("smooth");

  // Submit as a clean URL: no empty parameters.
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value !== "") params.set(name, value);
    window.location.href = "/compare?" + params.toString().replaceAll("%2C", ",").replaceAll("%2F", "/");
  });
  document.querySelectorAll('#compare-view select, select[form="compare-view"]')
    .forEach((el) => el.addEventListener("change", () => form.requestSubmit()));
  document.getElementById("partial")?.addEventListener("change", () => form.requestSubmit());
  smooth.addEventListener("input", () => { document.getElementById("smooth-value").textContent = smooth.value; });
  smooth.addEventListener("change", () => form.requestSubmit());
  document.querySelectorAll("#metric-choices input").forEach((box) => box.addEventListener("change", () => {
    const chosen = [...document.querySelectorAll("#metric-choices input:checked")].map((b) => b.value);
    if (!chosen.length) { box.checked = true; return; } // keep at least one chart
    keys.value = chosen.join(",");
    form.requestSubmit();
  }));
})();
