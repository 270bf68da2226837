"""The FastAPI application factory: ``uvicorn app.main:create_app --factory``."""

from __future__ import annotations

import logging

import anyio
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from app.api import api_router
from app.config import Settings, get_settings
from app.http import auth
from app.http.body_limit import BodyLimit
from app.http.errors import install_error_handlers, install_openapi
from app.http.guard import SiteGuard, allowed_hosts, trusted_proxies
from app.live.streams import StreamCaps
from app.store.waits import DB_REQUESTS, web_engine

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, pages: bool = True) -> FastAPI:
    """The web app: the JSON API, plus the HTML pages (``app.pages``).

    ``pages=False`` serves the API alone (the API tests use it).
    """
    settings = settings or get_settings()
    # Swagger UI and ReDoc from the installed fastapi-offline package: /docs works offline.
    app = FastAPIOffline(
        title="matchlab",
        summary="Run and compare semi-supervised image classifiers",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.engine = web_engine(settings)
    app.router.add_event_handler("shutdown", app.state.engine.dispose)
    # Requests that need the database take a place here before they take a thread: a stalled
    # database then holds at most this many threads, never the ones static files and pages
    # without data run on (app.deps.get_session).
    app.state.db_places = anyio.CapacityLimiter(DB_REQUESTS)
    app.state.streams = StreamCaps(settings.max_streams, settings.max_streams_per_client)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        uploads={"/api/runs/import": settings.max_import_bytes},
    )
    app.add_middleware(auth.DocsGate)
    # Outermost: a request for another host or from another site goes no further.
    app.add_middleware(
        SiteGuard,
        hosts=allowed_hosts(settings.allowed_hosts, settings.bind_host),
        proxies=trusted_proxies(settings.trusted_proxies),
    )
    install_error_handlers(app)
    install_openapi(app)

    app.include_router(api_router)
    if pages:
        from app.pages import login_router
        from app.pages import router as pages_router
        from app.pages.login import new_limiter
        from app.pages.render import templates

        templates.env.globals.update(csrf_field=auth.csrf_field, logged_in=auth.logged_in)
        app.state.login_limiter = new_limiter()
        app.include_router(login_router)
        app.include_router(pages_router, dependencies=[Depends(auth.require_page_access)])
    return app
