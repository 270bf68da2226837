// The launch forms. Run form: a new algorithm redraws the form with its hyperparameters, a new
// dataset with its default weak augmentation (keeping what was typed). Sweep form: the number of runs, live.
"use strict";
(() => {
  const runForm = document.getElementById("run-form");
  if (runForm) {
    for (const name of ["algorithm", "dataset"]) {
      const select = runForm.querySelector(`select[name="${name}"]`);
      select.addEventListener("change", () => document.getElementById("refresh-form").click());
    }
  }

  const sweepForm = document.getElementById("sweep-form");
  if (!sweepForm) return;
  const count = document.getElementById("run-count");
  const max = Number(sweepForm.dataset.maxRuns);
  const parts = (text) => text.split(",").map((p) => p.trim()).filter((p) => p.length);

  function recount() {
    let runs = 1;
    const swept = [];
    sweepForm.querySelectorAll(".grid-row").forEach((row) => {
      const [key, values] = row.querySelectorAll("input");
      if (key.value.trim()) {
        runs *= parts(values.value).length;
        swept.push(`${parts(values.value).length} × ${key.value.trim()}`);
      }
    });
    const seeds = parts(document.getElementById("f-seeds").value).length || 1;
    runs *= seeds;
    swept.push(`${seeds} seed${seeds === 1 ? "" : "s"}`);
    count.textContent = `${runs} run${runs === 1 ? "" : "s"} (${swept.join(" × ")})`
      + (runs > max ? ` — more than the ${max} a sweep may have` : "");
    count.classList.toggle("status-failed", runs > max || runs === 0);
    document.getElementById("launch").disabled = runs === 0;
  }
  sweepForm.addEventListener("input", recount);
  recount();
})();
