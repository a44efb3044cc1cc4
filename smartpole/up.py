"""`smartpole up`: the whole platform on one machine, with one command.

Starts what is missing (a local PostgreSQL and Mosquitto, unless
SMARTPOLE_DATABASE_URL / SMARTPOLE_MQTT_URL point elsewhere), migrates,
registers the simulated fleet (its inventory imported into the registry, so
every pole is on the map, in its district, with its connectors, before its
first message) and issues its broker credentials, then runs ingest, the API,
the SensorThings MQTT publisher (with the local broker only: it needs the
platform-publisher identity) and the fleet as child processes, prints where to
look, and on Ctrl-C (or SIGTERM) stops everything in dependency order:
simulator, SensorThings publisher (which waits for the broker's
acknowledgements and stores its position), API, ingest (which flushes and
acks what it holds), broker, database. Nothing it started outlives it.

The fleet's seed is kept in SMARTPOLE_STATE_DIR/fleet-seed, so every run on
the same state simulates the same poles and re-importing their inventory
changes nothing. A simulated inventory goes only into the database `up`
started itself, unless SMARTPOLE_UP_REGISTER_FLEET=always.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from brokerauth import commissioning, credentials
from brokerauth.bootstrap import ADMIN_ACCOUNT, INGEST_ACCOUNT, PLATFORM_ACCOUNT, password_file
from brokerauth.dynsec import BrokerAdmin, BrokerAdminError
from config import ConfigError
from config.endpoints import MqttEndpoint, redact_url
from config.services import StorageSettings, UpSettings
from inventory.geo import CityArea, Districts
from inventory.importer import ImportOptions, import_inventory
from models.sensorthings.observation import FACADE_PATH as STA_PREFIX
from simulators.city import (
    DEFAULT_CITY,
    DEFAULT_LATITUDE,
    DEFAULT_LONGITUDE,
    City,
    fleet_pole_ids,
    seeded_fleet,
)
from simulators.districts import city_bbox, district_outlines
from simulators.inventory import write_inventory
from smartpole.local_services import (
    LOCAL_CONSUMER,
    LocalBroker,
    LocalServiceError,
    ManagedProcess,
    PortClaim,
    StopRequested,
    inherited_env,
    start_mosquitto,
    start_postgres,
    start_process,
    taken_ports,
    wait_for,
)
from storage.cli import log_report
from storage.connection import connect
from storage.migrate import MigrationError, migrate_database

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 15.0
API_START_TIMEOUT_S = 60.0
SMARTPOLE = [sys.executable, "-m", "smartpole.cli"]
FLEET_INTERVAL_S = 10
FLEET_SEED_FILE = "fleet-seed"
FLEET_INVENTORY_FILE = "fleet-inventory.geojson"
DISTRICTS_FILE = "districts.geojson"
REGISTERED_BY = "smartpole up"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = commands.add_parser(
        "up",
        help="run the whole platform locally: database, broker, ingest, API, simulated fleet",
        description="Run smartpole on this machine. Without SMARTPOLE_DATABASE_URL / "
        "SMARTPOLE_MQTT_URL it starts its own PostgreSQL and Mosquitto, keeping their data "
        "under SMARTPOLE_STATE_DIR. Ctrl-C stops everything.",
    )
    up.set_defaults(handler=run_up, settings_class=UpSettings)


@dataclass
class Launcher:
    """What `smartpole up` has started, in start order."""

    settings: UpSettings
    started: list[ManagedProcess] = field(default_factory=list)
    stop_requested: bool = False
    stopping: bool = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            print("smartpole up: still stopping, please wait", file=sys.stderr, flush=True)
            return
        self.stop_requested = True

    def should_stop(self) -> bool:
        return self.stop_requested

    def stop_all(self) -> None:
        self.stopping = True
        for managed in reversed(self.started):
            if managed.running():
                log.info("stopping %s (pid %d)", managed.name, managed.pid)
            code = managed.stop()
            log.debug("%s exited with %s", managed.name, code)
        self.started.clear()


def run_up(args: argparse.Namespace, settings: UpSettings) -> int:
    launcher = Launcher(settings)
    previous = {
        sig: signal.signal(sig, launcher.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        return _run(launcher)
    except StopRequested:
        return 0
    except LocalServiceError as exc:
        print(f"smartpole up: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"smartpole up: database error: {exc}", file=sys.stderr)
        return 1
    finally:
        launcher.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("smartpole up: stopped", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the services of this run find the database and the broker, and as
    whom: ingest and the simulated fleet each get their own MQTT settings."""

    database_url: str
    ingest_mqtt: dict[str, str]
    simulator_mqtt: dict[str, str]
    admin: MqttEndpoint | None  # to issue the fleet's credentials, when we may
    watch_command: str  # the banner's mosquitto_sub line
    # Settings the children get from this run (the simulated city's area).
    extra_env: dict[str, str] = field(default_factory=dict)
    # The SensorThings publisher's identity; None: not started (an external
    # broker, whose platform-publisher identity this run does not have).
    publisher_mqtt: dict[str, str] | None = None


