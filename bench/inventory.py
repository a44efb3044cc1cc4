"""Pole inventory benchmark: a city-sized import, its re-import, and the export.

1. Start a throwaway PostgreSQL (the test harness's) and migrate.
2. Lay out POLES simulated poles in the simulated city (the `smartpole up`
   city: its district outlines and area are configured, so every row gets
   the full check: range, area, point in polygon) and write their inventory
   as CSV and as GeoJSON.
3. Run `smartpole poles import` (the real CLI, its own process): the CSV into
   the empty registry (every pole created), the same CSV again (every pole
   unchanged, nothing written), the GeoJSON (unchanged), and the export.
   Each run's wall time and the process's peak RSS (its VmHWM) are recorded;
   a SMALL-pole import shows what the peak RSS is without the file.

Prints one JSON line. A program, not a test: it never fails on a timing.

    python -m bench.inventory               # 100,000 poles
    python -m bench.inventory --quick       # 10,000 poles
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from inventory.export import csv_header, write_csv, write_geojson
from simulators.city import DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE, City, seeded_fleet
from simulators.districts import city_bbox, district_outlines
from simulators.inventory import pole_entry
from storage.migrate import migrate
from tests.support.peak_memory import run_measured
from tests.support.services import create_database, running_postgres

SMALL = 1_000


def _run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one smartpole command; its wall time, peak RSS and first output line."""
    run = run_measured(args, env, timeout=3600)
    if run.returncode != 0:
        raise SystemExit(f"{args} failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr}")
    summary = run.stdout.splitlines()[:1]
    return {
        "seconds": round(run.seconds, 2),
        "peak_rss_mib": round(run.peak_mib),
        "report": summary[0] if summary else None,
    }


def _write_files(work: Path, count: int) -> tuple[Path, Path]:
    city = City.named(DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE)
    # Without the free-form properties: CSV keeps them as text, GeoJSON as JSON
    # values, and the two files are to describe exactly the same registry.
    entries = [{**pole_entry(p), "properties": {}} for p in seeded_fleet(city, count, 1, 60)]
    geojson, csv_path = work / f"poles-{count}.geojson", work / f"poles-{count}.csv"
    with geojson.open("wb") as out:
        write_geojson([entries], out)
    with csv_path.open("w", encoding="utf-8", newline="") as text:
        write_csv([entries], text, csv_header([], []))
    return csv_path, geojson


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--poles", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 poles")
    args = parser.parse_args()
    poles = 10_000 if args.quick else args.poles
    city = City.named(DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE)
    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # noqa: S103 - the postgres user must reach its data dir
        districts = work / "districts.geojson"
        districts.write_text(json.dumps(district_outlines(city)), encoding="utf-8")
        started = time.perf_counter()
        csv_path, geojson = _write_files(work, poles)
        small_csv, _ = _write_files(work, SMALL)
        generate_s = time.perf_counter() - started
        csv_mib = round(csv_path.stat().st_size / 2**20, 1)
        geojson_mib = round(geojson.stat().st_size / 2**20, 1)
        with running_postgres(work / "pg") as pg:
            results: dict[str, Any] = {}
            for label in ("small", "large"):
                url = create_database(pg, f"bench_{label}")
                with psycopg.connect(url) as conn:
                    migrate(conn, "off")
                env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
                env |= {
                    "SMARTPOLE_DATABASE_URL": url,
                    "SMARTPOLE_CITY_BBOX": ",".join(map(str, city_bbox(city))),
                    "SMARTPOLE_DISTRICT_BOUNDARIES": str(districts),
                }
                source = small_csv if label == "small" else csv_path
                results[f"{label}_csv_create"] = _run(["poles", "import", str(source)], env)
                if label == "small":
                    continue
                results["csv_reimport"] = _run(["poles", "import", str(csv_path)], env)
                results["geojson_reimport"] = _run(["poles", "import", str(geojson)], env)
                results["geojson_export"] = _run(
                    ["poles", "export", "--output", str(work / "export.geojson")], env
                )
                results["export_reimport"] = _run(
                    ["poles", "import", str(work / "export.geojson")], env
                )
    large = results["large_csv_create"]
    print(
        json.dumps(
            {
                "bench": "inventory",
                "poles": poles,
                "csv_mib": csv_mib,
                "geojson_mib": geojson_mib,
                "generate_s": round(generate_s, 1),
                "create_poles_per_s": round(poles / large["seconds"]),
                "peak_rss_mib_small_vs_large": [
                    results["small_csv_create"]["peak_rss_mib"],
                    large["peak_rss_mib"],
                ],
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
