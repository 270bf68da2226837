// A run's page: draw its curves, then append each finished epoch as it arrives over
// server-sent events (Plotly.extendTraces keeps the user's zoom), and keep status,
// progress and summary current.
"use strict";
(() => {
  const live = JSON.parse(document.getElementById("live").textContent);
  // Charts are drawn once there is an epoch to show: empty axes (−1…6 by −1…4 "%") say nothing.
  let drawn = false;
  function draw() {
    if (drawn) return;
    drawn = true;
    const empty = document.getElementById("no-epochs");
    if (empty) empty.remove();
    document.getElementById("charts").hidden = false;
    matchlab.plotAll("figures", (chart) => "chart-" + chart.id);
  }
  if (live.last_epoch > 0) draw();
  const TERMINAL = new Set(["succeeded", "failed", "cancelled", "pruned"]);
  let lastEpoch = live.last_epoch;
  let clock = null; // first progress seen: {t, step}, for an ETA at the current speed

  const fields = (name) => document.querySelectorAll(`[data-field="${name}"]`);
  const setText = (name, text) => fields(name).forEach((el) => { el.textContent = text; });

  function addEpoch(epoch) {
    if (epoch.epoch <= lastEpoch) return; // already drawn (page load or a replay after reconnect)
    lastEpoch = epoch.epoch;
    draw();
    if (epoch.summary) showSummary(epoch.summary);
    for (const chart of live.charts) {
      const indices = [], xs = [], ys = [];
      // Each trace is drawn as its metric × its display scale (a 0–1 share on a % axis is ×100),
      // the scale the page drew it with at load.
      chart.keys.forEach((key, i) => {
        if (key in epoch.metrics) {
          indices.push(i); xs.push([epoch.epoch]); ys.push([epoch.metrics[key] * chart.scales[i]]);
        }
      });
      if (indices.length) Plotly.extendTraces("chart-" + chart.id, { x: xs, y: ys }, indices);
    }
    document.body.dataset.lastEpoch = String(lastEpoch);
  }

  function showProgress(p) {
    fields("bar").forEach((el) => { el.style.width = (100 * p.progress).toFixed(1) + "%"; });
    setText("step", p.step);
    const now = Date.now() / 1000;
    let eta = p.eta_seconds ?? null;
    if (!clock) clock = { t: now, step: p.step };
    else if (p.step > clock.step) eta = ((p.total_steps - p.step) * (now - clock.t)) / (p.step - clock.step);
    const text = `epoch ${p.epoch} · ${Math.round(100 * p.progress)} %`;
    setText("progress-text", eta == null ? text : `${text} · ETA ${matchlab.duration(eta)}`);
  }

  // The summary panel lists each summary field as the page rendered it (data-field: its key,
  // data-digits: the decimals it is shown with).
  function showSummary(summary) {
    document.querySelectorAll("[data-field][data-digits]").forEach((el) => {
      const value = summary[el.dataset.field];
      if (typeof value === "number") el.textContent = value.toFixed(Number(el.dataset.digits));
    });
  }

  const when = (iso) => iso.slice(0, 16).replace("T", " ") + " UTC";

  function showStatus(run) {
    const active = !TERMINAL.has(run.status);
    if (run.started_at) setText("started_at", when(run.started_at));
    fields("status").forEach((el) => {
      el.textContent = run.status + (run.cancel_requested && run.status === "running" ? " · cancelling" : "");
      el.className = "badge status-" + run.status;
    });
    if (run.summary) showSummary(run.summary);
    if (run.error) {
      document.getElementById("run-error").hidden = false;
      setText("error", run.error);
    }
    document.querySelectorAll("#run-actions [data-when]").forEach((form) => {
      const when = form.dataset.when;
      form.hidden = when === "active" ? !active : when === "done" ? active : run.status === "running";
    });
    if (run.status === "running") showProgress(run);
    if (!active) {
      fields("bar").forEach((el) => { el.style.width = (100 * run.progress).toFixed(1) + "%"; });
      setText("progress-text", `epoch ${run.epoch} of ${run.spec.epochs}`);
      if (run.finished_at) setText("finished_at", when(run.finished_at));
      document.getElementById("live-note").textContent = "";
    }
    document.body.dataset.status = run.status;
  }

  document.body.dataset.status = live.status;
  if (TERMINAL.has(live.status)) return;
  // ?after= lets the server skip the epochs drawn already; the check in addEpoch makes it optional.
  const source = new EventSource(`/api/runs/${live.run_id}/events?after=${lastEpoch}`);
  source.addEventListener("epoch", (m) => addEpoch(JSON.parse(m.data)));
  source.addEventListener("progress", (m) => showProgress(JSON.parse(m.data)));
  source.addEventListener("status", (m) => {
    const run = JSON.parse(m.data);
    showStatus(run);
    if (TERMINAL.has(run.status)) source.close(); // else EventSource would reconnect
  });
})();
