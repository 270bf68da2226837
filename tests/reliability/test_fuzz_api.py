"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis).

Every operation gets requests generated from its schema, valid ones and ones that break it: no
answer may be a 5xx, every status must be documented, and every body must match its schema.
The app runs in-process on a real SQLite file and Redis; the number of examples is fixed and
the search derandomised, so the test takes seconds and finds the same things every time.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.main import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 50  # per operation and mode: 13 operations × 2 modes × up to 50 requests


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_answers_every_generated_request_within_its_schema(
    settings: Settings, mode: GenerationMode
):
    app = create_app(settings, pages=False)
    # The event stream of a queued run never ends by design: it is tested in tests/app.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex="/events$")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_within_schema(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            answers_within_schema()
        except Unsatisfiable:
            # Nothing to break (GET /api/health takes no input): no negative case exists.
            assert mode == GenerationMode.NEGATIVE and operation.path == "/api/health"
