"""`smartpole up`: the whole platform on one machine, with one command.

Starts what is missing (a local PostgreSQL and Mosquitto, unless
SMARTPOLE_DATABASE_URL / SMARTPOLE_MQTT_URL point elsewhere), migrates, then
runs ingest, the API and a simulated fleet as child processes, prints where
to look, and on Ctrl-C (or SIGTERM) stops everything in dependency order:
simulator, API, ingest (which flushes and acks what it holds), broker,
database. Nothing it started outlives it.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

import storage.cli
from smartpole.local_services import (
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
from smartpole.settings import Settings

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 15.0
API_START_TIMEOUT_S = 60.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = commands.add_parser(
        "up",
        help="run the whole platform locally: database, broker, ingest, API, simulated fleet",
        description="Run smartpole on this machine. Without SMARTPOLE_DATABASE_URL / "
        "SMARTPOLE_MQTT_URL it starts its own PostgreSQL and Mosquitto, keeping their data "
        "under SMARTPOLE_STATE_DIR. Ctrl-C stops everything.",
    )
    up.set_defaults(handler=run_up)


@dataclass
class Launcher:
    """What `smartpole up` has started, in start order."""

    settings: Settings
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


def run_up(args: argparse.Namespace, settings: Settings) -> int:
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


def _run(launcher: Launcher) -> int:
    settings = launcher.settings
    api_host = settings.api_host
    local_pg = settings.database_url is None
    local_mqtt = settings.mqtt_url is None
    claims = [PortClaim("API", api_host, settings.api_port, "SMARTPOLE_API_PORT")]
    if local_pg:
        claims.append(
            PortClaim("PostgreSQL", "127.0.0.1", settings.local_pg_port, "SMARTPOLE_LOCAL_PG_PORT")
        )
    if local_mqtt:
        claims.append(
            PortClaim(
                "Mosquitto", "127.0.0.1", settings.local_mqtt_port, "SMARTPOLE_LOCAL_MQTT_PORT"
            )
        )
    # All ports are checked before anything starts, so a clash leaves nothing behind.
    problems = taken_ports(claims)
    if problems:
        raise LocalServiceError("\n  ".join(["cannot start:", *problems]))

    state_dir = settings.state_dir.resolve()
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    if local_pg:
        server, database_url = start_postgres(
            state_dir, settings.local_pg_port, logs, launcher.should_stop
        )
        launcher.started.append(server)
        log.info("PostgreSQL on 127.0.0.1:%d, data in %s", settings.local_pg_port,
                 state_dir / "postgres")  # fmt: skip
    else:
        database_url = settings.require_database_url()
        log.info("using the database from SMARTPOLE_DATABASE_URL")
    if local_mqtt:
        broker, mqtt_url = start_mosquitto(
            state_dir, settings.local_mqtt_port, logs, launcher.should_stop
        )
        launcher.started.append(broker)
        log.info("Mosquitto on 127.0.0.1:%d", settings.local_mqtt_port)
    else:
        mqtt_url = settings.mqtt_url or ""
        log.info("using the broker at %s", settings.mqtt.redacted())

    service_settings = settings.model_copy(
        update={"database_url": database_url, "mqtt_url": mqtt_url}
    )
    if storage.cli.run_migrate(argparse.Namespace(), service_settings) != 0:
        raise LocalServiceError("migration failed")
    if launcher.stop_requested:
        raise StopRequested

    env = {
        **inherited_env(),
        "SMARTPOLE_DATABASE_URL": database_url,
        "SMARTPOLE_MQTT_URL": mqtt_url,
    }
    smartpole = [sys.executable, "-m", "smartpole.cli"]
    launcher.started.append(
        start_process(
            "ingest",
            [*smartpole, "ingest"],
            logs / "ingest.log",
            # ingest flushes its batch and acks it on SIGINT before exiting.
            stop_signal=signal.SIGINT,
            stop_timeout_s=60,
            env=env,
        )
    )
    api = start_process(
        "api",
        [*smartpole, "api"],
        logs / "api.log",
        stop_signal=signal.SIGINT,
        stop_timeout_s=20,
        env=env,
    )
    launcher.started.append(api)
    api_base = f"http://{_reachable_host(api_host)}:{settings.api_port}"
    wait_for(
        lambda: _health(api_base) is not None,
        what="the API",
        timeout_s=API_START_TIMEOUT_S,
        process=api,
        should_stop=launcher.should_stop,
    )
    # The simulator starts last: by now ingest has had the API's start-up time
    # to subscribe, so the fleet's first messages already have a reader.
    simulator_argv = _simulator_command(settings.up_simulated_poles)
    if simulator_argv is not None:
        launcher.started.append(
            start_process(
                "simulator",
                [*smartpole, *simulator_argv],
                logs / "simulator.log",
                stop_signal=signal.SIGINT,
                stop_timeout_s=15,
                env=env,
            )
        )
    _print_banner(
        settings,
        api_base=api_base,
        mqtt_url=mqtt_url,
        database_url=database_url,
        logs=logs,
        simulator_argv=simulator_argv,
    )
    return _supervise(launcher, api_base)


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
    print("\nsmartpole up: stopping (simulator, api, ingest, broker, database)...",
          file=sys.stderr, flush=True)  # fmt: skip
    return 0


def _simulator_command(poles: int) -> list[str] | None:
    if poles == 0:
        return None
    # A live fleet: real-time pacing (speed 1) over the longest period the
    # simulator accepts, each family reporting every 10 s so that a newcomer
    # sees data move within seconds (real poles report every few minutes).
    return [
        "simulate", "fleet", "--poles", str(poles), "--speed", "1", "--duration", "366d",
        "--interval", "10s",
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
    settings: Settings,
    *,
    api_base: str,
    mqtt_url: str,
    database_url: str,
    logs: Path,
    simulator_argv: list[str] | None,
) -> None:
    mqtt = settings.model_copy(update={"mqtt_url": mqtt_url}).mqtt
    fleet = (
        f"{settings.up_simulated_poles} simulated poles publishing"
        if simulator_argv
        else "no simulated fleet"
    )
    print(
        f"""
smartpole is running: {fleet}.

  API docs      {api_base}/docs
  health        curl -s {api_base}/health
  poles         curl -s '{api_base}/v1/poles?limit=5'
  latest        curl -s {api_base}/v1/latest
  pole health   curl -s '{api_base}/v1/health/poles?limit=5'
  MQTT          mosquitto_sub -h {mqtt.host} -p {mqtt.port} -v -t 'smartpole/v1/poles/#'
  database      psql {_redact_password(database_url)}
  logs          {logs}/*.log

Ctrl-C stops everything.
""",
        flush=True,
    )


def _redact_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
