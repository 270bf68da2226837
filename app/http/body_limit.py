"""Refuse request bodies over a size limit with 413, before they are read into memory.

A declared ``Content-Length`` over the limit is answered at once; a body without one (chunked)
is counted as it arrives and refused when it passes the limit. The error is an
``HTTPException``, so FastAPI's body and form parsing let it through as a 413 instead of turning
it into a generic 400.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large(max_bytes: int) -> list[dict[str, str]]:
    return [
        {
            "field": "body",
            "message": f"the request body is larger than {max_bytes:,} bytes, the most this "
            "server accepts (MATCHLAB_MAX_BODY_BYTES)",
        }
    ]


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, too_large(max_bytes))


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body per request."""

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths that take files (an imported run's checkpoint), with their own limit.
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            response = JSONResponse({"detail": too_large(limit)}, status.HTTP_413_CONTENT_TOO_LARGE)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
