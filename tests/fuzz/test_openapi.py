"""Schemathesis against the OpenAPI document a real `keystroke serve` serves, without keys and with keys.

Every operation gets generated requests, valid by its schema and invalid by it; every answer must be below 500
and carry a status the document lists, with the content type, headers and body schema it documents. The one
check left out is "schema-valid data must be accepted": the gateway refuses, on purpose, some requests the
schema cannot describe (`retained` above `chars` in an event, a prefix over the configured byte limit, an
unknown tenant). `KEYSTROKE_FUZZ_EXAMPLES` sets the examples per operation and mode (default 15).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import Gateway
from tests.fuzz.conftest import TALLY, KeyedGateway

pytestmark = [pytest.mark.model, pytest.mark.slow]

EXAMPLES = int(os.environ.get("KEYSTROKE_FUZZ_EXAMPLES", "15"))
OPERATIONS = [
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/v1/audit"),
    ("POST", "/v1/completions"),
    ("GET", "/v1/dashboard"),
    ("POST", "/v1/events"),
    ("GET", "/v1/models"),
    ("GET", "/v1/policy"),
    ("GET", "/v1/telemetry"),
    ("GET", "/v1/usage"),
    ("POST", "/infill"),
]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def _schema(url: str) -> Any:
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


def _fuzz(url: str, operation: tuple[str, str], mode: GenerationMode, callers: dict[str, dict[str, str]]) -> None:
    """Send EXAMPLES generated requests to one operation, once per caller (name -> headers)."""
    method, path = operation
    strategy = _schema(url)[path][method].as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        for name, headers in callers.items():
            response = case.call(base_url=url, headers=headers or None, timeout=120)
            TALLY.setdefault(name, Counter())[response.status_code] += 1
            assert response.status_code < 500, f"{method} {path} ({name}): {response.status_code} {response.text[:300]}"
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

    try:
        check()
    except Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:
            raise
        pytest.skip(f"{method} {path} takes no parameters or body to make invalid")


def test_the_list_covers_every_operation_of_the_document(keyless_gateway: Gateway) -> None:
    served = {(op.ok().method.upper(), op.ok().path) for op in _schema(keyless_gateway.url).get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("operation", OPERATIONS, ids=" ".join)
def test_keyless_gateway_never_answers_5xx_and_keeps_its_document(
    keyless_gateway: Gateway, operation: tuple[str, str], mode: GenerationMode
) -> None:
    _fuzz(keyless_gateway.url, operation, mode, {"keyless": {}})


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("operation", OPERATIONS, ids=" ".join)
def test_gateway_with_keys_never_answers_5xx_and_keeps_its_document(
    keyed_gateway: KeyedGateway, operation: tuple[str, str], mode: GenerationMode
) -> None:
    callers = {
        "keys: none": {},
        "keys: tenant": {"Authorization": f"Bearer {keyed_gateway.key}"},
        "keys: admin": {"Authorization": f"Bearer {keyed_gateway.admin_key}"},
    }
    _fuzz(keyed_gateway.gateway.url, operation, mode, callers)
