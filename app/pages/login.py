"""``/login`` and ``/logout``: the page session of a server with ``MATCHLAB_API_TOKEN`` set.

Wrong tokens are throttled per client address (``MATCHLAB_LOGIN_RATE``, a moving window kept by
the ``limits`` library in this process): past the limit every attempt, right or wrong, gets 429
with ``Retry-After`` until the window has room again.
"""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings
from app.deps import FormDep, SettingsDep
from app.http.auth import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    end_session,
    new_session,
    require_page_access,
    same_secret,
)
from app.pages.render import local_path, redirect, render

router = APIRouter(include_in_schema=False)


def new_limiter() -> MovingWindowRateLimiter:
    """The app's login limiter (``app.state.login_limiter``; one per app, so one per process)."""
    return MovingWindowRateLimiter(MemoryStorage())


def _rate(settings: Settings) -> RateLimitItem:
    return parse(settings.login_rate)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _retry_after(limiter: MovingWindowRateLimiter, rate: RateLimitItem, client: str) -> int:
    """Seconds until ``client`` may try again (0: it may now)."""
    if limiter.test(rate, "login", client):
        return 0
    reset = limiter.get_window_stats(rate, "login", client).reset_time
    return max(1, math.ceil(reset - time.time()))


@router.get("/login", response_model=None)
def login_form(request: Request, settings: SettingsDep, next: str = "/") -> Response:
    if not settings.api_token:
        return redirect(local_path(next, "/"))
    return render(request, "login.html", next_url=local_path(next, "/"), error=None)


@router.post("/login", response_model=None)
def login(request: Request, form: FormDep, settings: SettingsDep) -> Response:
    target = local_path(str(form.get("next") or ""), "/")
    token = settings.api_token
    if not token:
        return redirect(target)
    limiter: MovingWindowRateLimiter = request.app.state.login_limiter
    rate, client = _rate(settings), _client(request)
    wait = _retry_after(limiter, rate, client)
    if wait:
        error = f"Too many wrong tokens from this address; try again in {wait} s."
        response = render(request, "login.html", 429, next_url=target, error=error)
        response.headers["Retry-After"] = str(wait)
        return response
    if not same_secret(str(form.get("token") or ""), token):
        limiter.hit(rate, "login", client)
        error = "That is not this server's token (MATCHLAB_API_TOKEN)."
        return render(request, "login.html", 401, next_url=target, error=error)
    response = redirect(target)
    secure = settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE,
        new_session(token),
        max_age=SESSION_SECONDS,
        httponly=True,  # page scripts never need it: the browser sends it with their requests
        samesite="lax",
        # Behind a TLS proxy the scheme is https only when uvicorn trusts the proxy's headers
        # (--proxy-headers --forwarded-allow-ips); MATCHLAB_SECURE_COOKIES=true says it outright.
        secure=request.url.scheme == "https" if secure is None else secure,
    )
    return response


@router.post("/logout", response_model=None, dependencies=[Depends(require_page_access)])
def logout(request: Request, settings: SettingsDep) -> RedirectResponse:
    if settings.api_token:
        end_session(request, settings.api_token)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response