def _run(launcher: Launcher) -> int:
    settings = launcher.settings
    _check_ports(settings)
    state_dir = settings.state_dir.resolve()
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    database_url = _database(launcher, state_dir, logs)
    endpoints = _broker(launcher, state_dir, logs, database_url)
    _migrate(settings, endpoints)
    if launcher.stop_requested:
        raise StopRequested
    seed = _fleet_seed(state_dir) if settings.up_simulated_poles else None
    if seed is not None:
        _register_fleet(settings, endpoints, state_dir, seed)
    fleet = _fleet_credentials(settings, endpoints, state_dir)
    metrics_port = _ingest_metrics_port(settings)
    api_base = _start_services(launcher, endpoints, logs, metrics_port)
    simulator_argv = _start_simulator(launcher, endpoints, logs, fleet, seed)
    metrics = f"http://{_reachable_host(settings.ingest_metrics_host)}:{metrics_port}/metrics"
    _print_banner(
        settings,
        api_base=api_base,
        endpoints=endpoints,
        logs=logs,
        simulator_argv=simulator_argv,
        ingest_metrics=metrics,
    )
    return _supervise(launcher, api_base)


def _check_ports(settings: UpSettings) -> None:
    """Every port this run listens on, checked before anything starts, so a
    clash leaves nothing behind."""
    claims = [PortClaim("API", settings.api_host, settings.api_port, "SMARTPOLE_API_PORT")]
    if settings.database_url is None:
        claims.append(
            PortClaim("PostgreSQL", "127.0.0.1", settings.local_pg_port, "SMARTPOLE_LOCAL_PG_PORT")
        )
    if settings.mqtt_url is None:
        claims.append(
            PortClaim(
                "Mosquitto", "127.0.0.1", settings.local_mqtt_port, "SMARTPOLE_LOCAL_MQTT_PORT"
            )
        )
        claims.append(
            PortClaim(
                "Mosquitto TLS",
                "127.0.0.1",
                settings.local_mqtts_port,
                "SMARTPOLE_LOCAL_MQTTS_PORT",
            )
        )
    if settings.ingest_metrics_port:
        claims.append(
            PortClaim(
                "ingest metrics",
                settings.ingest_metrics_host,
                settings.ingest_metrics_port,
                "SMARTPOLE_INGEST_METRICS_PORT",
            )
        )
    problems = taken_ports(claims)
    if problems:
        raise LocalServiceError("\n  ".join(["cannot start:", *problems]))


def _ingest_metrics_port(settings: UpSettings) -> int:
    """The port ingest serves its metrics on: the setting, or a free port the
    system picks (one worker here; each worker needs a port of its own)."""
    if settings.ingest_metrics_port:
        return settings.ingest_metrics_port
    with socket.socket(socket.AF_INET6 if ":" in settings.ingest_metrics_host
                       else socket.AF_INET) as probe:  # fmt: skip
        probe.bind((settings.ingest_metrics_host, 0))
        return int(probe.getsockname()[1])


