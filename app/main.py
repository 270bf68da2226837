"""The FastAPI application factory: ``uvicorn app.main:create_app --factory``."""

from __future__ import annotations

import importlib.util
import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api import api_router
from app.body_limit import BodyLimit
from app.config import Settings, get_settings
from app.crud import Conflict, InvalidInput
from app.db import get_engine

log = logging.getLogger(__name__)


def _field(loc: tuple) -> str:
    # ("body", "grid", "hparams.threshold") → "grid.hparams.threshold"; ("query", "limit") → "limit"
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def _message(error: dict) -> str:
    if tuple(error["loc"]) == ("body",) and error["type"] in ("dict_type", "missing"):
        return "send a JSON object, with Content-Type: application/json"
    return error["msg"]


def _bad_json(errors: list[dict]) -> JSONResponse | None:
    """400 for a body that is not JSON at all (FastAPI would call it a 422 at field "0")."""
    for error in errors:
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "it does not parse")
            message = f"the body is not valid JSON ({reason}, at character {error['loc'][-1]})"
            return JSONResponse(
                {"detail": [{"field": "body", "message": message}]},
                status.HTTP_400_BAD_REQUEST,
            )
    return None


def _install_error_handlers(app: FastAPI) -> None:
    # Every 422 has one shape, {"detail": [{"field", "message"}]}, whoever raised it.
    @app.exception_handler(InvalidInput)
    async def invalid_input(_request: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": exc.errors}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        bad_json = _bad_json(list(exc.errors()))
        if bad_json is not None:
            return bad_json
        errors = [{"field": _field(e["loc"]), "message": _message(e)} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(OverflowError)
    async def overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        # An integer too large for the database (an id in a page's URL, say): the caller's fault.
        message = f"a number in the request is out of range ({exc})"
        return JSONResponse(
            {"detail": [{"field": "", "message": message}]}, status.HTTP_422_UNPROCESSABLE_CONTENT
        )

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
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    _install_error_handlers(app)
    app.include_router(api_router)
    if pages and importlib.util.find_spec("app.pages") is not None:
        from app import pages

        app.include_router(pages.router)
    return app
