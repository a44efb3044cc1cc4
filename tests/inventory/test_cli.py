"""`smartpole poles ...` as an operator runs it: exit codes, the printed report,
the JSON report, export to a file, decommission and history; the settings
(city area, district boundaries) come from the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from smartpole.cli import main
from tests.inventory.conftest import BBOX, EAST, WEST


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, districts_file: Path) -> None:
    for name in ("CITY_BBOX", "DISTRICT_BOUNDARIES", "DISTRICT_NAME_PROPERTY"):
        monkeypatch.delenv(f"SMARTPOLE_{name}", raising=False)
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
    monkeypatch.setenv("SMARTPOLE_CITY_BBOX", ",".join(map(str, BBOX)))
    monkeypatch.setenv("SMARTPOLE_DISTRICT_BOUNDARIES", str(districts_file))


def test_import_dry_run_then_real_run_then_export_and_history(
    env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    db: psycopg.Connection[Any],
) -> None:
    source = tmp_path / "leuchten.csv"
    source.write_text(
        "MAST;BEZEICHNUNG;Breite;Laenge\n"
        f"CR-0001;Marktplatz;{WEST[1]};{WEST[0]}\n"
        f"CR-0002;Bahnhof;{EAST[1]};{EAST[0]}\n",
        encoding="utf-8",
    )
    mapping = "pole_id=MAST,name=BEZEICHNUNG,latitude=Breite,longitude=Laenge"
    assert main(["poles", "import", str(source), "--map", mapping, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "leuchten.csv (csv, utf-8, delimiter ';', EPSG:4326): 2 created" in out
    assert "created   line 2      CR-0001          name: 'Marktplatz'" in out
    assert "district: 'West'" in out
    assert out.rstrip().endswith("dry run: nothing written")
    assert db.execute("SELECT count(*) FROM poles").fetchone() == (0,)

    report = tmp_path / "report.json"
    assert main(["poles", "import", str(source), "--map", mapping, "--report", str(report)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("written in one transaction")
    document = json.loads(report.read_text())
    assert document["written"] and document["counts"]["created"] == 2
    assert [r["pole_id"] for r in document["created"]] == ["CR-0001", "CR-0002"]

    exported = tmp_path / "export.geojson"
    assert main(["poles", "export", "--output", str(exported)]) == 0
    assert "exported 2 poles" in capsys.readouterr().err
    features = json.loads(exported.read_text())["features"]
    assert [f["properties"]["district"] for f in features] == ["West", "East"]
    assert main(["poles", "import", str(exported)]) == 0
    assert ": 0 created, 0 updated, 2 unchanged, 0 rejected" in capsys.readouterr().out

    assert main(["poles", "decommission", "CR-0002"]) == 0
    assert "CR-0002 decommissioned at" in capsys.readouterr().out
    assert main(["poles", "history", "CR-0002"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "(import leuchten.csv sha256:" in lines[0] and 'name: null -> "Bahnhof"' in lines[0]
    assert "(cli decommission)  decommissioned_at: null ->" in lines[1]


def test_a_rejected_import_exits_1_and_lists_every_rejection(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], db: psycopg.Connection[Any]
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "pole_id,latitude,longitude\nCR-0001,51.55,7.29\nCR-0002,7.33,51.56\nbad id,,\n"
    )
    assert main(["poles", "import", str(source)]) == 1
    out = capsys.readouterr().out
    assert "1 created, 0 updated, 0 unchanged, 2 rejected" in out
    assert (
        "rejected  line 3      CR-0002          latitude 7.33 and longitude 51.56 look swapped"
        in out
    )
    assert "rejected  line 4      bad id           invalid pole id" in out
    assert "rejected: nothing written" in out
    assert db.execute("SELECT count(*) FROM poles").fetchone() == (0,)


def test_usage_errors_exit_2(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["poles", "import", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["poles", "import", "x.csv", "--map", "colour=FARBE"]) == 2
    assert "unknown field 'colour'" in capsys.readouterr().err
    assert main(["poles", "import", "x.csv", "--crs", "EPSG:0"]) == 2
    assert "unknown coordinate reference system" in capsys.readouterr().err
    assert main(["poles", "decommission", "../etc"]) == 2
    monkeypatch.setenv("SMARTPOLE_CITY_BBOX", "7,51,6,50")
    assert main(["poles", "export"]) == 2
    assert "SMARTPOLE_CITY_BBOX" in capsys.readouterr().err
    monkeypatch.setenv("SMARTPOLE_CITY_BBOX", ",".join(map(str, BBOX)))
    monkeypatch.setenv("SMARTPOLE_DISTRICT_BOUNDARIES", str(tmp_path / "none.geojson"))
    source = tmp_path / "ok.csv"
    source.write_text("pole_id\nP1\n")
    assert main(["poles", "import", str(source)]) == 2
    assert "cannot read SMARTPOLE_DISTRICT_BOUNDARIES" in capsys.readouterr().err
