"""schemathesis over the published OpenAPI schema of the ingest API: generated requests
(bounded: a few dozen per operation, well under a minute) get no 5xx, and every answer
conforms to the schema (status codes, content types, headers, bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.checks as oa
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from saferoad.adapters.sql import open_store
from saferoad.application.web import add_device
from saferoad.config import load_config
from saferoad.entrypoints.web import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TOKEN: dict[str, str] = {}
CHECKS = [
    checks.not_a_server_error,
    oa.status_code_conformance,
    oa.content_type_conformance,
    oa.response_headers_conformance,
    oa.response_schema_conformance,
]
"""No 5xx, and every answer as the schema says. Not positive_data_acceptance: what the schema
cannot say (an IANA time zone, an event type inside a free-form events.jsonl record, a start
before the end) is refused with 422 as ``saferoad ingest`` refuses it."""


@schemathesis.serializer("application/offset+octet-stream")
def _octets(ctx: Any, value: Any) -> bytes:
    """Clip chunks are raw bytes (format: binary)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    data = getattr(value, "data", None)
    if isinstance(data, bytes):
        return data
    return str(value).encode()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("schema")
    cfg = load_config(overrides={"web": {"media_dir": str(tmp / "media"), "max_clip_bytes": 4096}})
    store = open_store(f"sqlite:///{tmp / 'api.db'}")
    TOKEN["value"] = add_device(store, "tokyo-taxi", "SR-1")
    app = create_app(store, cfg)
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app)
    store.close()


def test_no_server_error_and_schema_conformance(api_schema: Any) -> None:
    """Every operation of the schema, each with its own bounded Hypothesis run (the pytest
    plugin's from_fixture does not run under this pytest, so operations are driven here)."""
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) == 6  # health, PUT trip, PUT trip summary, PUT event, HEAD and PATCH clip
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def run(case: Any) -> None:
            headers = dict(case.headers or {})
            headers["Authorization"] = f"Bearer {TOKEN['value']}"
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
