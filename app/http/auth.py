"""Who may do what when ``MATCHLAB_API_TOKEN`` is set (nothing here applies when it is not).

- The JSON API: every call needs ``Authorization: Bearer <token>``. Reads also accept a page
  login (the pages' live updates and charts read /api with the browser's cookie), and need
  nothing at all with ``MATCHLAB_PUBLIC_READS=true``. Changes through the API take the bearer
  token only, so a cookie can never change state behind a page's back (no CSRF on /api).
- The pages: a login with the token gives a session cookie, signed with a key derived from the
  token (changing the token logs everyone out). Every HTML form carries a CSRF token derived
  from the session, checked on POST. ``/logout`` ends the session on the server (its nonce is
  stored in ``ended_sessions``): the old cookie and CSRF token stop working at once.
- ``/login``, ``/static`` and a minimal ``/api/health`` stay open; ``/docs``, ``/redoc`` and
  ``/openapi.json`` need the token or a login.
- Token or not, ``app.http.guard`` refuses other hosts and state changes from other sites.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from contextvars import ContextVar
from datetime import timedelta
from urllib.parse import quote

from fastapi import HTTPException, Request, status
from markupsafe import Markup
from sqlalchemy import delete
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.http.guard import WRITE_METHODS
from app.http.params import is_whole_number
from app.store.models import EndedSession, utcnow

DOCS_PATHS = frozenset({"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"})
SESSION_COOKIE = "matchlab_session"
SESSION_SECONDS = 7 * 24 * 3600
CSRF_FIELD = "csrf_token"

# The CSRF token of the page being rendered, for csrf_field() in the templates (macros included).
_page_csrf: ContextVar[str] = ContextVar("matchlab_page_csrf", default="")


def _key(token: str) -> bytes:
    return hmac.new(token.encode(), b"matchlab session signing key", hashlib.sha256).digest()


def _sign(token: str, text: str) -> str:
    return hmac.new(_key(token), text.encode(), hashlib.sha256).hexdigest()


def new_session(token: str) -> str:
    """A cookie value: ``issued.nonce.signature``."""
    payload = f"{int(time.time())}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_sign(token, payload)}"


def session_nonce(token: str, cookie: str | None) -> str | None:
    """The session's nonce when ``cookie`` is a session this token signed, not expired."""
    issued, _, rest = (cookie or "").partition(".")
    nonce, _, signature = rest.partition(".")
    if not (is_whole_number(issued) and nonce and signature):
        return None
    if not same_secret(signature, _sign(token, f"{issued}.{nonce}")):
        return None
    if time.time() - int(issued) > SESSION_SECONDS:
        return None
    return nonce


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of text from a request (bytes: ``compare_digest`` raises on
    non-ASCII text)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _ended(request: Request, nonce: str) -> bool:
    with Session(request.app.state.engine) as session:
        return session.get(EndedSession, nonce) is not None


def live_session(request: Request, token: str) -> str | None:
    """The nonce of the request's page login: signed by ``token``, not expired, not logged out.
    Reads the database: call it from a thread (sync routes and dependencies are)."""
    nonce = session_nonce(token, request.cookies.get(SESSION_COOKIE))
    if nonce is None or _ended(request, nonce):
        return None
    return nonce


def end_session(request: Request, token: str) -> None:
    """Log the request's session out for good (and forget sessions too old to matter)."""
    nonce = session_nonce(token, request.cookies.get(SESSION_COOKIE))
    if nonce is None:
        return
    with Session(request.app.state.engine) as session:
        cutoff = utcnow() - timedelta(seconds=SESSION_SECONDS)
        session.exec(delete(EndedSession).where(EndedSession.ended_at < cutoff))
        if session.get(EndedSession, nonce) is None:
            session.add(EndedSession(nonce=nonce))
        session.commit()


def csrf_token(token: str, nonce: str) -> str:
    return _sign(token, f"csrf:{nonce}")


def csrf_field() -> Markup:
    """The hidden form field for the page being rendered ('' when no token is set)."""
    value = _page_csrf.get()
    if not value:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, value)


def logged_in() -> bool:
    return bool(_page_csrf.get())


def bearer_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and same_secret(given, token)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def require_api_access(request: Request) -> None:
    """Dependency of every /api route but /api/health."""
    settings = _settings(request)
    token = settings.api_token
    if not token or bearer_ok(request, token):
        return
    if request.method not in WRITE_METHODS:
        if settings.public_reads or live_session(request, token):
            return
        message = (
            "this server needs 'Authorization: Bearer <MATCHLAB_API_TOKEN>' (or a login at "
            "/login) to read"
        )
    else:
        message = "this server needs 'Authorization: Bearer <MATCHLAB_API_TOKEN>' for changes"
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


def require_docs_access(request: Request) -> None:
    """``/docs``, ``/redoc`` and ``/openapi.json`` show every route and model: with a token set
    they need it (a bearer token or a page login), public reads or not."""
    token = _settings(request).api_token
    if token and not (bearer_ok(request, token) or live_session(request, token)):
        raise HTTPException(
            status.HTTP_303_SEE_OTHER,
            headers={"Location": f"/login?next={quote(request.url.path)}"},
        )


async def require_page_access(request: Request) -> None:
    """Dependency of every HTML page: the login, and the CSRF token on every form POST."""
    settings = _settings(request)
    token = settings.api_token
    writing = request.method in WRITE_METHODS
    if not token:
        return  # no login, so no CSRF token (app.http.guard refuses other sites' requests)
    if request.url.path.startswith("/static/"):
        return  # scripts and styles hold nothing private, and the login page needs them
    nonce = await run_in_threadpool(live_session, request, token)
    if nonce is None and (writing or not settings.public_reads):
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if writing:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "log in at /login first")
        raise HTTPException(
            status.HTTP_303_SEE_OTHER, headers={"Location": f"/login?next={target}"}
        )
    expected = csrf_token(token, nonce) if nonce else ""
    if writing:
        form = await request.form()  # Starlette keeps it: the route reads the same form
        given = form.get(CSRF_FIELD)
        if not isinstance(given, str) or not same_secret(given, expected):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "the form's CSRF token is missing or stale; reload the page and try again",
            )
    _page_csrf.set(expected)


class DocsGate:
    """ASGI middleware: ``require_docs_access`` before the docs routes FastAPI adds itself
    (they take no dependencies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in DOCS_PATHS:
            request = Request(scope)
            if _settings(request).api_token:
                try:
                    await run_in_threadpool(require_docs_access, request)
                except HTTPException as refused:
                    response = Response(status_code=refused.status_code, headers=refused.headers)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
