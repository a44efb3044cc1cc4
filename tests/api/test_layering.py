"""House rules made tests: no SQL in the API package; every endpoint documented.
(Which package may import which is import-linter's contract in pyproject.toml,
run by scripts/test.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from api.app import create_app
from config.services import ApiSettings

API = Path(__file__).resolve().parents[2] / "api"
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b\s+[\w*(]|\bFROM\s+\w+\s+WHERE\b")


def test_route_handlers_contain_no_sql() -> None:
    offenders = [
        f"{path.relative_to(API.parent)}:{n}"
        for path in sorted(API.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert offenders == []


def _has_example(node: object, schemas: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    if isinstance(node, dict):
        if "example" in node or "examples" in node:
            return True
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            return name not in seen and _has_example(schemas[name], schemas, seen | {name})
        return any(_has_example(v, schemas, seen) for v in node.values())
    if isinstance(node, list):
        return any(_has_example(v, schemas, seen) for v in node)
    return False


def test_every_endpoint_is_documented_with_an_example() -> None:
    spec = create_app(ApiSettings(database_url="postgresql://docs@127.0.0.1/docs")).openapi()
    schemas = spec["components"]["schemas"]
    assert spec["info"]["license"]["name"] == "DL-DE-BY-2.0"
    missing = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if not _has_example(operation["responses"].get("200"), schemas)
        or not operation.get("description")
    ]
    assert missing == []
    assert all(p.startswith("/v1/") for p in spec["paths"] if p not in ("/health", "/metrics"))
