"""`smartpole db reporting-interval`: sets and clears a pole's interval."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from smartpole.cli import main


def test_reporting_interval_command(
    database_url: str, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
    assert main(["db", "reporting-interval", "UBA-1", "3600"]) == 0
    assert db.execute("SELECT pole_id, family, interval_s FROM reporting_intervals").fetchall() == [
        ("UBA-1", "env", 3600)
    ]
    assert main(["db", "reporting-interval", "UBA-1", "0"]) == 2
    assert main(["db", "reporting-interval", "UBA-1"]) == 0
    assert db.execute("SELECT count(*) FROM reporting_intervals").fetchone() == (0,)
