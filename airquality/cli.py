"""`smartpole stations ...` (reference stations) and `smartpole air-quality ...` (pole
reporting intervals, calibrations, the statistics table the dashboards read)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime
from pathlib import Path

from airquality import service
from airquality.calibration import CalibrationError
from airquality.official import CET
from airquality.stations import StationFileError, parse
from config.services import StorageSettings
from models.catalogue.air_quality import POLLUTANTS
from storage.connection import connect
from storage.queries import aq_official as q

log = logging.getLogger(__name__)
EXIT_FAILED = 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stations = commands.add_parser("stations", help="reference monitoring stations")
    sub = stations.add_subparsers(dest="stations_command", required=True)
    imp = sub.add_parser(
        "import",
        help="import a UBA CSV or EEA e-reporting CSV export as reference-station values",
    )
    imp.add_argument("files", nargs="+", type=Path)
    imp.add_argument("--format", choices=("auto", "uba", "eea"), default="auto")
    imp.add_argument("--name")
    imp.add_argument("--type", dest="station_type", choices=("traffic", "background", "industrial"))
    imp.add_argument("--area", dest="area_type", choices=("urban", "suburban", "rural"))
    imp.add_argument("--latitude", type=float)
    imp.add_argument("--longitude", type=float)
    imp.add_argument("--district")
    imp.add_argument("--eoi-code", dest="eoi_code")
    imp.add_argument("--network")
    imp.set_defaults(handler=run_import, settings_class=StorageSettings)

    aq = commands.add_parser("air-quality", help="air-quality statistics and sensor trust")
    aq_sub = aq.add_subparsers(dest="aq_command", required=True)
    cal = aq_sub.add_parser("calibrate", help="fit a pole's correction against a station")
    cal.add_argument("pole_id")
    cal.add_argument("metric", choices=POLLUTANTS)
    cal.add_argument("--station", required=True)
    cal.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    cal.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    cal.add_argument("--humidity", action="store_true", help="fit a relative-humidity term")
    cal.set_defaults(handler=run_calibrate, settings_class=StorageSettings)
    ref = aq_sub.add_parser(
        "refresh", help="recompute the year's statistics into aq_statistics (dashboards)"
    )
    ref.add_argument("--year", type=int)
    ref.set_defaults(handler=run_refresh, settings_class=StorageSettings)


METADATA = (
    "name",
    "station_type",
    "area_type",
    "latitude",
    "longitude",
    "district",
    "eoi_code",
    "network",
)


def run_import(args: argparse.Namespace, settings: StorageSettings) -> int:
    metadata = {k: getattr(args, k) for k in METADATA if getattr(args, k) is not None}
    reports = []
    for path in args.files:
        try:
            reports.append((path, parse(path, args.format)))
        except StationFileError as exc:
            print(f"smartpole: {exc}", file=sys.stderr)
            return EXIT_FAILED
    found = {sid for _, r in reports for sid in r.stations}
    if metadata and len(found) > 1:
        print("smartpole: station metadata options need files of one station", file=sys.stderr)
        return EXIT_FAILED
    with connect(settings.require_database_url()) as conn:
        for path, report in reports:
            for station in report.stations.values():
                q.upsert_station(conn, {**station, **metadata})
            written = q.insert_reference_values(conn, report.rows)
            conn.commit()
            log.info(
                "%s: %d values of %s (%d missing cells, %d rows skipped)",
                path.name,
                written,
                ", ".join(sorted(report.stations)) or "no station",
                report.missing,
                report.skipped,
            )
            for problem in report.problems:
                log.warning("%s: %s", path.name, problem)
    return 0


def run_calibrate(args: argparse.Namespace, settings: StorageSettings) -> int:
    with connect(settings.require_database_url()) as conn:
        try:
            version, result = service.fit_calibration(
                conn,
                pole_id=args.pole_id,
                metric=args.metric,
                station_id=args.station,
                first=args.first,
                last=args.last,
                humidity=args.humidity,
            )
        except CalibrationError as exc:
            print(f"smartpole: {exc}", file=sys.stderr)
            return EXIT_FAILED
        conn.commit()
    c = result.correction
    print(
        f"{args.pole_id} {args.metric} version {version}: corrected = {c.intercept:.4g} + "
        f"{c.slope:.4g} x raw"
        + (f" + {c.humidity_coefficient:.4g} x RH" if c.humidity_coefficient is not None else "")
        + f" ({result.days} days, R² {result.r2:.3f}, RMSE {result.rmse:.3g})"
    )
    return 0


def run_refresh(args: argparse.Namespace, settings: StorageSettings) -> int:
    year = args.year or datetime.now(CET).year
    with connect(settings.require_database_url()) as conn:
        written = service.refresh_statistics(conn, year)
        conn.commit()
    log.info("aq_statistics: %d statistics for %d", written, year)
    return 0
