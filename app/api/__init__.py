"""The JSON API under /api (OpenAPI at /docs)."""

from fastapi import APIRouter, Depends

from app.api import compare, events, health, metrics, runs, sweeps, transfer
from app.http.auth import require_api_access
from app.http.errors import ERROR_RESPONSES

api_router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
# Health stays open with a token set: load balancers and compose health checks hold none.
api_router.include_router(health.router)
for module in (transfer, runs, metrics, events, sweeps, compare):
    api_router.include_router(module.router, dependencies=[Depends(require_api_access)])
