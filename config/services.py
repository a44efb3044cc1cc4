"""Each service's settings: the field groups of `config.base` it needs, plus its own.

A command reads exactly one of these classes (`smartpole.cli` picks it), so
an ingest worker is not configured by the API's variables and the README's
table can say which command reads which variable.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from config.base import (
    CityAreaSettings,
    DatabaseSettings,
    LocalTimeSettings,
    MqttSettings,
    ServiceSettings,
    read_secret_file,
)
from config.endpoints import MqttEndpoint
from config.errors import ConfigError
from models.catalogue.families import METRIC_FAMILIES
from models.catalogue.health import DEFAULT_HEALTH
from models.topics import Family

TimescaleMode = Literal["auto", "on", "off"]


class StorageSettings(DatabaseSettings, LocalTimeSettings):
    """`smartpole db migrate`: schema, TimescaleDB policies, health thresholds, the
    zone of the daily rollups."""

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
    change_feed_retention_s: int = Field(
        default=24 * 3600,
        ge=60,
        description="How long the change feed keeps its entries (what each committed batch "
        "stored, for the SensorThings MQTT publisher and the live stream to follow and "
        "resume from); ingest workers delete older ones about once a minute.",
    )
    quarantine_retention_days: int = Field(
        default=30,
        ge=0,
        description="Quarantine rows first received longer ago than this are deleted by the "
        "ingest workers (about once a minute); 0 keeps them until purged "
        "(`smartpole quarantine purge`).",
    )
    quarantine_max_rows: int = Field(
        default=1_000_000,
        ge=0,
        description="Most quarantine rows kept: beyond it ingest deletes the oldest, so a pole "
        "sending garbage cannot fill the disk (each row holds at most one payload, up to "
        "SMARTPOLE_INGEST_MAX_PAYLOAD_BYTES); 0: no cap.",
    )
    ingest_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port this ingest worker serves Prometheus metrics on (GET /metrics); 0: "
        "none. Each worker on one host needs its own port (one variable per process; `smartpole "
        "up` picks free ones and prints them; in compose each replica has its own address).",
    )
    ingest_metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the ingest metrics server listens on (0.0.0.0 in a container, "
        "so Prometheus can scrape it).",
    )
    database_disk_capacity_bytes: int = Field(
        default=0,
        ge=0,
        description="Size of the disk (volume) the database lives on: ingest exports it "
        "(smartpole_database_disk_capacity_bytes) next to the database's own size, and the "
        "shipped Prometheus rules alert above 80 % of it; 0: unknown (that alert stays off).",
    )
    ingest_mqtt_reader: Literal["bulk", "paho"] = Field(
        default="bulk",
        description="bulk: read QoS 0/1 PUBLISH packets straight from the receive buffer "
        "(ingest/publish_reader.py; relies on paho-mqtt 2.2 internals, about twice the "
        "throughput); paho: paho's own public callbacks only. Switch to paho if a paho "
        "upgrade breaks the bulk reader.",
    )


class ApiSettings(DatabaseSettings, LocalTimeSettings, CityAreaSettings, DecodeLimitSettings):
    """`smartpole api`: the open-data REST API."""

    used_by: ClassVar[str] = "api"

    api_host: str = Field(default="127.0.0.1", description="Address `smartpole api` listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port of `smartpole api`.")
    api_key: SecretStr | None = Field(
        default=None,
        description="One admin key in the clear (header X-API-Key), named `default` in the "
        "registry history; prefer SMARTPOLE_API_ADMIN_KEYS. With neither set the admin "
        "endpoints refuse every request with 403; public reads never need a key.",
    )
    api_admin_keys: str = Field(
        default="",
        description="Named admin keys, stored hashed: comma-separated `name:sha256-hex` "
        "(`smartpole api new-key NAME` makes a key and its entry). A request's key is "
        "compared with every entry in constant time; the matching name is recorded as the "
        "actor of registry changes (admin-key:NAME). Rotate by adding the new entry, "
        "switching the client, then removing the old one.",
    )
    api_rate_limit_per_s: float = Field(
        default=20.0,
        ge=0,
        description="Requests per second one client (IPv4 address or IPv6 /64) may make "
        "sustained, across all worker processes, cached answers included; beyond it 429 "
        "with Retry-After. 0 turns rate limiting off. /health and /metrics are exempt.",
    )
    api_rate_limit_burst: int = Field(
        default=100,
        ge=1,
        description="Requests a client may make at once before the per-second rate applies "
        "(the token bucket's size).",
    )
    api_rate_limit_clients: int = Field(
        default=65536,
        ge=64,
        le=16_777_216,
        description="Clients the rate limiter tracks at once (32 bytes each, shared by the "
        "workers); beyond that the longest-idle client's bucket is reused.",
    )
    api_rate_limit_state_file: Path | None = Field(
        default=None,
        description="File the API processes share their rate-limit buckets in (mapped into "
        "memory). Unset: `smartpole api` makes a private one for its workers. Set it to "
        "share one limit between several `smartpole api` instances on one host.",
    )
    api_trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client (e.g. 10.0.0.5,172.18.0.0/16). Requests from "
        "anyone else are limited by their own address, whatever they claim.",
    )
    api_max_request_line_bytes: int = Field(
        default=8192,
        ge=256,
        description="Longest request target (path and query) accepted; longer: 414.",
    )
    api_max_header_bytes: int = Field(
        default=16384,
        ge=1024,
        description="Most bytes of request header fields accepted; more: 431.",
    )
    api_max_headers: int = Field(
        default=100, ge=8, description="Most request header fields accepted; more: 431."
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
    api_sta_external_url: str = Field(
        default="",
        description="Absolute URL the SensorThings facade is reached at from outside, e.g. "
        "https://data.example.org/sta/v1.1 behind a proxy that strips or adds a prefix: "
        "every @iot.selfLink and @iot.nextLink starts with it. Empty: the requesting host "
        "and path (/sta/v1.1).",
    )
    api_sta_page_size: int = Field(
        default=100, ge=1, le=10000, description="SensorThings $top when a request sets none."
    )
    api_sta_max_top: int = Field(
        default=10000, ge=1, le=100000, description="Largest SensorThings $top accepted."
    )
    api_sta_max_skip: int = Field(
        default=100000,
        ge=0,
        description="Largest hand-written SensorThings $skip (offset paging reads every row "
        "it skips; nextLinks page by keyset and are not bound by it).",
    )
    api_sta_count_timeout_ms: int = Field(
        default=2000,
        ge=10,
        le=60000,
        description="Time a SensorThings $count may take where rollups and the registry "
        "cannot answer exactly; beyond it the count is the planner's estimate, marked "
        "`@smartpole.countExact: false`.",
    )
    api_max_import_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest request body POST /v1/admin/poles:import accepts (413 beyond); "
        "larger inventories go through `smartpole poles import`, which streams any size.",
    )
    api_map_tile_url: str | None = Field(
        default=None,
        max_length=500,
        description="Tile source of the public map (/map), an XYZ template such as "
        "https://tiles.example.org/{z}/{x}/{y}.png, usually the city's own tile server. "
        "Unset: no tiles, the map draws the district outlines (SMARTPOLE_DISTRICT_BOUNDARIES) "
        "and the poles on a plain background, so it works on a network without internet.",
    )
    api_map_tile_attribution: str = Field(
        default="",
        max_length=300,
        description="Attribution shown with the tiles (e.g. the OpenStreetMap contributors' "
        "notice when the tiles are made from OSM).",
    )
    api_web_dir: Path | None = Field(
        default=None,
        description="Where the built map and API docs assets are (scripts/build-web writes "
        "web/dist). Unset: web/dist of this checkout.",
    )
    api_stream_max_clients: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Live streams (GET /v1/stream) one API process serves at once; beyond "
        "it 503 with Retry-After. Each costs a socket and a buffer, never a database "
        "connection (one poller per process reads the change feed for all of them).",
    )
    api_stream_client_buffer: int = Field(
        default=10_000,
        ge=10,
        le=1_000_000,
        description="Events buffered per live stream; a client further behind than this "
        "is dropped (`event: dropped`) so it never slows ingest or the other clients.",
    )
    api_stream_poll_interval_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often each API process reads the change feed for its live streams "
        "(the delay between a batch's commit and its events).",
    )
    api_stream_heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="A live stream with nothing to send writes a `: keepalive` comment this "
        "often, so proxies keep the connection open.",
    )
    api_stream_retry_ms: int = Field(
        default=3000,
        ge=100,
        le=600_000,
        description="The `retry:` hint of live streams: how long a client waits before it "
        "reconnects (with Last-Event-ID) after losing the connection.",
    )
    data_license: str = Field(
        default="DL-DE-BY-2.0",
        description="License id of the open data, stated in every API response and the docs.",
    )
    data_license_url: str = Field(
        default="https://www.govdata.de/dl-de/by-2-0",
        description="Where the data license text is published.",
    )

    @field_validator("api_admin_keys")
    @classmethod
    def _check_admin_keys(cls, value: str) -> str:
        parse_admin_keys(value)
        return value

    @field_validator("api_trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for entry in trusted_proxies(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {entry[:60]!r}") from None
        return value

    def admin_keys(self) -> dict[str, bytes]:
        """Key name -> SHA-256 of the key."""
        keys = parse_admin_keys(self.api_admin_keys)
        if self.api_key is not None:
            keys.setdefault(
                "default", hashlib.sha256(self.api_key.get_secret_value().encode()).digest()
            )
        return keys


ADMIN_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def parse_admin_keys(value: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, _, digest = entry.partition(":")
        if not ADMIN_KEY_NAME.fullmatch(name) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
            raise ValueError(
                f"admin key entries are name:sha256-hex (64 hex digits); got {name[:40]!r}:..."
            )
        if name in keys:
            raise ValueError(f"admin key name {name!r} appears twice")
        keys[name] = bytes.fromhex(digest)
    return keys


def trusted_proxies(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


class QuarantineSettings(DatabaseSettings, DecodeLimitSettings):
    """`smartpole quarantine list|show|replay|purge`: replay validates with the limits
    ingest uses."""

    used_by: ClassVar[str] = "quarantine"


class StaPublisherSettings(DatabaseSettings, MqttSettings):
    """`smartpole sta-publish`: the SensorThings MQTT extension (receive updates),
    as the platform-publisher identity."""

    used_by: ClassVar[str] = "sta-publish"

    sta_mqtt_families: str = Field(
        default=",".join(f.value for f in METRIC_FAMILIES),
        description="Comma-separated families whose committed observations are published "
        "to v1.1/Datastreams(<id>)/Observations (default: every family the SensorThings "
        "facade serves). An env reading is up to nine observations: leave env out to "
        "publish fewer messages. Empty: publish nothing (the publisher still follows the "
        "change feed).",
    )
    sta_mqtt_base_url: str = Field(
        default="",
        description="Absolute URL of the SensorThings facade that starts every published "
        "Observation's @iot.selfLink, e.g. https://data.example.org/sta/v1.1 (the same as "
        "SMARTPOLE_API_STA_EXTERNAL_URL, or the API's own URL plus /sta/v1.1). Required; "
        "`smartpole up` sets it.",
    )
    sta_mqtt_name: str = Field(
        default="default",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Name under which the publisher keeps its position in the change feed "
        "(table sta_mqtt_position) and, prefixed, its MQTT client id: a second publisher to "
        "another broker takes another name.",
    )
    sta_mqtt_max_inflight: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="Publishes sent and not yet acknowledged by the broker (QoS 1) at most; "
        "the publisher waits for acknowledgements beyond that.",
    )
    sta_mqtt_poll_interval_ms: int = Field(
        default=200,
        ge=10,
        le=60000,
        description="How long the publisher waits before it reads the change feed again "
        "when it found nothing new.",
    )

    sta_mqtt_stats_interval_s: float = Field(
        default=30.0, gt=0, description="How often the SensorThings publisher logs its counters."
    )

    @field_validator("sta_mqtt_families")
    @classmethod
    def _check_families(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        served = {f.value for f in METRIC_FAMILIES}
        unknown = [name for name in names if name not in served]
        if unknown:
            raise ValueError(
                f"unknown families {', '.join(unknown)[:200]}; "
                f"choose from {', '.join(sorted(served))}"
            )
        return ",".join(dict.fromkeys(names))

    @property
    def published_families(self) -> frozenset[Family]:
        return frozenset(Family(n) for n in self.sta_mqtt_families.split(",") if n)


class InventorySettings(DatabaseSettings, CityAreaSettings):
    """`smartpole poles import|export|decommission|history`: the pole inventory."""

    used_by: ClassVar[str] = "poles"


class SimulatorSettings(MqttSettings, LocalTimeSettings, DecodeLimitSettings):
    """`smartpole simulate`: simulated poles publishing to the broker."""

    used_by: ClassVar[str] = "simulate"

    simulator_credentials: Path | None = Field(
        default=None,
        description="Folder of commissioning files (`smartpole poles credentials issue "
        "--out`), or one file: each simulated pole connects with its own identity, as a "
        "real pole does (--credentials overrides). Unset: one shared connection with the "
        "identity of SMARTPOLE_MQTT_URL, which the shipped broker roles do not allow to "
        "publish for poles.",
    )
    simulator_resend_attempts: int = Field(
        default=10,
        ge=1,
        le=100,
        description='Sends in all of a reading the broker answers with PUBACK 0x10 ("no '
        'matching subscribers": taken and discarded, e.g. while ingest re-subscribes after a '
        "broker restart). The pole contract counts 0x10 as not stored; after the last "
        "attempt the reading is reported as undelivered. 1: never resend.",
    )
    simulator_resend_backoff_s: float = Field(
        default=0.5,
        ge=0,
        allow_inf_nan=False,
        description="Wait before the first resend of a reading answered with 0x10; doubles "
        "with every further attempt, up to SMARTPOLE_SIMULATOR_RESEND_BACKOFF_MAX_S.",
    )
    simulator_resend_backoff_max_s: float = Field(
        default=15.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="Longest wait between two sends of a reading answered with 0x10 (the "
        "defaults keep a reading for about 90 s: longer than ingest's reconnect backoff).",
    )


class BrokerAdminSettings(DatabaseSettings, MqttSettings):
    """`smartpole poles credentials` and `smartpole broker`: the broker's admin
    channel (at the host, port and TLS options of SMARTPOLE_MQTT_URL) and the
    credential registry."""

    used_by: ClassVar[str] = "poles credentials"

    broker_admin_username: str = Field(
        default="smartpole.admin",
        description="Identity on the broker's admin channel ($CONTROL/dynamic-security/v1).",
    )
    broker_admin_password_file: Path | None = Field(
        default=None,
        description="File holding the broker admin's password (written by `smartpole broker "
        "init`). Needed to issue, rotate or revoke credentials; never given on a command line.",
    )

    def broker_admin(self) -> MqttEndpoint:
        """The broker as its administrator reaches it."""
        if self.broker_admin_password_file is None:
            raise ConfigError(
                "SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE is not set: the broker's admin "
                "password is needed (see `smartpole broker init`)"
            )
        password = read_secret_file(self.broker_admin_password_file, "BROKER_ADMIN_PASSWORD_FILE")
        return self.mqtt.with_credentials(self.broker_admin_username, password)


class PoleRetirementSettings(InventorySettings, BrokerAdminSettings):
    """`smartpole poles decommission`: the registry, and the broker's admin channel
    to revoke the retired pole's credentials in the same step."""

    used_by: ClassVar[str] = "poles decommission"


