"""The inventory tests: imports into a real, migrated PostgreSQL database, a small
city with two districts, and a snapshot of everything an import may write."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from inventory.geo import CityArea, Districts
from inventory.importer import ImportOptions, import_inventory
from inventory.report import ImportReport

# Two square districts side by side in Castrop-Rauxel: West (7.28-7.31 E) and
# East (7.31-7.34 E), 51.53-51.57 N.
DISTRICTS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[w, 51.53], [e, 51.53], [e, 51.57], [w, 51.57], [w, 51.53]]],
            },
        }
        for name, w, e in (("West", 7.28, 7.31), ("East", 7.31, 7.34))
    ],
}
BBOX = (7.2, 51.5, 7.4, 51.6)
WEST = (7.29, 51.55)  # lon, lat
EAST = (7.33, 51.56)

Importer = Callable[..., ImportReport]


@pytest.fixture
def districts_file(tmp_path: Path) -> Path:
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps(DISTRICTS), encoding="utf-8")
    return path


@pytest.fixture
def city() -> CityArea:
    """The city's area and districts, as the settings would configure them."""
    return CityArea(BBOX, Districts.from_geojson(DISTRICTS, "name", "test"))


@pytest.fixture
def run_import(database_url: str, city: CityArea) -> Importer:
    """run_import(content, name="poles.csv", area=city, **ImportOptions fields)."""

    def _run(
        content: bytes | str,
        name: str = "poles.csv",
        *,
        area: CityArea | None = None,
        changed_by: str = "test-user",
        **options: Any,
    ) -> ImportReport:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with psycopg.connect(database_url) as conn:
            return import_inventory(
                conn,
                io.BufferedReader(io.BytesIO(data)),  # type: ignore[arg-type]
                source_name=name,
                options=ImportOptions(**options),
                area=city if area is None else area,
                changed_by=changed_by,
            )

    return _run


def snapshot(db: psycopg.Connection[Any]) -> dict[str, Any]:
    """Everything an import may change: the poles, their connectors, the history."""
    poles = db.execute("SELECT to_jsonb(p) - 'updated_at' FROM poles p ORDER BY pole_id").fetchall()
    connectors = db.execute("SELECT * FROM pole_connectors ORDER BY 1, 2").fetchall()
    history = db.execute("SELECT count(*) FROM pole_registry_history").fetchone()
    return {"poles": poles, "connectors": connectors, "history": history}


def rows(report: ImportReport, kind: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "kind"} for r in report.rows(kind)]


def pole(db: psycopg.Connection[Any], pole_id: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT to_jsonb(p) || jsonb_build_object('connectors', (SELECT coalesce(jsonb_agg("
        "to_jsonb(c) - 'pole_id' ORDER BY connector_id), '[]') FROM pole_connectors c "
        "WHERE c.pole_id = p.pole_id)) FROM poles p WHERE pole_id = %s",
        (pole_id,),
    ).fetchone()
    assert row is not None, f"no pole {pole_id}"
    result: dict[str, Any] = row[0]
    return result
