"""Property-based run of the OpenAPI spec (schemathesis) against a live server:
valid and invalid inputs for every operation, and never a 5xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from config.services import ApiSettings
from models.topics import Family
from tests.api.conftest import ADMIN_KEY, Put, register_pole, run_api

EXAMPLES_PER_MODE = 25


def send(http: httpx.Client, case: Any, base_url: str, *, real_key: bool) -> httpx.Response:
    """Send a generated case with httpx (schemathesis' own requests transport is
    avoided: it breaks when urllib3-future shadows urllib3)."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    headers = dict(kwargs.get("headers") or {})
    if real_key and "X-API-Key" in headers:
        # Valid requests carry the real key, so their bodies reach the database.
        headers["X-API-Key"] = ADMIN_KEY
    request = http.build_request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        cookies=kwargs.get("cookies"),
        json=kwargs.get("json"),
        content=kwargs.get("data"),
    )
    response = http.send(request, stream=True)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        # A live stream never ends: its status and headers are the answer.
        response.close()
    else:
        response.read()
    return response


def run_operation(
    operation: Any, mode: GenerationMode, http: httpx.Client, base_url: str
) -> list[str]:
    """Up to EXAMPLES_PER_MODE generated requests; the ones answered with a 5xx."""
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def no_server_error(case: Any) -> None:
        response = send(http, case, base_url, real_key=mode is GenerationMode.POSITIVE)
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} query={case.query} "
                f"-> {response.status_code} {response.text[:200]}"
            )

    try:
        no_server_error()
    except Unsatisfiable:
        # Nothing can be invalid about an operation without inputs (/health).
        assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


def test_no_input_produces_a_server_error(
    api_settings: ApiSettings, put: Put, db: psycopg.Connection[Any]
) -> None:
    # Real data behind the example ids, so generated requests reach the queries.
    register_pole(
        db,
        "CR-0001",
        district="Mitte",
        lat=52.52,
        lon=13.40,
        capabilities=("env", "ev", "light", "wifi"),
    )
    t0 = datetime.now(UTC) - timedelta(hours=3)
    put(
        "CR-0001",
        Family.ENV,
        [
            {
                "dateObserved": (t0 + timedelta(minutes=10 * m)).isoformat(),
                "pm10": 20.0,
                "LAeq": 60.0,
            }
            for m in range(12)
        ],
    )
    put(
        "CR-0001",
        Family.EV,
        {"dateObserved": t0.isoformat(), "status": "Available", "totalActiveEnergyImport": 5.0},
        connector=1,
    )
    with run_api(api_settings) as running, httpx.Client(timeout=30) as http:
        schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += run_operation(operation, mode, http, running.url)
        assert failures == []
