"""The FastAPI application factory: ``uvicorn app.main:create_app --factory``."""

from __future__ import annotations

import importlib.util
import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api import api_router
from app.config import Settings, get_settings
from app.crud import Conflict, InvalidInput
from app.db import get_engine

log = logging.getLogger(__name__)


def _field(loc: tuple) -> str:
    # ("body", "grid", "hparams.threshold") → "grid.hparams.threshold"; ("query", "limit") → "limit"
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    # Every 422 has one shape, {"detail": [{"field", "message"}]}, whoever raised it.
    @app.exception_handler(InvalidInput)
    async def invalid_input(_request: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": exc.errors}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(Conflict)
    async def conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)


def create_app(settings: Settings | None = None, *, pages: bool = True) -> FastAPI:
    """The web app: the JSON API, plus the HTML pages when ``app.pages`` is installed.

    ``pages=False`` serves the API alone (the API tests use it).
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="matchlab",
        summary="Run and compare semi-supervised image classifiers",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings)
    _install_error_handlers(app)
    app.include_router(api_router)
    if pages and importlib.util.find_spec("app.pages") is not None:
        from app import pages

        app.include_router(pages.router)
    return app