def _database(launcher: Launcher, state_dir: Path, logs: Path) -> str:
    settings = launcher.settings
    if settings.database_url is not None:
        log.info("using the database from SMARTPOLE_DATABASE_URL")
        return settings.require_database_url()
    server, database_url = start_postgres(
        state_dir, settings.local_pg_port, logs, launcher.should_stop
    )
    launcher.started.append(server)
    log.info("PostgreSQL on 127.0.0.1:%d, data in %s", settings.local_pg_port,
             state_dir / "postgres")  # fmt: skip
    return database_url


def _broker(launcher: Launcher, state_dir: Path, logs: Path, database_url: str) -> Endpoints:
    settings = launcher.settings
    if settings.mqtt_url is not None:
        log.info("using the broker at %s", settings.mqtt.redacted())
        try:
            admin = settings.broker_admin() if settings.broker_admin_password_file else None
        except ConfigError as exc:
            raise LocalServiceError(str(exc)) from exc
        mqtt = settings.mqtt
        # Both services read the broker settings they were given.
        return Endpoints(
            database_url, {}, {}, admin,
            f"mosquitto_sub -h {mqtt.host} -p {mqtt.port} -v -t 'smartpole/v1/poles/#' "
            "(with a consumer identity)",
        )  # fmt: skip
    process, broker = start_mosquitto(
        state_dir, settings.local_mqtt_port, logs, launcher.should_stop,
        tls_port=settings.local_mqtts_port,
    )  # fmt: skip
    launcher.started.append(process)
    log.info("Mosquitto on 127.0.0.1:%d and, with TLS, :%d (authentication on)",
             settings.local_mqtt_port, settings.local_mqtts_port)  # fmt: skip
    return _local_endpoints(database_url, broker, state_dir)


def _local_endpoints(database_url: str, broker: LocalBroker, state_dir: Path) -> Endpoints:
    """Ingest on the plain listener as the ingest role, as on the compose
    network; the fleet over TLS, each pole with its own identity, as poles
    across the city do. Passwords travel in files, never in a URL."""
    assert broker.certs is not None and broker.tls_port is not None
    consumer_password = password_file(broker.secrets_dir, LOCAL_CONSUMER)
    return Endpoints(
        database_url,
        ingest_mqtt={
            "SMARTPOLE_MQTT_URL": f"mqtt://{INGEST_ACCOUNT}@127.0.0.1:{broker.port}",
            "SMARTPOLE_MQTT_PASSWORD_FILE": str(password_file(broker.secrets_dir, INGEST_ACCOUNT)),
        },
        simulator_mqtt={
            "SMARTPOLE_MQTT_URL": f"mqtts://127.0.0.1:{broker.tls_port}",
            "SMARTPOLE_MQTT_TLS_CA_FILE": str(broker.certs.ca_cert),
            "SMARTPOLE_SIMULATOR_CREDENTIALS": str(_fleet_folder(state_dir)),
        },
        admin=broker.endpoint(ADMIN_ACCOUNT),
        publisher_mqtt={
            "SMARTPOLE_MQTT_URL": f"mqtt://{PLATFORM_ACCOUNT}@127.0.0.1:{broker.port}",
            "SMARTPOLE_MQTT_PASSWORD_FILE": str(
                password_file(broker.secrets_dir, PLATFORM_ACCOUNT)
            ),
        },
        watch_command=(
            f"mosquitto_sub -h 127.0.0.1 -p {broker.port} -u {LOCAL_CONSUMER} "
            f"-P \"$(cat {consumer_password})\" -v -t 'smartpole/v1/poles/#'"
        ),
    )


def _fleet_folder(state_dir: Path) -> Path:
    return state_dir / "fleet"


