"""How much metric data one run may log and one answer may carry, in one place with the reasons.

What a real run logs, at most: about 15 fixed keys (DESIGN's metric keys) plus per-class families
(``train/threshold/<class>``, ``train/pseudo_label_share/<class>``): FlexMatch on CIFAR-100
logs about 215 keys per epoch. A plugin adding a few more families of 100 classes stays far
below the caps; a plugin that logs a key per sample or per step does not, and should be told
at once rather than fill the database (one such plugin logged 100,000 keys per epoch).
"""

from __future__ import annotations

from app.store.errors import InvalidInput

# Per epoch: 100 classes × 9 per-class families plus the fixed keys still pass.
MAX_KEYS_PER_EPOCH = 1_000
# Per run, over all its epochs: keys may differ between epochs (a class first seen late), but a
# run page draws every key, so the total is bounded too.
MAX_KEYS_PER_RUN = 2_000
# Keys one compare may name: each is a chart over every member run (the compare page offers a
# handful; 64 leaves room for a script that reads every per-class key of a 50-class dataset).
MAX_COMPARE_KEYS = 64
# Points one answer may read from the database (each costs about 200 bytes in memory while the
# answer is built, ~50 in JSON): 500 runs × 2,000 epochs of one key, or one run of the full
# 2,000 keys × 500 epochs. ``max_points`` thins what is sent, not what is read.
MAX_POINTS = 1_000_000


def check_keys(keys: list[str] | None, cap: int, field: str = "keys") -> None:
    """422 when more than ``cap`` keys are named."""
    if keys is not None and len(keys) > cap:
        raise InvalidInput([{"field": field, "message": f"{len(keys)} keys asked, at most {cap}"}])


def check_points(points: int, cap: int | None = None) -> None:
    """422 when an answer would read more than ``cap`` (default ``MAX_POINTS``) points."""
    cap = MAX_POINTS if cap is None else cap
    if points > cap:
        raise InvalidInput(
            [
                {
                    "field": "keys",
                    "message": f"{points} points asked (runs × keys × epochs), at most {cap}; "
                    "name fewer runs or keys",
                }
            ]
        )


class TooManyMetricKeys(ValueError):
    """A run logged more metric keys than ``MAX_KEYS_PER_EPOCH`` / ``MAX_KEYS_PER_RUN``."""


def check_logged_keys(epoch: int, epoch_keys: int, run_keys: int) -> None:
    """Raise ``TooManyMetricKeys`` (the run fails with this message) beyond the caps."""
    if epoch_keys > MAX_KEYS_PER_EPOCH:
        raise TooManyMetricKeys(
            f"epoch {epoch} logged {epoch_keys} metric keys, at most {MAX_KEYS_PER_EPOCH} per "
            "epoch (app/store/limits.py); log per-sample or per-step values to a file instead"
        )
    if run_keys > MAX_KEYS_PER_RUN:
        raise TooManyMetricKeys(
            f"by epoch {epoch} the run logged {run_keys} distinct metric keys, at most "
            f"{MAX_KEYS_PER_RUN} per run (app/store/limits.py)"
        )
