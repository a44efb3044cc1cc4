"""The README's section for the city's GIS team says what the code does: its
sample CSV and GeoJSON import cleanly into the `make run` city, its --map
example parses, and its field table names every registry column."""

from __future__ import annotations

import re
import shlex
from typing import Any

import psycopg

from inventory.entries import parse_mapping
from inventory.geo import CityArea, Districts
from models.catalogue.registry import REGISTRY_FIELDS
from simulators.city import DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE, City
from simulators.districts import city_bbox, district_outlines
from tests.deploy.launch import REPO
from tests.inventory.conftest import Importer, pole, rows


def _section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split("\n## Pole inventory (for the city's GIS team)\n", 1)[1].split("\n## ")[0]


def _block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", _section(), re.DOTALL)
    assert found, f"no ```{language} block in the GIS section"
    return found[1]


def _make_run_city() -> CityArea:
    city = City.named(DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE)
    return CityArea(city_bbox(city), Districts.from_geojson(district_outlines(city), "name", "x"))


def test_the_samples_import_into_the_simulated_city(
    run_import: Importer, db: psycopg.Connection[Any]
) -> None:
    area = _make_run_city()
    csv_report = run_import(_block("csv"), "sample.csv", area=area)
    assert csv_report.written, csv_report.as_dict()
    assert csv_report.counts["created"] == 2
    geojson_report = run_import(_block("json"), "sample.geojson", area=area)
    assert geojson_report.written, geojson_report.as_dict()
    first = pole(db, "CR-0101")
    assert first["connectors"][1]["max_power_kw"] == 11
    assert first["internal_properties"] == {"contract": "W-2024-17"}
    assert pole(db, "CR-0102")["district"] == "Altstadt"  # from the outlines
    assert pole(db, "CR-0103")["lamp_rated_power_w"] == 72
    again = run_import(_block("csv"), "sample.csv", area=area)
    assert not rows(again, "created") and again.counts["unchanged"] == 2


def test_the_mapping_example_parses() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", _section(), re.DOTALL)
    command = next(
        line
        for block in blocks
        for line in block.replace("\\\n", " ").splitlines()
        if "--map" in line and "--crs" in line
    )
    words = shlex.split(command)
    mapping = parse_mapping([words[words.index("--map") + 1]])
    assert mapping["x"] == "RECHTSWERT" and mapping["internal.contract"] == "VERTRAG"


def test_the_field_table_names_every_column() -> None:
    table = _section().split("| column | holds | public |", 1)[1].split("\n\n", 1)[0]
    for field in REGISTRY_FIELDS:
        assert f"`{field.name}`" in table, field.name
