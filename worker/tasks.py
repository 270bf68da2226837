"""Celery tasks: thin wrappers that pass a run id to plain functions."""

from __future__ import annotations

from celery import Task

from app.queue import TRAIN_TASK
from worker import celery_app as app_module
from worker.celery_app import SHUTDOWN, celery_app
from worker.runner import run_training
from worker.slots import apply_thread_budget


@celery_app.task(name=TRAIN_TASK, bind=True)
def train_run(self: Task, run_id: int) -> str | None:
    apply_thread_budget()  # this slot's share of the cores (worker/slots.py)
    return run_training(
        run_id, stop_event=SHUTDOWN, worker_name=self.request.hostname, slot=app_module.SLOT
    )