def _fleet_credentials(settings: UpSettings, endpoints: Endpoints, state_dir: Path) -> Path | None:
    """Commissioning files for the simulated fleet, issued like any pole's and
    kept for the next run; None when this run may not issue them (an external
    broker without SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE)."""
    if settings.up_simulated_poles == 0 or endpoints.admin is None:
        return None
    folder = _fleet_folder(state_dir)
    city = City.named(DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE)
    pole_ids = fleet_pole_ids(city, settings.up_simulated_poles)
    try:
        with (
            psycopg.connect(endpoints.database_url) as conn,
            BrokerAdmin(endpoints.admin) as admin,
        ):
            listed = {row["pole_id"]: row.get("broker") for row in credentials.listing(conn, admin)}
            held = {p for p in pole_ids if commissioning.file_for(folder, p).is_file()}
            working = {p for p in pole_ids if listed.get(p) == "enabled"}
            lost = sorted(working - held)  # the broker has them, but the file is gone
            outcome = credentials.issue(conn, admin, pole_ids, actor="smartpole up")
            rotated = credentials.rotate(conn, admin, lost, actor="smartpole up") if lost else None
    except (BrokerAdminError, credentials.CredentialError) as exc:
        raise LocalServiceError(f"cannot issue the simulated fleet's credentials: {exc}") from exc
    for issued in [*outcome.issued, *(rotated.issued if rotated else [])]:
        commissioning.write(folder, issued.identity, issued_at=issued.at, broker_url=None)
    made = len(outcome.issued) + (len(rotated.issued) if rotated else 0)
    if made:
        log.info("issued broker credentials for %d simulated poles into %s", made, folder)
    return folder


def _fleet_seed(state_dir: Path) -> int:
    """The local fleet's seed: read from the state directory, made once."""
    path = state_dir / FLEET_SEED_FILE
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        seed = random.SystemRandom().randrange(2**31)
        path.write_text(f"{seed}\n")
        log.info("new simulated fleet, seed %d (kept in %s)", seed, path)
        return seed


