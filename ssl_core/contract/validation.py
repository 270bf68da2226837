"""How large a run's validation set is against its labels (torch-free: the run page shows it).

Oliver et al. (NeurIPS 2018): a validation set far larger than the labeled set is an oracle for
model selection that a user with that few labels would not have; 5,000 images for 40 labels
picks, nearly always, the best test epoch. The ``realistic`` val_split holds out as many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssl_core.contract import catalog

# Above this many validation images per label the run page warns.
DWARFS_LABELS = 10


@dataclass(frozen=True)
class ValidationSize:
    images: int
    labels: int

    @property
    def per_label(self) -> float:
        return self.images / self.labels if self.labels else float("inf")

    @property
    def dwarfs_labels(self) -> bool:
        return self.per_label > DWARFS_LABELS

    def text(self) -> str:
        return f"{self.images:,} images for {self.labels:,} labels ({self.per_label:.3g}×)"

    def warning(self) -> str | None:
        if not self.dwarfs_labels:
            return None
        return (
            f"the validation set is {self.per_label:.3g}× the labels: choosing the epoch on it "
            "is close to choosing on test, which a user with this few labels could not do "
            '(Oliver et al. 2018); val_split "realistic" holds out as many images as labels'
        )


def validation_size(spec: dict[str, Any]) -> ValidationSize | None:
    """The stored ``spec``'s validation size, or None when it does not say (or names a dataset
    this installation does not know)."""
    info = catalog.CATALOG.datasets.get(spec.get("dataset", ""))
    per_class, labels = spec.get("num_val_per_class"), spec.get("num_labels")
    if info is None or not isinstance(per_class, int) or not isinstance(labels, int):
        return None
    return ValidationSize(per_class * info.num_classes, labels)
