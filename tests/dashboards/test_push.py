"""`smartpole dashboards push` against a small local HTTP server standing in for Grafana
(Grafana itself is outside the system and cannot be installed here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from config.services import DashboardSettings
from dashboards import alerts
from dashboards.build import all_dashboards
from dashboards.cli import run_push
from dashboards.panels import FOLDER_UID
from dashboards.push import DatabaseTarget, PushError, grafana_api, push
from dashboards.sql import DATASOURCE_UID
from smartpole.cli import build_parser

TOKEN = "glsa_test_token"
DB_PASSWORD = "s3cret-for-grafana"


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class FakeGrafana:
    """Records requests; answers like Grafana for the endpoints push uses."""

    existing_datasource: bool = False
    existing_folder: bool = False
    reject_with: int | None = None
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def respond(self, method: str, path: str) -> tuple[int, Any]:
        if self.reject_with is not None:
            return self.reject_with, {"message": "invalid API key"}
        if method == "GET" and path == f"/api/datasources/uid/{DATASOURCE_UID}":
            return (
                (200, {"id": 7, "uid": DATASOURCE_UID})
                if self.existing_datasource
                else (
                    404,
                    {"message": "Data source not found"},
                )
            )
        if method == "GET" and path == f"/api/folders/{FOLDER_UID}":
            return (
                (200, {"uid": FOLDER_UID})
                if self.existing_folder
                else (
                    404,
                    {"message": "folder not found"},
                )
            )
        if (method, path) in {
            ("POST", "/api/datasources"),
            ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}"),
            ("POST", "/api/folders"),
            ("POST", "/api/dashboards/db"),
        } or (method == "PUT" and path.startswith("/api/v1/provisioning/folder/")):
            return 200, {"status": "success"}
        return 404, {"message": "not found"}


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fake.requests.append(
                Recorded(
                    self.command,
                    self.path,
                    self.headers.get("Authorization"),
                    json.loads(raw) if raw else None,
                )
            )
            status, body = fake.respond(self.command, self.path)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        # http.server dispatches on these names
        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _target() -> DatabaseTarget:
    return DatabaseTarget.parse(
        "postgresql://grafana_ro@db.internal:5433/smartpole?sslmode=verify-full", DB_PASSWORD, None
    )


def test_push_creates_datasource_folder_dashboards_and_rules(grafana: FakeGrafana) -> None:
    report = push(grafana_api(grafana.url, TOKEN), _target())

    assert all(r.authorization == f"Bearer {TOKEN}" for r in grafana.requests)
    calls = [(r.method, r.path) for r in grafana.requests]
    assert calls[:4] == [
        ("GET", f"/api/datasources/uid/{DATASOURCE_UID}"),
        ("POST", "/api/datasources"),
        ("GET", f"/api/folders/{FOLDER_UID}"),
        ("POST", "/api/folders"),
    ]
    datasource = grafana.requests[1].body
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["url"] == "db.internal:5433"
    assert datasource["user"] == "grafana_ro"
    assert datasource["jsonData"]["database"] == "smartpole"
    assert datasource["jsonData"]["sslmode"] == "verify-full"
    assert datasource["jsonData"]["timescaledb"] is True
    assert datasource["secureJsonData"] == {"password": DB_PASSWORD}
    assert grafana.requests[3].body == {"title": "Smartpole", "uid": FOLDER_UID}

    uploads = [r.body for r in grafana.requests if r.path == "/api/dashboards/db"]
    boards = all_dashboards()
    assert [u["dashboard"]["uid"] for u in uploads] == [b["uid"] for b in boards.values()]
    for upload in uploads:
        assert upload["overwrite"] is True
        assert upload["folderUid"] == FOLDER_UID
        assert upload["dashboard"]["id"] is None
    assert uploads[0]["dashboard"]["panels"] == next(iter(boards.values()))["panels"]

    rule_puts = [r for r in grafana.requests if r.path.startswith("/api/v1/provisioning/")]
    assert [r.path for r in rule_puts] == [
        f"/api/v1/provisioning/folder/{FOLDER_UID}/rule-groups/{group}" for group in alerts.groups()
    ]
    pushed_rules = [rule for r in rule_puts for rule in r.body["rules"]]
    assert {r["uid"] for r in pushed_rules} == {r.uid for r in alerts.RULES}
    assert all(r["folderUID"] == FOLDER_UID for r in pushed_rules)
    assert report.datasource == "created" and report.folder == "created"
    assert len(report.dashboards) == len(boards)


def test_push_updates_what_exists(grafana: FakeGrafana) -> None:
    grafana.existing_datasource = grafana.existing_folder = True
    report = push(grafana_api(grafana.url, TOKEN), _target(), timescaledb=False)
    calls = [(r.method, r.path) for r in grafana.requests]
    assert ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}") in calls
    assert ("POST", "/api/datasources") not in calls
    assert ("POST", "/api/folders") not in calls
    update = next(r for r in grafana.requests if r.method == "PUT" and "datasources" in r.path)
    assert update.body["jsonData"]["timescaledb"] is False
    assert (report.datasource, report.folder) == ("updated", "exists")


def test_cli_push_reports_a_refusal_without_leaking_the_password(
    grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    grafana.reject_with = 401
    args = build_parser().parse_args(
        [
            "dashboards",
            "push",
            "--url",
            grafana.url,
            "--token",
            "wrong",
            "--datasource-url",
            "postgresql://grafana_ro@db:5432/smartpole",
        ]
    )
    settings = DashboardSettings(grafana_db_password=DB_PASSWORD)  # type: ignore[arg-type]
    assert run_push(args, settings) == 1
    err = capsys.readouterr().err
    assert "Unauthorized" in err
    assert DB_PASSWORD not in err
    assert len(grafana.requests) == 1


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("ftp://grafana", TOKEN),
        ("grafana:3000", TOKEN),
        ("http://admin:admin@grafana:3000", TOKEN),
        ("http://grafana:3000", ""),
        ("http://grafana:3000", "abc\r\nX-Injected: 1"),
    ],
)
def test_hostile_grafana_targets_are_refused(url: str, token: str) -> None:
    with pytest.raises(PushError):
        grafana_api(url, token)


@pytest.mark.parametrize(
    ("url", "password", "sslmode"),
    [
        ("mysql://u@h/db", "pw", None),
        ("postgresql://h/db", "pw", None),  # no user
        ("postgresql://u@h/", "pw", None),  # no database
        ("postgresql://u@h:99999/db", "pw", None),
        ("postgresql://u@h/db", None, None),  # no password anywhere
        ("postgresql://u@h/db", "pw", "allow-anything"),
    ],
)
def test_hostile_datasource_urls_are_refused(
    url: str, password: str | None, sslmode: str | None
) -> None:
    with pytest.raises(PushError):
        DatabaseTarget.parse(url, password, sslmode)
