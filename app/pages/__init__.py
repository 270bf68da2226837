"""HTML pages: Jinja2 templates filled from the store, Plotly figures built on the server.

Pages read and change the database through ``app.domain`` and ``app.store`` (the functions the
JSON API calls), never through ``app.api`` or HTTP; ``tests/app/test_layout.py`` enforces it.
- ``runs``: the runs table, a run's live page, static files; ``run_actions``: what its buttons do
  (``run_resume``: its Resume button)
- ``forms``: the new-run and new-sweep forms (``form_state`` turns form fields into specs)
- ``compare``: the compare page and its CSV; ``sweeps``: a sweep's results and actions
- ``login``: the token login; ``render``: the Jinja2 environment; ``figures``, ``sweep_figures``:
  rows → Plotly figure JSON
"""

from fastapi import APIRouter

from app.pages import compare, forms, login, run_actions, run_resume, runs, sweeps

router = APIRouter(include_in_schema=False)
# Forms first: /runs/new and /sweeps/new must win over /runs/{run_id} and /sweeps/{sweep_id}.
router.include_router(forms.router)
router.include_router(compare.router)
router.include_router(sweeps.router)
router.include_router(runs.router)
router.include_router(run_actions.router)
router.include_router(run_resume.router)
login_router = login.router

__all__ = ["login_router", "router"]
