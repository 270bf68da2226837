"""The worker's part in a search: when a run of it ends, record its trial and ask for the next.

``app.domain.search.advance`` does the work and is idempotent; it runs here when a run ends and
from the watchdog for every running search, so a worker killed between a run ending and the
next trial being asked loses nothing: the next check, in any worker, makes that trial.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from app.config import Settings
from app.domain.early_stop import apply_stops
from app.domain.search import advance
from app.queue import enqueue_all
from app.store.db import get_engine
from app.store.models import Sweep

log = logging.getLogger(__name__)


def advance_search(settings: Settings, sweep_id: int | None) -> list[int]:
    """Advance the search ``sweep_id`` (nothing for a grid sweep or none) and queue its new runs;
    never raises: the run's own outcome is already recorded, and the watchdog tries again."""
    if sweep_id is None:
        return []
    try:
        engine = get_engine(settings)
        apply_stops(engine, sweep_id)
        made = advance(engine, sweep_id)
        if made:
            enqueue_all(settings.redis_url, made)
        return made
    except Exception:
        log.exception(
            "search %s: could not ask for its next trial; the watchdog will retry", sweep_id
        )
        return []


def stop_early(settings: Settings, sweep_id: int) -> None:
    """Apply the search's early stops after one of its runs stored an epoch: the decision then
    follows the epochs themselves, not the watchdog's clock. Never raises (the watchdog retries)."""
    try:
        apply_stops(get_engine(settings), sweep_id)
    except Exception:
        log.exception("search %s: could not check its early stops; the watchdog will", sweep_id)


def advance_searches(settings: Settings) -> list[int]:
    """Every running or paused search advanced (the watchdog's periodic check): a paused one
    still records its trials and stops its weak or collapsed runs."""
    with Session(get_engine(settings)) as session:
        query = select(Sweep.id).where(col(Sweep.state).in_(("running", "paused")))
        ids = session.exec(query).all()
    return [run_id for sweep_id in ids for run_id in advance_search(settings, sweep_id)]
