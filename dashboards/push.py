"""Upload the datasource, folder, dashboards and alert rules to a running Grafana.

Uses grafana-client (the maintained fork of grafana-api). Idempotent: the datasource is
updated when its uid exists and created otherwise, the folder is created once, dashboards
are saved with `overwrite: true`, and each alert rule group is replaced as a whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards import alerts
from dashboards.boards.common import DEFAULT_TIMEZONE
from dashboards.build import all_dashboards
from dashboards.panels import FOLDER_TITLE, FOLDER_UID
from dashboards.provisioning import datasource_definition
from dashboards.sql import DATASOURCE_UID

log = logging.getLogger(__name__)

SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
HTTP_NOT_FOUND = 404


class PushError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """Where Grafana's server reaches PostgreSQL (not necessarily where we do)."""

    host: str  # host:port, as Grafana's datasource `url` wants it
    database: str
    user: str
    password: str
    sslmode: str

    @classmethod
    def parse(cls, url: str, password: str | None, sslmode: str | None) -> DatabaseTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise PushError("the datasource URL must start with postgresql://")
        try:
            port = parts.port or 5432
        except ValueError as exc:
            raise PushError("the datasource URL has an invalid port") from exc
        database = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not database or not parts.username:
            raise PushError("the datasource URL needs a user, a host and a database name")
        mode = sslmode or parse_qs(parts.query).get("sslmode", ["require"])[0]
        if mode not in SSL_MODES:
            raise PushError(f"sslmode must be one of {', '.join(SSL_MODES)}")
        secret = password if password is not None else unquote(parts.password or "")
        if not secret:
            raise PushError(
                "no datasource password: set SMARTPOLE_GRAFANA_DB_PASSWORD "
                "(or put it in the datasource URL)"
            )
        return cls(f"{parts.hostname}:{port}", database, unquote(parts.username), secret, mode)


@dataclass(slots=True)
class PushReport:
    datasource: str = ""  # "created" | "updated"
    folder: str = ""  # "created" | "exists"
    dashboards: list[str] = field(default_factory=list)
    rule_groups: list[str] = field(default_factory=list)


def grafana_api(url: str, token: str, timeout_s: float = 30.0) -> GrafanaApi:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError("the Grafana URL must be http(s)://host[:port][/path]")
    if parts.username or parts.password:
        raise PushError("pass the Grafana credentials with --token, not in the URL")
    if not token or any(ch in token for ch in "\r\n\0"):
        raise PushError("the Grafana token is empty or contains control characters")
    return GrafanaApi.from_url(url, credential=token, timeout=timeout_s)


def _exists(call: Any) -> bool:
    try:
        call()
    except GrafanaClientError as exc:
        if exc.status_code == HTTP_NOT_FOUND:
            return False
        raise
    return True


def push(
    api: GrafanaApi,
    database: DatabaseTarget,
    *,
    timescaledb: bool = True,
    timezone: str = DEFAULT_TIMEZONE,
) -> PushReport:
    report = PushReport()
    datasource = datasource_definition(
        url=database.host,
        database=database.database,
        user=database.user,
        password=database.password,
        sslmode=database.sslmode,
        timescaledb=timescaledb,
    )
    try:
        if _exists(lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID)):
            api.datasource.update_datasource_by_uid(DATASOURCE_UID, datasource)
            report.datasource = "updated"
        else:
            api.datasource.create_datasource(datasource)
            report.datasource = "created"

        if _exists(lambda: api.folder.get_folder(FOLDER_UID)):
            report.folder = "exists"
        else:
            api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            report.folder = "created"

        for name, board in all_dashboards(timezone).items():
            api.dashboard.update_dashboard(
                {
                    "dashboard": {**board, "id": None},
                    "folderUid": FOLDER_UID,
                    "overwrite": True,
                    "message": "smartpole dashboards push",
                }
            )
            report.dashboards.append(name)

        for group in alerts.groups():
            api.alertingprovisioning.update_rule_group(
                FOLDER_UID, group, alerts.api_rule_group(group)
            )
            report.rule_groups.append(group)
    except GrafanaException as exc:
        # the response body may echo the request: keep the message, never the payload
        raise PushError(f"Grafana refused the upload: {exc.message}") from exc
    return report
