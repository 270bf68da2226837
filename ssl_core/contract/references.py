"""Published results, held once, each with the protocol it was measured under.

A run is put next to what the papers report for the same algorithm, dataset and label count, and
the number counts as a **match** only when the run's protocol is the reference's too
(``differences`` lists what is not). ``top1`` is 100 − error. ``num_labels`` None means all labels
(fully supervised). The protocols were read from the sources (USB: ``config/classic_cv/<algo>/``
and ``semilearn/datasets/cv_datasets/svhn.py`` of microsoft/Semi-supervised-learning); a field a
source does not state is in ``unverified`` and left None.
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

# Selection rules: which test number a source reports.
BEST_TEST = "best test over checkpoints"  # TorchSSL and USB (their evaluation set is the test set)
AT_BEST_VAL = "test at best validation"  # matchlab's headline statistic
PAPER_STEPS = 2**20  # 1,048,576 (USB's num_train_iter; TorchSSL's and the papers' 2^20)
# Matchlab's dataset names the references' data corresponds to: the SVHN numbers train on
# train + the 531,131 "extra" images (USB concatenates both before drawing the labels).
SVHN_EXTRA = "svhn_extra"
_FAMILY = {SVHN_EXTRA: "svhn"}

MEANTEACHER_CAVEAT = (
    "USB's Mean Teacher passes the teacher's logits as the student's, so its unlabeled loss has "
    "no gradient: this is a labels-only number, not the method matchlab runs"
)
UDA_CAVEAT = (
    "USB's UDA calls its target hook with softmax=False, which skips the sharpening (T = 0.4): "
    "not the method matchlab runs (it sharpens, as the paper)"
)
_CAVEATS = {"meanteacher": MEANTEACHER_CAVEAT, "uda": UDA_CAVEAT}

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
# The papers' nets: WRN-28-8 for CIFAR-100 in the FlexMatch/TorchSSL tables, WRN-37-2 for STL-10
# (USB's classic_cv STL-10 configs, TorchSSL's heirs, name wrn_var_37_2); USB's classic_cv runs
# every CIFAR-100 and SVHN config on wrn_28_2.
_PAPER_NET = {"cifar100": "wrn_28_8", "stl10": "wrn_37_2"}


@dataclass(frozen=True)
class Reference:
    algorithm: str
    dataset: str  # the dataset family ("svhn" for SVHN with or without extra)
    num_labels: int | None
    error: float
    source: str
    # The protocol: the matchlab dataset whose data it used, the net, the training steps and
    # which test number is reported; None where the source does not say (see ``unverified``).
    variant: str | None = None
    net: str | None = "wrn_28_2"
    steps: int | None = PAPER_STEPS
    selection: str | None = BEST_TEST
    caveat: str = ""  # why the number does not measure the method matchlab implements
    unverified: tuple[str, ...] = ()  # protocol fields not checked against the source

    @property
    def top1(self) -> float:
        return round(100.0 - self.error, 2)

    @property
    def data(self) -> str:
        """The matchlab dataset name with this reference's data ("svhn_extra")."""
        return self.variant or self.dataset

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unverified": list(self.unverified), "top1": self.top1,
                "protocol": self.protocol()}  # fmt: skip

    def protocol(self) -> str:
        """In words: "svhn_extra, WRN-28-2, 1,048,576 steps, best test over checkpoints"."""
        parts = [self.data, net_label(self.net), steps_label(self.steps), self.selection or "?"]
        return ", ".join(parts)


def net_label(net: str | None) -> str:
    """A net's label, "wrn_37_2" → "WRN-37-2"; "?" when unknown."""
    if net is None:
        return "?"
    return net.upper().replace("_", "-") if net.startswith("wrn_") else net


def steps_label(steps: int | None) -> str:
    return "? steps" if steps is None else f"{steps:,} steps"


def family(dataset: str) -> str:
    """The family a matchlab dataset's references are filed under ("svhn_extra" → "svhn")."""
    return _FAMILY.get(dataset, dataset)


