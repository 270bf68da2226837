"""Who may do what when ``MATCHLAB_API_TOKEN`` is set (nothing here applies when it is not).

- The JSON API: every call needs ``Authorization: Bearer <token>``. Reads also accept a page
  login (the pages' live updates and charts read /api with the browser's cookie), and need
  nothing at all with ``MATCHLAB_PUBLIC_READS=true``. Changes through the API take the bearer
  token only, so a cookie can never change state behind a page's back (no CSRF on /api).
- The pages: a login with the token gives a session cookie, signed with a key derived from the
  token (changing the token logs everyone out). Every HTML form carries a CSRF token derived
  from the session, checked on POST. ``/login``, ``/static`` and ``/api/health`` stay open.
- Without a token, a page POST is still refused when the browser says it came from another
  site (its ``Origin`` header names another host): a page elsewhere cannot start runs here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from contextvars import ContextVar
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request, status
from markupsafe import Markup

from app.config import Settings
from app.store.params import is_whole_number

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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
    if not hmac.compare_digest(signature, _sign(token, f"{issued}.{nonce}")):
        return None
    if time.time() - int(issued) > SESSION_SECONDS:
        return None
    return nonce


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


def _bearer_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def require_api_access(request: Request) -> None:
    """Dependency of every /api route but /api/health."""
    settings = _settings(request)
    token = settings.api_token
    if not token or _bearer_ok(request, token):
        return
    if request.method not in WRITE_METHODS:
        if settings.public_reads or session_nonce(token, request.cookies.get(SESSION_COOKIE)):
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


def _other_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:
        return False  # not a browser form (a script), or a browser that sends none
    # Behind a proxy the Host may be the upstream address; the proxy says what the browser used.
    ours = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")}
    return urlsplit(origin).netloc not in ours


async def require_page_access(request: Request) -> None:
    """Dependency of every HTML page: the login, and the CSRF token on every form POST."""
    settings = _settings(request)
    token = settings.api_token
    writing = request.method in WRITE_METHODS
    if not token:
        # No login, so no CSRF token to check: refuse at least what a browser says came from
        # a page on another site.
        if writing and _other_site(request):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a form from another site was refused")
        return
    if request.url.path.startswith("/static/"):
        return  # scripts and styles hold nothing private, and the login page needs them
    nonce = session_nonce(token, request.cookies.get(SESSION_COOKIE))
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
        if not isinstance(given, str) or not hmac.compare_digest(given, expected):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "the form's CSRF token is missing or stale; reload the page and try again",
            )
    _page_csrf.set(expected)