class BrokerAccountSettings(BrokerAdminSettings):
    """`smartpole broker accounts`: the platform's service accounts."""

    used_by: ClassVar[str] = "broker"


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
    local_mqtts_port: int = Field(
        default=18883,
        ge=1,
        le=65535,
        description="TLS port of that local Mosquitto (its certificate from a development CA "
        "under SMARTPOLE_STATE_DIR/certs); the simulated fleet connects here.",
    )
    up_simulated_poles: int = Field(
        default=25,
        ge=0,
        le=10000,
        description="Size of the simulated fleet `smartpole up` runs; 0 runs no simulator.",
    )
    up_register_fleet: Literal["local", "always", "never"] = Field(
        default="local",
        description="Whether `smartpole up` imports the simulated fleet's inventory (positions, "
        "districts, connectors) before the fleet starts. local: only into the database it "
        "started itself, never into SMARTPOLE_DATABASE_URL; always: also into that one; "
        "never: not at all.",
    )


class UpSettings(
    StorageSettings,
    IngestSettings,
    ApiSettings,
    SimulatorSettings,
    BrokerAdminSettings,
    StaPublisherSettings,
    LocalRunSettings,
):
    """`smartpole up` runs every service, so it validates every service's settings
    before it starts anything (the children read their own class again)."""

    used_by: ClassVar[str] = "up"


# Every class a command reads, in the order the README lists their variables.
SERVICE_SETTINGS: tuple[type[ServiceSettings], ...] = (
    StorageSettings,
    IngestSettings,
    ApiSettings,
    StaPublisherSettings,
    InventorySettings,
    QuarantineSettings,
    SimulatorSettings,
    BrokerAdminSettings,
    PoleRetirementSettings,
    BrokerAccountSettings,
    DashboardSettings,
    LocalRunSettings,
)
