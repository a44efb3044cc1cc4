"""Grafana's read-only role (deploy/timescaledb/10-grafana-reader.sh) can run every panel
and alert query, also after `smartpole db migrate` recreated the `pole_health` view
they read, and can change nothing."""

from __future__ import annotations

import itertools
import re
from typing import Any

import psycopg
import pytest
from psycopg import sql

from storage.migrate import migrate
from tests.dashboards.seed import seed
from tests.dashboards.test_queries import CASES, run_case
from tests.deploy.launch import REPO

SCRIPT = REPO / "deploy" / "timescaledb" / "10-grafana-reader.sh"
_roles = itertools.count()


def _grant_statements(role: str, dbname: str, owner: str) -> list[sql.Composed]:
    """The script's SQL with its psql variables bound (as psql would) and its role renamed
    (roles are cluster-wide; each test gets its own)."""
    text = SCRIPT.read_text(encoding="utf-8")
    body = text.split("<<'SQL'\n", 1)[1].split("\nSQL", 1)[0]
    statements = []
    for statement in (s.strip() for s in body.split(";") if s.strip()):
        template = re.sub(r"\bgrafana_ro\b", "{role}", statement)
        template = template.replace(":'reader_password'", "{password}")
        template = template.replace(':"dbname"', "{dbname}").replace(':"owner"', "{owner}")
        assert ":" not in template.replace("::", ""), f"unbound psql variable in {statement}"
        statements.append(
            sql.SQL(template).format(  # type: ignore[arg-type]  # text from our own script
                role=sql.Identifier(role),
                password=sql.Literal("not-checked-by-trust-auth"),
                dbname=sql.Identifier(dbname),
                owner=sql.Identifier(owner),
            )
        )
    return statements


def test_reader_role_runs_every_query_after_the_view_is_recreated(database_url: str) -> None:
    role = f"grafana_ro_{next(_roles)}"
    dbname = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner_name = owner.info.user
        for statement in _grant_statements(role, dbname, owner_name):
            owner.execute(statement)
        try:
            seed(owner)
            migrate(owner, "off")  # drops and recreates pole_health
            reader_url = database_url.replace(f"//{owner_name}@", f"//{role}@")
            with psycopg.connect(reader_url, autocommit=True) as reader:
                failures = []
                for case in CASES:
                    try:
                        run_case(reader, case, timescaledb=False)
                    except psycopg.Error as exc:
                        failures.append(f"{case.label}: {exc}")
                assert not failures, "\n".join(failures)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    reader.execute("UPDATE health_thresholds SET seconds = 1")
        finally:
            owner.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            owner.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_script_grants_what_the_test_binds() -> None:
    # the test above binds these variables; a new one in the script must be bound too
    found: set[Any] = set(re.findall(r":['\"](\w+)['\"]", SCRIPT.read_text(encoding="utf-8")))
    assert found == {"reader_password", "dbname", "owner"}
