"""`smartpole dashboards build|push`."""

from __future__ import annotations

import argparse
import logging
import sys

from config.services import DashboardSettings
from dashboards.provisioning import PACKAGE_DIR, generated_files, write_files

log = logging.getLogger(__name__)

MISSING_EXTRA = (
    "smartpole dashboards push: grafana-client is not installed: install smartpole[grafana] "
    "(pip install 'smartpole[grafana]'; from a checkout, with the pinned versions: "
    "pip install --require-hashes -r requirements/grafana.lock)"
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dashboards = commands.add_parser("dashboards", help="Grafana dashboards and alert rules")
    sub = dashboards.add_subparsers(dest="dashboards_command", required=True)

    build = sub.add_parser(
        "build", help="regenerate dashboards/json and dashboards/provisioning from the code"
    )
    build.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the committed files differ from what the code generates",
    )
    build.set_defaults(handler=run_build, settings_class=DashboardSettings)

    push_cmd = sub.add_parser(
        "push", help="upload datasource, folder, dashboards and alert rules to a Grafana"
    )
    push_cmd.add_argument(
        "--url", required=True, help="Grafana base URL, e.g. https://grafana:3000"
    )
    push_cmd.add_argument(
        "--token",
        help="service account token (default: SMARTPOLE_GRAFANA_TOKEN)",
    )
    push_cmd.add_argument(
        "--datasource-url",
        help="postgresql://user@host:port/db as Grafana's server reaches the database "
        "(default: SMARTPOLE_DATABASE_URL); the password comes from "
        "SMARTPOLE_GRAFANA_DB_PASSWORD, else from this URL",
    )
    push_cmd.add_argument(
        "--sslmode", help="disable, require, verify-ca or verify-full (default: from the URL)"
    )
    push_cmd.add_argument(
        "--no-timescaledb",
        dest="timescaledb",
        action="store_false",
        help="the database is plain PostgreSQL: $__timeGroup must not use time_bucket()",
    )
    push_cmd.set_defaults(handler=run_push, settings_class=DashboardSettings)


def run_build(args: argparse.Namespace, settings: DashboardSettings) -> int:
    if args.check:
        stale = [
            relative
            for relative, content in generated_files(settings.timezone).items()
            if not (PACKAGE_DIR / relative).is_file()
            or (PACKAGE_DIR / relative).read_text(encoding="utf-8") != content
        ]
        if stale:
            print(
                "out of date, run `smartpole dashboards build`: " + ", ".join(stale),
                file=sys.stderr,
            )
            return 1
        return 0
    for path in write_files(PACKAGE_DIR, settings.timezone):
        log.info("wrote %s", path.relative_to(PACKAGE_DIR.parent))
    return 0


def run_push(args: argparse.Namespace, settings: DashboardSettings) -> int:
    # grafana-client is the optional extra smartpole[grafana]: `build` works without it.
    try:
        from dashboards.push import (  # noqa: PLC0415
            DatabaseTarget,
            PushError,
            grafana_api,
            push,
        )
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "grafana_client":
            raise
        print(MISSING_EXTRA, file=sys.stderr)
        return 1
    token = args.token or (
        settings.grafana_token.get_secret_value() if settings.grafana_token else ""
    )
    datasource_url = args.datasource_url or (
        settings.database_url.get_secret_value() if settings.database_url else None
    )
    password = (
        settings.grafana_db_password.get_secret_value() if settings.grafana_db_password else None
    )
    try:
        if not datasource_url:
            raise PushError(
                "no datasource URL: pass --datasource-url or set SMARTPOLE_DATABASE_URL"
            )
        target = DatabaseTarget.parse(datasource_url, password, args.sslmode)
        report = push(
            grafana_api(args.url, token),
            target,
            timescaledb=args.timescaledb,
            timezone=settings.timezone,
        )
    except PushError as exc:
        print(f"smartpole dashboards push: {exc}", file=sys.stderr)
        return 1
    log.info(
        "pushed to %s: datasource %s, folder %s, %d dashboards, rule groups %s",
        args.url,
        report.datasource,
        report.folder,
        len(report.dashboards),
        ", ".join(report.rule_groups),
    )
    return 0
