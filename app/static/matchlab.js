// What every matchlab page shares: Plotly charts in the page's light/dark theme,
// confirmations on dangerous buttons, selects that apply themselves.
"use strict";
document.documentElement.classList.add("js");

const matchlab = (() => {
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const plotted = [];
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  function themeUpdate() {
    const text = css("--text"), grid = css("--grid"), border = css("--border");
    return {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      "font.color": text,
      "font.family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
      "font.size": 12,
      "xaxis.gridcolor": grid, "yaxis.gridcolor": grid,
      "xaxis.linecolor": border, "yaxis.linecolor": border,
      "hoverlabel.bgcolor": css("--panel"), "hoverlabel.bordercolor": border,
      "hoverlabel.font.color": text,
    };
  }

  // Dotted keys ("xaxis.gridcolor") into the nested layout newPlot takes.
  function themed(layout) {
    const out = structuredClone(layout);
    for (const [path, value] of Object.entries(themeUpdate())) {
      const parts = path.split(".");
      let node = out;
      for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
      node[parts[parts.length - 1]] = value;
    }
    return out;
  }

  function plot(div, figure) {
    if (!div) return;
    // Error bars in the text colour: visible on both themes and over any bar colour.
    const data = figure.data.map((t) => (t.error_y ? { ...t, error_y: { color: css("--text"), ...t.error_y } } : t));
    Plotly.newPlot(div, data, themed(figure.layout), {
      responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"],
    });
    plotted.push(div);
  }

  // Charts from a <script type="application/json" id=dataId> list; idFor(item, index) → div id.
  function plotAll(dataId, idFor) {
    const el = document.getElementById(dataId);
    if (!el) return [];
    const items = JSON.parse(el.textContent);
    items.forEach((item, i) => plot(document.getElementById(idFor(item, i)), item.figure));
    return items;
  }

  dark.addEventListener("change", () => plotted.forEach((div) => Plotly.relayout(div, themeUpdate())));

  // While runs train, re-read this page every few seconds and bring its charts (Plotly.react:
  // the user's zoom stays) and the listed elements up to date in place: no reload, no flicker.
  // charts: [[json script id, idFor(item, i)]]; swap: ids of elements replaced whole.
  function keepFresh({ charts, swap, isActive, everyMs = 5000 }) {
    async function tick() {
      if (!isActive(document)) return;
      if (!document.hidden) {
        try {
          const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
          if (response.ok) {
            const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
            for (const [dataId, idFor] of charts) {
              const el = fresh.getElementById(dataId);
              if (!el) continue;
              JSON.parse(el.textContent).forEach((item, i) => {
                const div = document.getElementById(idFor(item, i));
                if (div && div.data) Plotly.react(div, item.figure.data, themed(item.figure.layout));
                else if (div) plot(div, item.figure);
              });
            }
            for (const id of swap) {
              const mine = document.getElementById(id), theirs = fresh.getElementById(id);
              if (mine && theirs) mine.replaceWith(theirs);
            }
            if (!isActive(fresh)) return; // everything finished: this was the last update
          }
        } catch (err) {
          // The server may be restarting: keep what is shown and try again.
        }
      }
      setTimeout(tick, everyMs);
    }
    setTimeout(tick, everyMs);
  }

  document.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
  document.querySelectorAll("[data-autosubmit]").forEach((el) =>
    el.addEventListener("change", () => el.form.requestSubmit()));

  function duration(seconds) {
    seconds = Math.round(seconds);
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  }

  return { plot, plotAll, duration, keepFresh };
})();
