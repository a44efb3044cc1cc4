"""Each service's settings: the field groups of `config.base` it needs, plus its own.

A command reads exactly one of these classes (`smartpole.cli` picks it), so
an ingest worker is not configured by the API's variables and the README's
table can say which command reads which variable.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from config.base import DatabaseSettings, LocalTimeSettings, MqttSettings, ServiceSettings
from models.catalogue.health import DEFAULT_HEALTH

TimescaleMode = Literal["auto", "on", "off"]


class StorageSettings(DatabaseSettings):
    """`smartpole db migrate`: schema, TimescaleDB policies, health thresholds."""

    used_by: ClassVar[str] = "db migrate"

    timescaledb: TimescaleMode = Field(
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
    health_offline_after_s: int = Field(
        default=int(DEFAULT_HEALTH.offline_after.total_seconds()),
        ge=1,
        description="A pole silent for longer than this (platform clock) counts as offline, "
        "even without a last-will. Written into the database by `smartpole db migrate`, "
        "where the API and the Grafana panels and alerts read it.",
    )
    health_stale_sensor_after_s: int = Field(
        default=int(DEFAULT_HEALTH.stale_sensor_after.total_seconds()),
        ge=1,
        description="A sensor family whose newest reading (device clock) is older than this "
        "counts as stale. Written into the database like the offline threshold.",
    )


class DecodeLimitSettings(ServiceSettings):
    """What ingest accepts; the simulators check their messages against the same."""

    ingest_max_payload_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Larger MQTT payloads are quarantined unparsed."
    )
    ingest_max_future_skew_s: int = Field(
        default=300,
        ge=0,
        description="Device timestamps further ahead of the platform clock than this are rejected.",
    )


class IngestSettings(DatabaseSettings, MqttSettings, DecodeLimitSettings):
    """`smartpole ingest`: one worker of the shared subscription."""

    used_by: ClassVar[str] = "ingest"

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
        "old). Bounded by the MQTT receive maximum, since messages are acknowledged after "
        "commit.",
    )
    ingest_batch_max_age_ms: int = Field(
        default=500,
        ge=1,
        description="Longest a received reading waits before its batch is flushed.",
    )
    ingest_stats_interval_s: float = Field(
        default=30.0, gt=0, description="How often ingest logs its counters."
    )
    ingest_mqtt_reader: Literal["bulk", "paho"] = Field(
        default="bulk",
        description="bulk: read QoS 0/1 PUBLISH packets straight from the receive buffer "
        "(ingest/publish_reader.py; relies on paho-mqtt 2.2 internals, about twice the "
        "throughput); paho: paho's own public callbacks only. Switch to paho if a paho "
        "upgrade breaks the bulk reader.",
    )


class ApiSettings(DatabaseSettings, LocalTimeSettings):
    """`smartpole api`: the open-data REST API."""

    used_by: ClassVar[str] = "api"

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
    api_colocation_max_distance_m: float = Field(
        default=100.0,
        gt=0,
        le=10_000,
        description="A pole this close to a reference station (metres) is compared with it "
        "at GET /v1/air-quality/colocation (a request may ask for another distance).",
    )
    api_cache_max_age_s: int = Field(
        default=30, ge=0, description="Cache-Control max-age of public read responses."
    )
    api_cache_ttl_s: float = Field(
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
    data_license: str = Field(
        default="DL-DE-BY-2.0",
        description="License id of the open data, stated in every API response and the docs.",
    )
    data_license_url: str = Field(
        default="https://www.govdata.de/dl-de/by-2-0",
        description="Where the data license text is published.",
    )


class SimulatorSettings(MqttSettings, LocalTimeSettings, DecodeLimitSettings):
    """`smartpole simulate`: simulated poles publishing to the broker."""

    used_by: ClassVar[str] = "simulate"


class DashboardSettings(DatabaseSettings, LocalTimeSettings):
    """`smartpole dashboards build|push`."""

    used_by: ClassVar[str] = "dashboards"

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


class LocalRunSettings(ServiceSettings):
    """Only `smartpole up`: where its local servers keep their state and listen."""

    used_by: ClassVar[str] = "up"

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


class UpSettings(StorageSettings, IngestSettings, ApiSettings, SimulatorSettings, LocalRunSettings):
    """`smartpole up` runs every service, so it validates every service's settings
    before it starts anything (the children read their own class again)."""

    used_by: ClassVar[str] = "up"


# Every class a command reads, in the order the README lists their variables.
SERVICE_SETTINGS: tuple[type[ServiceSettings], ...] = (
    StorageSettings,
    IngestSettings,
    ApiSettings,
    SimulatorSettings,
    DashboardSettings,
    LocalRunSettings,
)
