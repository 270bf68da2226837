"""Seeded, class-balanced labeled / unlabeled / validation split of a training set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    labeled: np.ndarray
    unlabeled: np.ndarray
    validation: np.ndarray


def split_indices(
    labels: np.ndarray, num_labels: int, num_val_per_class: int, seed: int, num_classes: int
) -> Split:
    """Per class: the first ``num_labels / num_classes`` shuffled images are labeled, the last
    ``num_val_per_class`` are validation, the rest unlabeled (disjoint, as in the seed tutorial).
    """
    if num_labels % num_classes:
        raise ValueError(f"num_labels: must be a multiple of {num_classes}; got {num_labels}")
    per_class = num_labels // num_classes
    rng = np.random.default_rng(seed)
    labeled, unlabeled, validation = [], [], []
    for c in range(num_classes):
        members = rng.permutation(np.flatnonzero(labels == c))
        if len(members) < per_class + num_val_per_class:
            raise ValueError(
                f"num_labels: class {c} has {len(members)} training images, fewer than "
                f"{per_class} labeled + {num_val_per_class} validation"
            )
        labeled.append(members[:per_class])
        unlabeled.append(members[per_class : len(members) - num_val_per_class])
        validation.append(members[len(members) - num_val_per_class :])
    return Split(*(np.sort(np.concatenate(part)) for part in (labeled, unlabeled, validation)))
