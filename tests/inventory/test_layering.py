"""The inventory sits between storage and the services: it imports storage,
config and models, never api, ingest, simulators, dashboards or the CLI; and
storage never imports it. No SQL outside storage."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.test_layering import SQL

REPO = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"^\s*(?:from|import)\s+(\w+)", re.MULTILINE)


def _imported(package: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(REPO)): set(IMPORT.findall(path.read_text(encoding="utf-8")))
        for path in sorted((REPO / package).rglob("*.py"))
    }


def test_inventory_imports_only_what_lies_below_it() -> None:
    upward = {"api", "ingest", "simulators", "dashboards", "smartpole"}
    offenders = {f: sorted(m & upward) for f, m in _imported("inventory").items() if m & upward}
    assert offenders == {}


def test_storage_does_not_import_the_inventory() -> None:
    assert [f for f, m in _imported("storage").items() if "inventory" in m] == []


def test_the_inventory_holds_no_sql() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "inventory").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert offenders == []