def _register_fleet(settings: UpSettings, endpoints: Endpoints, state_dir: Path, seed: int) -> None:
    """Write the simulated city's district outlines and the fleet's inventory to
    the state directory and import the inventory (local database only, unless
    SMARTPOLE_UP_REGISTER_FLEET=always)."""
    city = City.named(DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE)
    districts_path = state_dir / DISTRICTS_FILE
    outlines = district_outlines(city)
    partial = districts_path.with_name(districts_path.name + ".partial")
    partial.write_text(json.dumps(outlines, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(districts_path)
    mode = settings.up_register_fleet
    if mode == "never" or (mode == "local" and settings.database_url is not None):
        why = "SMARTPOLE_UP_REGISTER_FLEET=never" if mode == "never" else (
            "SMARTPOLE_DATABASE_URL is an external database; "
            "SMARTPOLE_UP_REGISTER_FLEET=always imports it there"
        )  # fmt: skip
        log.info("simulated fleet not registered (%s)", why)
        return
    # The API's admin import checks against the same city, unless configured otherwise.
    bbox = settings.bbox or city_bbox(city)
    if settings.city_bbox is None:
        endpoints.extra_env["SMARTPOLE_CITY_BBOX"] = ",".join(f"{v:g}" for v in bbox)
    if settings.district_boundaries is None:
        endpoints.extra_env["SMARTPOLE_DISTRICT_BOUNDARIES"] = str(districts_path)
        area = CityArea(bbox, Districts.from_geojson(outlines, "name", str(districts_path)))
    else:
        area = CityArea.from_settings(settings)
    poles = seeded_fleet(city, settings.up_simulated_poles, seed, FLEET_INTERVAL_S)
    inventory = state_dir / FLEET_INVENTORY_FILE
    write_inventory(inventory, poles)
    with connect(endpoints.database_url) as conn, inventory.open("rb") as stream:
        report = import_inventory(
            conn,
            stream,
            source_name=inventory.name,
            options=ImportOptions(),
            area=area,
            changed_by=REGISTERED_BY,
        )
    try:
        if not report.written:
            rejected = [f"{r.get('pole_id')}: {r['reason']}" for r in report.rows("rejected")]
            raise LocalServiceError(
                "the simulated fleet's inventory was rejected (nothing written):\n  "
                + "\n  ".join(rejected[:10])
            )
        c = report.counts
        print(
            f"registered the simulated fleet ({inventory}): {c['created']} created, "
            f"{c['updated']} updated, {c['unchanged']} unchanged",
            flush=True,
        )
    finally:
        report.close()


def _migrate(settings: UpSettings, endpoints: Endpoints) -> None:
    storage_settings = StorageSettings.model_validate(
        {**settings.model_dump(include=set(StorageSettings.model_fields)),
         "database_url": endpoints.database_url}
    )  # fmt: skip
    try:
        log_report(migrate_database(storage_settings))
    except MigrationError as exc:
        raise LocalServiceError(f"migration failed: {exc}") from exc


def _child_env(endpoints: Endpoints, mqtt: dict[str, str]) -> dict[str, str]:
    # Children read their own settings from the environment, as in production;
    # only where the database and the broker are (and as whom), and for a
    # simulated city where it lies, differs.
    env = inherited_env()
    if mqtt:  # the local broker: none of the caller's broker settings apply
        env = {k: v for k, v in env.items() if not k.startswith("SMARTPOLE_MQTT_")}
    return {
        **env,
        "SMARTPOLE_DATABASE_URL": endpoints.database_url,
        **endpoints.extra_env,
        **mqtt,
    }


def _start_services(launcher: Launcher, endpoints: Endpoints, logs: Path, metrics_port: int) -> str:
    """Ingest and the API; returns the API's base URL once it answers."""
    settings = launcher.settings
    ingest_env = {
        **_child_env(endpoints, endpoints.ingest_mqtt),
        "SMARTPOLE_INGEST_METRICS_PORT": str(metrics_port),
    }
    launcher.started.append(
        start_process(
            "ingest",
            [*SMARTPOLE, "ingest"],
            logs / "ingest.log",
            # ingest flushes its batch and acks it on SIGINT before exiting.
            stop_signal=signal.SIGINT,
            stop_timeout_s=60,
            env=ingest_env,
        )
    )
    api = start_process(
        "api",
        [*SMARTPOLE, "api"],
        logs / "api.log",
        stop_signal=signal.SIGINT,
        stop_timeout_s=20,
        env=_child_env(endpoints, {}),
    )
    launcher.started.append(api)
    api_base = f"http://{_reachable_host(settings.api_host)}:{settings.api_port}"
    wait_for(
        lambda: _health(api_base) is not None,
        what="the API",
        timeout_s=API_START_TIMEOUT_S,
        process=api,
        should_stop=launcher.should_stop,
    )
    _start_sta_publisher(launcher, endpoints, logs, api_base)
    return api_base


def _start_sta_publisher(
    launcher: Launcher, endpoints: Endpoints, logs: Path, api_base: str
) -> None:
    """`smartpole sta-publish` as the platform-publisher identity, its links the
    facade's (SMARTPOLE_STA_MQTT_BASE_URL, else the API's external or own URL)."""
    settings = launcher.settings
    if endpoints.publisher_mqtt is None:
        log.info(
            "SensorThings MQTT publisher not started: the broker is external; run "
            "`smartpole sta-publish` with its platform-publisher identity"
        )
        return
    base = settings.sta_mqtt_base_url or settings.api_sta_external_url or f"{api_base}{STA_PREFIX}"
    launcher.started.append(
        start_process(
            "sta-publish",
            [*SMARTPOLE, "sta-publish"],
            logs / "sta-publish.log",
            # it waits for the outstanding PUBACKs and stores its position.
            stop_signal=signal.SIGTERM,
            stop_timeout_s=40,
            env={
                **_child_env(endpoints, endpoints.publisher_mqtt),
                "SMARTPOLE_STA_MQTT_BASE_URL": base,
            },
        )
    )


def _start_simulator(
    launcher: Launcher, endpoints: Endpoints, logs: Path, fleet: Path | None, seed: int | None
) -> list[str] | None:
    # The simulator starts last: by now ingest has had the API's start-up time
    # to subscribe, so the fleet's first messages already have a reader.
    simulator_argv = _simulator_command(launcher.settings.up_simulated_poles, seed)
    if simulator_argv is not None:
        launcher.started.append(
            start_process(
                "simulator",
                [*SMARTPOLE, *simulator_argv],
                logs / "simulator.log",
                stop_signal=signal.SIGINT,
                stop_timeout_s=15,
                env=_child_env(
                    endpoints,
                    {
                        **endpoints.simulator_mqtt,
                        **({"SMARTPOLE_SIMULATOR_CREDENTIALS": str(fleet)} if fleet else {}),
                    },
                ),
            )
        )
    return simulator_argv


def _supervise(launcher: Launcher, api_base: str) -> int:
    """Wait for Ctrl-C; report progress; stop everything if a service dies."""
    next_status = time.monotonic() + 5.0
    while not launcher.stop_requested:
        for managed in launcher.started:
            if not managed.running():
                print(
                    f"smartpole up: {managed.name} exited unexpectedly (code "
                    f"{managed.process.returncode}); stopping everything. Its log "
                    f"{managed.logfile}:\n{managed.log_tail()}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        if time.monotonic() >= next_status:
            print(_status_line(_health(api_base)), flush=True)
            next_status = time.monotonic() + STATUS_INTERVAL_S
        time.sleep(0.2)
    print("\nsmartpole up: stopping (simulator, sta-publish, api, ingest, broker, database)...",
          file=sys.stderr, flush=True)  # fmt: skip
    return 0


def _simulator_command(poles: int, seed: int | None) -> list[str] | None:
    if poles == 0 or seed is None:
        return None
    # A live fleet: real-time pacing (speed 1) over the longest period the
    # simulator accepts, each family reporting every 10 s so that a newcomer
    # sees data move within seconds (real poles report every few minutes).
    return [
        "simulate", "fleet", "--poles", str(poles), "--speed", "1", "--duration", "366d",
        "--interval", f"{FLEET_INTERVAL_S}s", "--seed", str(seed),
    ]  # fmt: skip


def _health(api_base: str) -> dict[str, Any] | None:
    """/health as a dict; None while the API does not answer at all."""
    try:
        with urllib.request.urlopen(f"{api_base}/health", timeout=2) as response:  # noqa: S310
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:  # 503: up, but the database is not
        try:
            body = json.loads(exc.read())
        except ValueError:
            body = {"status": f"HTTP {exc.code}"}
        return body
    except (OSError, ValueError):
        return None


def _status_line(health: dict[str, Any] | None) -> str:
    stamp = time.strftime("%H:%M:%S")
    if health is None:
        return f"[{stamp}] API not answering"
    age = health.get("last_message_age_s")
    newest = "no message yet" if age is None else f"newest message {age:.1f} s ago"
    return f"[{stamp}] {health.get('status')}: {health.get('poles')} poles, {newest}"


def _reachable_host(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104


def _print_banner(
    settings: UpSettings,
    *,
    api_base: str,
    endpoints: Endpoints,
    logs: Path,
    simulator_argv: list[str] | None,
    ingest_metrics: str,
) -> None:
    nearest = f"status=Available&lat={DEFAULT_LATITUDE}&lon={DEFAULT_LONGITUDE}&limit=1"
    fleet = (
        f"{settings.up_simulated_poles} simulated poles publishing"
        if simulator_argv
        else "no simulated fleet"
    )
    print(
        f"""
smartpole is running: {fleet}.

  live map      {api_base}/map
  API docs      {api_base}/docs
  health        curl -s {api_base}/health
  poles         curl -s '{api_base}/v1/poles?limit=5'
  map data      curl -s {api_base}/v1/poles.geojson
  charge here   curl -s '{api_base}/v1/ev/connectors?{nearest}'
  latest        curl -s {api_base}/v1/latest
  pole health   curl -s '{api_base}/v1/health/poles?limit=5'
  metrics       curl -s {ingest_metrics}   (ingest; the API: {api_base}/metrics)
  MQTT          {endpoints.watch_command}
  SensorThings  curl -s {api_base}{STA_PREFIX}/Datastreams
  STA MQTT      v1.1/Datastreams(<id>)/Observations (consumer role)
  database      psql {redact_url(endpoints.database_url)}
  logs          {logs}/*.log

Ctrl-C stops everything.
""",
        flush=True,
    )
