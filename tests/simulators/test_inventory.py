"""The simulated city registers itself: its district outlines are valid and cover
it, every simulated pole lies in the district it names, and the inventory a
simulator writes imports cleanly (and again as unchanged)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from shapely.geometry import Point, shape

from inventory.geo import CityArea, Districts
from inventory.importer import ImportOptions, import_inventory
from simulators.city import City, layout_fleet
from simulators.districts import city_bbox, district_outlines
from smartpole.cli import main
from tests.simulators.conftest import CITY, fleet

OTHER_CITY = City.named("Bad Example", 48.0, 11.0)


@pytest.mark.parametrize("city", [CITY, OTHER_CITY], ids=lambda c: c.name)
def test_outlines_tile_the_city_and_hold_every_pole(city: City) -> None:
    outlines = district_outlines(city)
    names = [f["properties"]["name"] for f in outlines["features"]]
    assert names == [d.name for d in city.districts]
    shapes = [shape(f["geometry"]) for f in outlines["features"]]
    assert all(s.is_valid and s.geom_type == "Polygon" for s in shapes)
    union = shapely.union_all(shapes)
    overlap = sum(s.area for s in shapes) - union.area
    assert overlap < 1e-9 * union.area  # a partition, not overlapping blobs
    min_lon, min_lat, max_lon, max_lat = city_bbox(city)
    assert shapely.box(min_lon, min_lat, max_lon, max_lat).contains(union)

    poles = layout_fleet(city, 3000, random.Random("outline-test"), 60)
    by_name = dict(zip(names, shapes, strict=True))
    misplaced = [
        p.pole_id for p in poles if not by_name[p.district].contains(Point(p.longitude, p.latitude))
    ]
    assert misplaced == []


def test_the_same_seed_lays_out_the_same_fleet() -> None:
    assert fleet(50, seed=3) == fleet(50, seed=3)
    assert fleet(50, seed=3) != fleet(50, seed=4)


def _import(database_url: str, path: Path, area: CityArea) -> Any:
    with psycopg.connect(database_url) as conn:
        return import_inventory(
            conn,
            io.BufferedReader(io.BytesIO(path.read_bytes())),  # type: ignore[arg-type]
            source_name=path.name,
            options=ImportOptions(),
            area=area,
            changed_by="test",
        )


def test_simulate_fleet_writes_an_inventory_that_imports_cleanly_and_idempotently(
    tmp_path: Path, database_url: str, db: psycopg.Connection[Any]
) -> None:
    inventory = tmp_path / "fleet.geojson"
    args = ["simulate", "fleet", "--poles", "40", "--seed", "9", "--duration", "10m",
            "--interval", "5m", "--dry-run", "--end", "2025-06-18T12:00:00+00:00"]  # fmt: skip
    assert main([*args, "--inventory", str(inventory)]) == 0
    first = inventory.read_bytes()
    assert main([*args, "--inventory", str(inventory)]) == 0
    assert inventory.read_bytes() == first  # same seed, same inventory

    features = json.loads(first)["features"]
    assert len(features) == 40
    area = CityArea(city_bbox(CITY), Districts.from_geojson(district_outlines(CITY), "name", "sim"))
    report = _import(database_url, inventory, area)
    assert report.written and report.counts["created"] == 40, report.as_dict()
    # The district each pole names is the one its position lies in.
    assert not any("district" in json.dumps(r["changes"]) and "contradicts" in json.dumps(r)
                   for r in report.rows())  # fmt: skip
    with_ev = [f for f in features if "ev" in f["properties"]["capabilities"]]
    assert with_ev and all(f["properties"]["ev_plug_type"][0] == "Type2" for f in with_ev)
    connectors = db.execute("SELECT count(*) FROM pole_connectors").fetchone()
    assert connectors == (sum(f["properties"]["ev_connectors"] for f in features),)

    again = _import(database_url, inventory, area)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 40, "rejected": 0}


def test_simulate_pole_commissions_one_pole_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "pole.geojson"
    code = main([
        "simulate", "pole", "CR-0042", "--capabilities", "env,ev", "--duration", "10m",
        "--dry-run", "--end", "2025-06-18T12:00:00+00:00", "--inventory", str(inventory),
    ])  # fmt: skip
    assert code == 0
    assert "smartpole poles import" in capsys.readouterr().err
    (feature,) = json.loads(inventory.read_text())["features"]
    assert feature["id"] == "CR-0042"
    assert feature["properties"]["capabilities"] == ["env", "ev", "light"]
    assert feature["properties"]["district"] == "Altstadt"
    assert feature["geometry"]["coordinates"] == [7.31, 51.55]
