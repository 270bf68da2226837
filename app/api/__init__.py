"""The JSON API under /api (OpenAPI at /docs)."""

from fastapi import APIRouter, Depends

from app.api import compare, events, health, metrics, runs, sweeps
from app.api.deps import require_token
from app.errors import ERROR_RESPONSES

api_router = APIRouter(
    prefix="/api", dependencies=[Depends(require_token)], responses=ERROR_RESPONSES
)
for module in (runs, metrics, events, sweeps, compare, health):
    api_router.include_router(module.router)
