"""The run page's charts, in page order: each metric row (ssl_core.contract.metrics) names the
chart it is drawn in, so a new metric shows on the run page (and live) with its row alone.

Torch-free presentation facts; ``app.pages.run_charts`` turns them into Plotly figures.
"""

from __future__ import annotations

from dataclasses import dataclass

# Okabe–Ito: told apart under the common colour-vision deficiencies, on light and dark themes.
COLORS = {
    "blue": "#0072b2", "orange": "#e69f00", "pink": "#cc79a7", "green": "#009e73",
    "vermillion": "#d55e00", "sky": "#56b4e9", "grey": "#999999",
}  # fmt: skip


@dataclass(frozen=True)
class Chart:
    id: str  # the page's element is ``chart-<id>``
    title: str
    y_title: str
    y_range: tuple[float, float] | None = None  # fixed, e.g. a confidence in [0, 1]
    from_zero: bool = False  # the y axis starts at 0
    uniform_share: bool = False  # a dashed line at 1/K: a class far below it is being dropped
    # Drawn only when the spec's hparams set this one (λu changes only with a ramp-up:
    # otherwise it is a constant, not a chart).
    only_with_hparam: str = ""
    notes: bool = False  # carries what its curves say in words (app.domain.diagnosis)


CHARTS = (
    Chart("accuracy", "Accuracy", "%"),
    Chart("thresholds", "FlexMatch per-class thresholds", "threshold τ_c", y_range=(0.0, 1.02)),
    Chart("loss", "Losses", "loss"),
    # A chart of its own: MixMatch's unlabeled loss is ~0.01 and would lie flat at 0 beside
    # the labeled loss.
    Chart("loss_u", "Unlabeled loss (before its weight λu)", "loss"),
    Chart("pseudo", "Pseudo-labels", "%", notes=True),  # one axis in %: shares are ×100
    Chart(
        "shares",
        "Share of the admitted pseudo-labels per class",
        "share of pseudo-labels",
        from_zero=True,
        uniform_share=True,
    ),  # fmt: skip
    Chart("unsup", "Unsupervised loss weight λu (ramp-up)", "λu", only_with_hparam="rampup_iters"),
    Chart("lr", "Learning rate", "lr"),
    Chart("speed", "Throughput", "images / s"),
    # Runs with the spec's compile on: where epoch 1's missing throughput went.
    Chart("compile", "torch.compile time", "seconds per epoch"),
)
CHART_IDS = {chart.id for chart in CHARTS}
