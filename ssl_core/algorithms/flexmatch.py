"""FlexMatch (Zhang et al. 2021, arXiv:2110.08263): FixMatch with curriculum pseudo-labelling.

Each class gets its own threshold T_c = τ · M(β_c), where β_c measures how many unlabeled images
are confidently predicted as c (see ssl_core.thresholds.FlexThreshold). Hard-to-learn classes get
lower thresholds early on, so more of their pseudo-labels are used.
"""

from __future__ import annotations

from torch import Tensor

from ssl_core.algorithms.fixmatch import FixMatch
from ssl_core.contract.metrics import CLASS_THRESHOLD_PREFIX, UNSEEN_RATIO
from ssl_core.thresholds import FlexThreshold


class FlexMatch(FixMatch):
    def __init__(self, spec, num_classes, num_unlabeled, device) -> None:  # noqa: ANN001
        super().__init__(spec, num_classes, num_unlabeled, device)
        self.thresholds = FlexThreshold(
            num_classes,
            num_unlabeled,
            self.hp.threshold,
            mapping=self.hp.mapping,
            warmup=self.hp.threshold_warmup,
            device=device,
        )

    def mask(self, probs: Tensor, u_index: Tensor) -> tuple[Tensor, Tensor]:
        # As USB (flexmatch/utils.py) and TorchSSL: the mask uses the learning status of the
        # steps before this one; this step's confident predictions count from the next step.
        mask = self.thresholds.mask(probs)
        self.thresholds.update(u_index, probs)
        return mask

    def epoch_metrics(self) -> dict[str, Tensor]:
        per_class = self.thresholds.class_thresholds()
        out = {f"{CLASS_THRESHOLD_PREFIX}{c}": per_class[c] for c in range(self.num_classes)}
        out[UNSEEN_RATIO] = self.thresholds.unseen_ratio()
        return out
