"""Published results, held once, with their source (``../shared/reference/ssl_reference.md``).

Error rates (%) of WRN-28-2 (CIFAR-100: WRN-28-8) at the papers' 2^20 steps, so a run can be
put next to what the papers report for the same algorithm, dataset and label count. ``top1`` is
100 − error. ``num_labels`` None means all labels (fully supervised).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

FLEXMATCH_TABLES = "FlexMatch paper (Zhang et al., 2021), TorchSSL tables, mean of 3 seeds"
MIXMATCH_PAPER = "MixMatch paper (Berthelot et al., 2019)"
FIXMATCH_PAPER = "FixMatch paper (Sohn et al., 2020), RandAugment"
USB_BASELINE = "USB benchmark (Wang et al., 2022), labels only, same nets"
USB_CLASSIC_CV = (
    "USB classic CV reproduction (microsoft/Semi-supervised-learning results/classic_cv.csv), "
    "best error, mean of 3 seeds"
)
USB_SETTINGS = [("cifar10", 40), ("cifar10", 250), ("cifar10", 4000), ("svhn", 40), ("svhn", 250),
                ("svhn", 1000), ("cifar100", 400), ("cifar100", 2500), ("cifar100", 10000)]  # fmt: skip
# USB's baselines for the algorithms beyond the first four (docs/ALGORITHMS.md has the table).
_USB_TABLE = {
    "pseudolabel": [76.29, 48.28, 14.90, 75.95, 16.60, 9.33, 87.15, 59.09, 38.86],
    "meanteacher": [76.93, 56.06, 15.47, 81.94, 25.10, 12.29, 90.34, 61.13, 39.05],
    "pimodel": [75.56, 47.69, 12.80, 77.38, 13.55, 7.24, 87.13, 60.08, 39.10],
    "remixmatch": [14.50, 9.21, 4.88, 31.27, 6.38, 5.34, 57.10, 34.77, 26.18],
    "uda": [8.01, 5.12, 4.32, 2.03, 2.03, 1.96, 53.44, 34.37, 27.52],
    "freematch": [4.97, 4.85, 4.14, 3.79, 4.09, 4.31, 49.24, 32.79, 27.17],
    "softmatch": [5.06, 4.84, 4.27, 2.31, 2.15, 2.08, 49.64, 33.05, 27.26],
}

SETTINGS = [("cifar10", 40), ("cifar10", 250), ("cifar10", 4000), ("cifar100", 400),
            ("cifar100", 2500), ("cifar100", 10000), ("svhn", 40), ("stl10", 40)]  # fmt: skip
_TABLE = {
    "mixmatch": [36.19, 13.63, 6.66, 67.59, 39.76, 27.78, 30.60, 54.93],
    "fixmatch": [7.47, 4.86, 4.21, 46.42, 28.03, 22.20, 3.81, 35.97],
    "flexmatch": [4.97, 4.98, 4.19, 39.94, 26.49, 21.90, 8.19, 29.15],
}


@dataclass(frozen=True)
class Reference:
    algorithm: str
    dataset: str
    num_labels: int | None
    error: float
    source: str

    @property
    def top1(self) -> float:
        return round(100.0 - self.error, 2)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "top1": self.top1}


REFERENCES: tuple[Reference, ...] = (
    *(
        Reference(algorithm, dataset, labels, error, FLEXMATCH_TABLES)
        for algorithm, errors in _TABLE.items()
        for (dataset, labels), error in zip(SETTINGS, errors, strict=True)
    ),
    Reference("mixmatch", "cifar10", 250, 11.08, MIXMATCH_PAPER),
    Reference("mixmatch", "cifar10", 4000, 6.24, MIXMATCH_PAPER),
    Reference("fixmatch", "cifar10", 40, 13.81, FIXMATCH_PAPER),
    Reference("fixmatch", "cifar10", 250, 5.07, FIXMATCH_PAPER),
    Reference("fixmatch", "cifar10", 4000, 4.26, FIXMATCH_PAPER),
    Reference("supervised", "cifar10", 40, 77.58, USB_BASELINE),
    Reference("supervised", "cifar10", 250, 55.96, USB_BASELINE),
    Reference("supervised", "cifar10", 4000, 15.51, USB_BASELINE),
    *(
        Reference(algorithm, dataset, labels, error, USB_CLASSIC_CV)
        for algorithm, errors in _USB_TABLE.items()
        for (dataset, labels), error in zip(USB_SETTINGS, errors, strict=True)
    ),
    *(
        Reference("supervised", dataset, None, error, FLEXMATCH_TABLES + " (all labels)")
        for dataset, error in [("cifar10", 4.62), ("cifar100", 19.30)]
    ),
)


def find(
    dataset: str | None = None, num_labels: int | None = None, algorithm: str | None = None
) -> list[Reference]:
    """The references matching every filter given (``num_labels`` matches the label count)."""
    return [
        r
        for r in REFERENCES
        if (dataset is None or r.dataset == dataset)
        and (num_labels is None or r.num_labels == num_labels)
        and (algorithm is None or r.algorithm == algorithm)
    ]
