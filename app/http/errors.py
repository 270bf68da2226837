"""Error responses: one shape for each kind, handlers that produce it, and OpenAPI that says so.

- 422 (invalid input), 400 (not JSON), 413 (body too large):
  ``{"detail": [{"field": "hparams.threshold", "message": "..."}]}``
- 401, 403, 404, 409: ``{"detail": "a sentence"}``
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.store.crud import Conflict, InvalidInput, NotFound
from app.store.errors import storage_problem
from app.store.waits import DatabaseBusy, database_problem


class FieldError(BaseModel):
    field: str
    message: str


class FieldErrors(BaseModel):
    detail: list[FieldError]


class Problem(BaseModel):
    detail: str


# Every /api operation may answer these (status_code_conformance in the API fuzz test).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": FieldErrors, "description": "the body is not JSON"},
    401: {"model": Problem, "description": "MATCHLAB_API_TOKEN is set and none was given"},
    404: {"model": Problem, "description": "no such run or sweep"},
    409: {"model": Problem, "description": "not possible in the run's current status"},
    413: {"model": FieldErrors, "description": "the body is over MATCHLAB_MAX_BODY_BYTES"},
    503: {
        "model": Problem,
        "description": "the store (database or MATCHLAB_HOME) is read-only, or the database "
        "is busy or unreachable (with Retry-After)",
    },
    507: {"model": Problem, "description": "the disk holding the store is full"},
}


def store_refusal(exc: BaseException) -> JSONResponse | None:
    """507 for a full disk, 503 for a read-only store, with what to do; None for anything else."""
    problem = storage_problem(exc)
    if problem is None:
        return None
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if problem == "disk full":
        return JSONResponse(
            {"detail": f"disk full: the store could not be written ({first}); nothing was "
             "changed. Free space (delete old runs or their checkpoints) and try again"},
            status.HTTP_507_INSUFFICIENT_STORAGE,
        )  # fmt: skip
    return JSONResponse(
        {"detail": f"read-only: the store cannot be written ({first}); nothing was changed. "
         "Check the database and MATCHLAB_HOME permissions or mounts"},
        status.HTTP_503_SERVICE_UNAVAILABLE,
    )  # fmt: skip


def database_refusal(request: Request, exc: BaseException) -> JSONResponse | None:
    """503 with Retry-After when the database is busy (a lock or statement timeout, no free
    connection) or unreachable; None for any other error."""
    problem = database_problem(exc)
    if problem is None:
        return None
    seconds = request.app.state.settings.database_timeout_seconds
    if problem == "busy":
        detail = (
            f"the database is busy: it did not answer within {seconds:g} s (a long "
            "transaction or lock may hold it); nothing was changed, try again shortly"
        )
    else:
        detail = "the database cannot be reached; nothing was changed, try again shortly"
    retry = str(max(1, round(min(seconds, 30))))
    return JSONResponse(
        {"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": retry}
    )  # fmt: skip


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


def install_error_handlers(app: FastAPI) -> None:
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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's words for a body json.loads cannot even start on (not UTF-8, nested
            # thousands deep): give it the 400 shape and say what would work.
            message = "the body could not be read as JSON; send UTF-8 JSON nested a few levels"
            return JSONResponse(
                {"detail": [{"field": "body", "message": message}]}, status.HTTP_400_BAD_REQUEST
            )
        return await http_exception_handler(request, exc)

    async def unwritable(request: Request, exc: Exception) -> Response:
        refusal = database_refusal(request, exc) or store_refusal(exc)
        if refusal is None:
            raise exc  # any other failure stays a 500, logged with its traceback
        return refusal

    app.add_exception_handler(SQLAlchemyError, unwritable)
    app.add_exception_handler(OSError, unwritable)
    app.add_exception_handler(DatabaseBusy, unwritable)

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(Conflict)
    async def conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)


def install_openapi(app: FastAPI) -> None:
    """FastAPI documents its own 422 shape ({loc, msg, type}); matchlab's is {field, message}."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["ValidationError"] = FieldError.model_json_schema()
            components["HTTPValidationError"] = {
                "title": "HTTPValidationError",
                "type": "object",
                "required": ["detail"],
                "properties": {
                    "detail": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/ValidationError"},
                    }
                },
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
