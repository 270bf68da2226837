"""The torch-free half of the plugin: what the web app reads to list, validate and colour it.

Importing this module must not import torch (the web app never does); the step lives in
``matchlab_pseudolabel_plus.algorithm``, imported only by the process that trains.
"""

from pydantic import Field

from ssl_core.contract.catalog import MASK_DIAGNOSTICS, AlgorithmEntry
from ssl_core.contract.hparams import HParams, UnitFloat


class PseudoLabelPlusParams(HParams):
    """Pseudo-Label on a second weak view, each kept sample weighted by its confidence."""

    threshold: UnitFloat = Field(0.9, description="confidence threshold τ for pseudo-labels")
    unlabeled_weight: float = Field(1.0, ge=0, le=100, description="unlabeled loss weight λu")
    confidence_weighting: bool = Field(
        True, description="weight each kept sample's loss by its confidence (off: weight 1)"
    )


ENTRY = AlgorithmEntry(
    name="pseudolabel_plus",
    label="Pseudo-Label+",
    params=PseudoLabelPlusParams,
    implementation="matchlab_pseudolabel_plus.algorithm:PseudoLabelPlus",
    default_uratio=2,
    views=("weak", "weak"),
    diagnostics=MASK_DIAGNOSTICS,
    color="#7b2cbf",
    description="confident predictions on one weak view as labels for another",
)
