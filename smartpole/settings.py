"""The one place that reads the environment.

Every service (ingest, api, simulators, the `up` launcher) gets its
configuration from `Settings`, read once at start-up. Variables use the
`SMARTPOLE_` prefix; the README's configuration reference is checked against
this class by a test, so a field added here must be documented there.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MQTT_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """A parsed `mqtt://user:pass@host:port` URL."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in MQTT_DEFAULT_PORTS:
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"MQTT URL has no host: {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"MQTT URL must be scheme://[user[:password]@]host[:port]: {url!r}")
        try:
            port = parts.port or MQTT_DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:  # urllib raises on a non-numeric or out-of-range port
            raise ValueError(f"MQTT URL has an invalid port: {url!r}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "mqtts",
        )

    def redacted(self) -> str:
        """The URL without the password, for logs."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


class Settings(BaseSettings):
    """smartpole configuration, from `SMARTPOLE_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SMARTPOLE_", extra="ignore", frozen=True)

    # --- connections -------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL, e.g. postgresql://user:pass@host:5432/smartpole. "
        "Unset: `smartpole up` starts a local PostgreSQL; other commands refuse to start.",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="Broker URL mqtt://user:pass@host:port (mqtts:// for TLS). "
        "Unset: `smartpole up` starts a local Mosquitto; other commands use mqtt://127.0.0.1:1883.",
    )

    # --- ingest ------------------------------------------------------------
    mqtt_client_id: str = Field(
        default_factory=lambda: f"smartpole-ingest-{socket.gethostname()}",
        description="MQTT client id of an ingest worker. Must be stable across restarts (the "
        "broker keeps the persistent session under it) and unique per worker.",
    )
    mqtt_share_group: str = Field(
        default="ingest",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Shared-subscription group: workers in one group split the messages.",
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="How long the broker keeps an ingest worker's session (and queues its "
        "messages) while the worker is away.",
    )
    ingest_batch_size: int = Field(
        default=5000,
        ge=1,
        le=60000,
        description="MQTT messages written per COPY batch (flushed earlier when the batch gets "
        "old). "
        "Bounded by the MQTT receive maximum, since messages are acknowledged after commit.",
    )
    ingest_batch_max_age_ms: int = Field(
        default=500,
        ge=1,
        description="Longest a received reading waits before its batch is flushed.",
    )
    ingest_max_payload_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Larger MQTT payloads are quarantined unparsed."
    )
    ingest_max_future_skew_s: int = Field(
        default=300,
        ge=0,
        description="Device timestamps further ahead of the platform clock than this are rejected.",
    )
    ingest_stats_interval_s: float = Field(
        default=30.0, gt=0, description="How often ingest logs its counters."
    )

    # --- storage -----------------------------------------------------------
    timescaledb: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="auto: use TimescaleDB when the extension is available; on: require it; "
        "off: plain PostgreSQL even when it is available.",
    )
    compress_after_days: int = Field(
        default=7, ge=1, description="TimescaleDB: compress reading chunks older than this."
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        description="TimescaleDB: drop raw readings older than this; 0 keeps them forever.",
    )
    timezone: str = Field(
        default="Europe/Berlin", description="Time zone of local days (daily rollups, API default)."
    )

    # --- api (open-data REST API) -------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address `smartpole api` listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port of `smartpole api`.")
    api_key: SecretStr | None = Field(
        default=None,
        description="Key for the admin endpoints (header X-API-Key). Unset: admin endpoints "
        "refuse every request with 403; public reads never need a key.",
    )
    api_cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed by CORS, e.g. https://app.example.org; "
        "`*` allows any; empty disables CORS headers.",
    )
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="uvicorn worker processes of `smartpole api` (each holds its own pool); "
        "about one per core.",
    )
    api_pool_size: int = Field(
        default=10, ge=1, le=200, description="Database connections held by one API process."
    )
    api_page_size: int = Field(
        default=1000, ge=1, le=10000, description="Items per page when a request sets no limit."
    )
    api_max_raw_range_days: int = Field(
        default=31,
        ge=1,
        description="Longest time range a raw (unaggregated) JSON series may span; longer "
        "ranges are refused with a hint to aggregate, page or use the CSV export.",
    )
    api_cache_max_age_s: int = Field(
        default=30, ge=0, description="Cache-Control max-age of public read responses."
    )
    api_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="Seconds each API process reuses a public read response it has "
        "computed (same host, path, query and Accept), so a read may be this old. An expired "
        "answer is still served, for at most another TTL, while one background request "
        "recomputes it. An admin write clears the cache of the process that served it; other "
        "worker processes converge once their entry is refreshed (within two TTLs). 0 "
        "disables the cache.",
    )
    api_expected_cadence_s: int = Field(
        default=300,
        ge=1,
        description="A pole silent for longer than this (platform clock) counts as offline, "
        "even without a last-will.",
    )
    api_stale_sensor_s: int = Field(
        default=1800,
        ge=1,
        description="A sensor family whose newest reading (device clock) is older than this "
        "counts as stale.",
    )
    data_license: str = Field(
        default="DL-DE-BY-2.0",
        description="License id of the open data, stated in every API response and the docs.",
    )
    data_license_url: str = Field(
        default="https://www.govdata.de/dl-de/by-2-0",
        description="Where the data license text is published.",
    )

    # --- dashboards (Grafana) -----------------------------------------------
    grafana_token: SecretStr | None = Field(
        default=None,
        description="Grafana service account token for `smartpole dashboards push` when "
        "--token is not given.",
    )
    grafana_db_password: SecretStr | None = Field(
        default=None,
        description="Password of Grafana's PostgreSQL datasource user: `smartpole dashboards "
        "push` uploads it; Grafana's provisioning file reads the same variable from "
        "Grafana's own environment.",
    )

    # --- local run (`smartpole up`) -----------------------------------------
    state_dir: Path = Field(
        default=Path(".state"),
        description="Where `smartpole up` keeps its local PostgreSQL cluster, broker "
        "persistence and logs; reused on the next run. Relative paths start at the working "
        "directory.",
    )
    local_pg_port: int = Field(
        default=15432,
        ge=1,
        le=65535,
        description="Port of the local PostgreSQL that `smartpole up` starts (127.0.0.1 only) "
        "when SMARTPOLE_DATABASE_URL is unset; not 5432, so it never meets a system PostgreSQL.",
    )
    local_mqtt_port: int = Field(
        default=11883,
        ge=1,
        le=65535,
        description="Port of the local Mosquitto that `smartpole up` starts (127.0.0.1 only) "
        "when SMARTPOLE_MQTT_URL is unset; not 1883, so it never meets a system broker.",
    )
    up_simulated_poles: int = Field(
        default=25,
        ge=0,
        le=10000,
        description="Size of the simulated fleet `smartpole up` runs; 0 runs no simulator.",
    )

    # --- logging -----------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of every service."
    )
    log_format: Literal["json", "text"] = Field(
        default="text", description="json: one JSON object a line, for log shippers."
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value is not None:
            MqttEndpoint.parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise SystemExit(
                "SMARTPOLE_DATABASE_URL is not set (e.g. postgresql://user:pass@host:5432/smartpole)"
            )
        return self.database_url

    @property
    def mqtt(self) -> MqttEndpoint:
        return MqttEndpoint.parse(self.mqtt_url or "mqtt://127.0.0.1:1883")
