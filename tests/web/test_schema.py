"""Schemathesis on the server's own OpenAPI schema: no 500s, every error in OpenAI's shape,
responses as documented. Kept fast: a few examples per operation, the tiny twin."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

EXAMPLES = 12


def check(case) -> None:
    if case.method == "POST" and case.path == "/api/jobs":
        case.body = {"dataset": "nobody"}  # a real training job is not what is fuzzed here
    response = case.call(headers={"host": "127.0.0.1"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}, body


def test_no_500s_and_openai_shaped_errors(twin_dir, tmp_path):
    from tweettwin.web.app import Limits, create_app

    app = create_app([twin_dir], workspace=tmp_path / "ws", limits=Limits(max_upload=4096))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"host": "127.0.0.1"})
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/v1/models",
        "/v1/completions",
        "/v1/chat/completions",
    }
    # valid requests (answers as documented) and invalid ones (OpenAI-shaped 4xx, never a 500)
    for op, mode in [(op, mode) for op in operations for mode in GenerationMode]:
        run = given(case=op.as_strategy(mode))(check)
        run = settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )(run)
        try:
            run()
        except Unsatisfiable:  # nothing invalid to send to an operation without inputs
            assert mode == GenerationMode.NEGATIVE, op.path
