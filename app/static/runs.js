// The runs table: tick runs to compare them; while runs train, the rows refresh themselves.
"use strict";
(() => {
  const table = document.getElementById("runs-table");
  const button = document.getElementById("compare-button");
  const tickAll = document.getElementById("tick-all");
  const REFRESH_MS = 4000;

  const ticked = () => [...document.querySelectorAll('input[name="runs"]:checked')].map((b) => b.value);
  const update = () => {
    const none = ticked().length === 0;
    button.disabled = none;
    document.querySelectorAll("button.bulk").forEach((b) => { b.disabled = none; });
  };

  document.addEventListener("change", (event) => { if (event.target.name === "runs") update(); });
  if (tickAll) {
    tickAll.addEventListener("change", () => {
      document.querySelectorAll('input[name="runs"]').forEach((b) => { b.checked = tickAll.checked; });
      update();
    });
  }
  // Compare: straight to /compare?runs=1,2 (the server would redirect there too). Other
  // actions post the ticked runs to /runs/bulk; a delete asks first.
  document.getElementById("compare-form").addEventListener("submit", (event) => {
    const action = event.submitter?.value;
    if (action === "compare") {
      event.preventDefault();
      const ids = ticked();
      if (ids.length) window.location.href = "/compare?runs=" + ids.join(",");
    } else if (event.submitter?.dataset.confirm && !window.confirm(event.submitter.dataset.confirm)) {
      event.preventDefault();
    }
  });
  update();

  async function refresh() {
    if (!table || table.dataset.active !== "1") return;
    if (!document.hidden) {
      try {
        const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
        const fresh = response.ok
          ? new DOMParser().parseFromString(await response.text(), "text/html").getElementById("runs-table")
          : null;
        if (fresh) {
          const keep = new Set(ticked());
          document.getElementById("runs-body").replaceWith(fresh.querySelector("#runs-body"));
          document.querySelectorAll('input[name="runs"]').forEach((b) => { b.checked = keep.has(b.value); });
          table.dataset.active = fresh.dataset.active;
          update();
        }
      } catch (err) {
        // The server may be restarting: keep the rows we have and try again.
      }
    }
    setTimeout(refresh, REFRESH_MS);
  }
  setTimeout(refresh, REFRESH_MS);
})();