def _variant(dataset: str) -> str | None:
    return SVHN_EXTRA if dataset == "svhn" else None


def _paper(algorithm: str, dataset: str, labels: int | None, error: float, source: str,
           **protocol: Any) -> Reference:  # fmt: skip
    return Reference(algorithm, dataset, labels, error, source, variant=_variant(dataset),
                     net=_PAPER_NET.get(dataset, "wrn_28_2"), **protocol)  # fmt: skip


# The MixMatch and FixMatch papers report other statistics than the best test checkpoint (not
# checked here), so their selection and steps stay unverified.
_PAPER_UNVERIFIED = {"selection": None, "steps": None, "unverified": ("steps", "selection")}

REFERENCES: tuple[Reference, ...] = (
    *(
        _paper(algorithm, dataset, labels, error, FLEXMATCH_TABLES)
        for algorithm, errors in _TABLE.items()
        for (dataset, labels), error in zip(SETTINGS, errors, strict=True)
    ),
    _paper("mixmatch", "cifar10", 250, 11.08, MIXMATCH_PAPER, **_PAPER_UNVERIFIED),
    _paper("mixmatch", "cifar10", 4000, 6.24, MIXMATCH_PAPER, **_PAPER_UNVERIFIED),
    _paper("fixmatch", "cifar10", 40, 13.81, FIXMATCH_PAPER, **_PAPER_UNVERIFIED),
    _paper("fixmatch", "cifar10", 250, 5.07, FIXMATCH_PAPER, **_PAPER_UNVERIFIED),
    _paper("fixmatch", "cifar10", 4000, 4.26, FIXMATCH_PAPER, **_PAPER_UNVERIFIED),
    # USB's labels-only rows (results/classic_cv.csv, "supervised").
    _paper("supervised", "cifar10", 40, 77.58, USB_BASELINE),
    _paper("supervised", "cifar10", 250, 55.96, USB_BASELINE),
    _paper("supervised", "cifar10", 4000, 15.51, USB_BASELINE),
    *(
        Reference(
            algorithm,
            dataset,
            labels,
            error,
            USB_CLASSIC_CV,
            variant=_variant(dataset),
            caveat=_CAVEATS.get(algorithm, ""),
        )  # fmt: skip
        for algorithm, errors in _USB_TABLE.items()
        for (dataset, labels), error in zip(USB_SETTINGS, errors, strict=True)
    ),
    *(
        _paper("supervised", dataset, None, error, FLEXMATCH_TABLES + " (all labels)")
        for dataset, error in [("cifar10", 4.62), ("cifar100", 19.30)]
    ),
)


def find(
    dataset: str | None = None, num_labels: int | None = None, algorithm: str | None = None
) -> list[Reference]:
    """The references matching every filter given (``num_labels`` matches the label count;
    ``dataset`` may be a variant: "svhn_extra" finds the SVHN references)."""
    return [
        r
        for r in REFERENCES
        if (dataset is None or r.dataset == family(dataset))
        and (num_labels is None or r.num_labels == num_labels)
        and (algorithm is None or r.algorithm == algorithm)
    ]


def differences(
    ref: Reference, dataset: str, net: str | None, steps: int | None, selection: str
) -> list[str]:
    """What keeps a run from being like for like with ``ref`` ("net wrn_28_2 vs WRN-37-2");
    empty: a match. Steps must be equal (a 2^20-step number says nothing about a run of any other
    length); an unknown protocol field of the reference is a difference too."""
    out = []
    if dataset != ref.data:
        out.append(f"data {dataset} vs {ref.data}")
    if net != ref.net:
        out.append(f"net {net} vs {net_label(ref.net)}")
    if steps != ref.steps:
        run_steps = "?" if steps is None else f"{steps:,}"
        ref_steps = "?" if ref.steps is None else f"{ref.steps:,}"
        out.append(f"{run_steps} steps vs {ref_steps}")
    if selection != ref.selection:
        out.append(f"selection: {selection} vs {ref.selection or '?'}")
    if ref.caveat:
        out.append("method: not the one matchlab implements (see caveat)")
    return out
