from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from app.config import Settings
from app.main import create_app
from app.store.db import get_engine
from app.store.models import MetricPoint, Run


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return get_engine(settings)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, pages=False)) as test_client:
        yield test_client


def add_points(engine: Engine, run_id: int, key: str, values: list[float], **run_values) -> None:
    """Store ``values`` as epochs 1..n of ``key`` (10 steps per epoch) and update the run row."""
    with Session(engine) as session:
        session.add_all(
            MetricPoint(run_id=run_id, key=key, epoch=i, step=10 * i, wall_time=1000.0 + i, value=v)
            for i, v in enumerate(values, start=1)
        )
        if run_values:
            session.exec(update(Run).where(col(Run.id) == run_id).values(**run_values))
        session.commit()


def set_run(engine: Engine, run_id: int, **values) -> None:
    with Session(engine) as session:
        session.exec(update(Run).where(col(Run.id) == run_id).values(**values))
        session.commit()
