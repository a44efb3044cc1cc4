"""The quarantine's admin endpoints: the CLI's list, show, replay and purge, behind
the admin key, with precise refusals of hostile parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from models.topics import Family, PoleTopic
from models.wire import Rejection, RejectionKind
from storage.writer import ReadingWriter, ReceivedRejection
from tests.api.conftest import ADMIN_KEY, problem

KEY = {"X-API-Key": ADMIN_KEY}
NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = "smartpole/v1/poles/Q1/env"


def quarantine_rows(database_url: str) -> None:
    """A reading refused by an older rule that today's accepts, one still invalid,
    and an oversized payload's first 4 KiB."""
    good = orjson.dumps({"dateObserved": NOW.isoformat(), "pm10": 7})
    bad = orjson.dumps({"dateObserved": NOW.isoformat(), "pm10": -1})
    topic = PoleTopic("Q1", Family.ENV)
    with psycopg.connect(database_url) as conn:
        ReadingWriter(conn).write_batch(
            [],
            [
                ReceivedRejection(TOPIC, topic, Rejection("pm10: old rule", good), NOW),
                ReceivedRejection(TOPIC, topic, Rejection("pm10: old rule", bad), NOW),
                ReceivedRejection(TOPIC, topic, Rejection(
                    "payload too large", b"x" * 4096, None, RejectionKind.TOO_LARGE, True
                ), NOW),
            ],
        )  # fmt: skip


def test_list_show_replay_purge(
    client: httpx.Client, database_url: str, db: psycopg.Connection[Any]
) -> None:
    quarantine_rows(database_url)
    page = client.get("/v1/admin/quarantine", headers=KEY, params={"limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert {k["reason_kind"]: k["rows"] for k in body["summary"]} == {
        "invalid_reading": 2,
        "too_large": 1,
    }
    assert len(body["items"]) == 2 and body["next"]
    rest = client.get(body["next"], headers=KEY).json()
    assert [i["replayable"] for i in rest["items"]] == [False]
    one = client.get(f"/v1/admin/quarantine/{rest['items'][0]['id']}", headers=KEY).json()
    assert one["payload"] == "x" * 4096 and len(one["payload_sha256"]) == 64

    dry = client.post("/v1/admin/quarantine:replay", headers=KEY, params={"dry_run": "true"})
    assert dry.json()["stored"] == 1 and dry.json()["not_replayable"] == 1
    assert db.execute("SELECT count(*) FROM env_readings").fetchone() == (0,)
    done = client.post(
        "/v1/admin/quarantine:replay", headers=KEY, params={"reason": "invalid_reading"}
    ).json()
    assert (done["resolved"], done["stored"], done["still_quarantined"]) == (1, 1, 1)
    assert db.execute("SELECT count(*) FROM env_readings").fetchone() == (1,)
    again = client.post("/v1/admin/quarantine:replay", headers=KEY).json()
    assert (again["stored"], again["reason_changed"]) == (0, 0)

    problem(client.post("/v1/admin/quarantine:purge", headers=KEY), 422)
    gone = client.post("/v1/admin/quarantine:purge", headers=KEY, params={"reason": "too_large"})
    assert gone.json() == {"dry_run": False, "deleted": 1}
    assert db.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)


def test_the_key_is_required(client: httpx.Client) -> None:
    problem(client.get("/v1/admin/quarantine"), 401)
    problem(client.post("/v1/admin/quarantine:replay", headers={"X-API-Key": "wrong"}), 403)
    problem(client.post("/v1/admin/quarantine:purge", params={"all": "true"}), 401)


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("GET", "/v1/admin/quarantine/99999999999999999999999", {}, 422),
        ("GET", "/v1/admin/quarantine/9223372036854775808", {}, 422),
        ("GET", "/v1/admin/quarantine/9223372036854775807", {}, 404),
        ("GET", "/v1/admin/quarantine/0", {}, 422),
        ("GET", "/v1/admin/quarantine/-3", {}, 422),
        ("GET", "/v1/admin/quarantine", {"reason": "pm10: unknown field"}, 422),
        ("GET", "/v1/admin/quarantine", {"since": "yesterday"}, 422),
        ("GET", "/v1/admin/quarantine", {"since": "0001-01-01T00:00:00Z"}, 422),
        ("GET", "/v1/admin/quarantine", {"pole_id": "A\x1b[2J"}, 422),
        ("GET", "/v1/admin/quarantine", {"cursor": "not-a-cursor"}, 422),
        ("POST", "/v1/admin/quarantine:replay", {"since": "2026-13-01"}, 422),
        ("POST", "/v1/admin/quarantine:replay", {"reason": "TOPIC"}, 422),
        ("POST", "/v1/admin/quarantine:purge", {"until": "9999999999999999"}, 422),
    ],
)
def test_hostile_parameters_are_refused_precisely(
    client: httpx.Client, method: str, path: str, params: dict[str, str], status: int
) -> None:
    problem(client.request(method, path, params=params, headers=KEY), status)
