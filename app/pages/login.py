"""``/login`` and ``/logout``: the page session of a server with ``MATCHLAB_API_TOKEN`` set."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from app.deps import SettingsDep
from app.http.auth import SESSION_COOKIE, SESSION_SECONDS, new_session, require_page_access
from app.pages.render import local_path, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/login", response_model=None)
def login_form(request: Request, settings: SettingsDep, next: str = "/") -> Response:
    if not settings.api_token:
        return redirect(local_path(next, "/"))
    return render(request, "login.html", next_url=local_path(next, "/"), error=None)


@router.post("/login", response_model=None)
async def login(request: Request, settings: SettingsDep) -> Response:
    form = await request.form()
    target = local_path(str(form.get("next") or ""), "/")
    token = settings.api_token
    if not token:
        return redirect(target)
    given = str(form.get("token") or "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        error = "That is not this server's token (MATCHLAB_API_TOKEN)."
        return render(request, "login.html", 401, next_url=target, error=error)
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        new_session(token),
        max_age=SESSION_SECONDS,
        httponly=True,  # page scripts never need it: the browser sends it with their requests
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", response_model=None, dependencies=[Depends(require_page_access)])
def logout() -> RedirectResponse:
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response
