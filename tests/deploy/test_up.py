"""`smartpole up` itself: refusing taken ports and bad settings cleanly,
using external services without starting its own, and the local broker
configuration it derives from the repository's mosquitto.conf."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from smartpole.local_services import (
    REPO_MOSQUITTO_CONF,
    prepare_local_broker,
    render_local_mosquitto_conf,
    timescaledb_installed,
)
from tests.deploy.launch import REPO, Launch, launch_env, processes_marked
from tests.support import samples
from tests.support.mqtt import TestPublisher
from tests.support.services import MosquittoServer, wait_until

UP = [sys.executable, "-m", "smartpole.cli", "up"]


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("setting", "what"),
    [
        ("api_port", "API"),
        ("local_pg_port", "PostgreSQL"),
        ("local_mqtt_port", "Mosquitto"),
        ("ingest_metrics_port", "ingest metrics"),
    ],
)
def test_a_taken_port_is_reported_and_nothing_starts(
    tmp_path: Path, occupied_port: int, setting: str, what: str
) -> None:
    state_dir = tmp_path / "state"
    env = launch_env(state_dir, **{setting: occupied_port})
    result = subprocess.run(
        UP, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    expected = (
        f"{what} port {occupied_port} on 127.0.0.1 is already in use; "
        f"set SMARTPOLE_{setting.upper()} to a free port"
    )
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (state_dir / "postgres").exists()
    assert not processes_marked(str(state_dir))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMARTPOLE_LOCAL_PG_PORT", "70000"),
        ("SMARTPOLE_LOCAL_MQTT_PORT", "0"),
        ("SMARTPOLE_API_PORT", "eighty"),
        ("SMARTPOLE_UP_SIMULATED_POLES", "-1"),
        ("SMARTPOLE_DATABASE_URL", "mysql://root@localhost/smartpole"),
        ("SMARTPOLE_MQTT_URL", "http://broker:1883"),
    ],
)
def test_invalid_settings_are_refused_with_the_variable_named(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = {**launch_env(tmp_path / "state"), variable: value}
    result = subprocess.run(
        UP, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert f"invalid configuration: {variable}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()


def test_with_external_services_it_starts_none_of_its_own(
    tmp_path: Path, database_url: str, mosquitto: MosquittoServer, publisher: TestPublisher
) -> None:
    state_dir = tmp_path / "state"
    env = launch_env(
        state_dir,
        database_url=database_url,
        mqtt_url=mosquitto.url,
        up_simulated_poles=0,
        mqtt_client_id="up-external-test",
    )
    launch = Launch.start(UP, env, tmp_path / "up.log")
    try:
        launch.wait_for_output("Ctrl-C stops everything", timeout=120)
        names = {p.command for p in launch.seen}
        assert not [n for n in names if "postgres" in n or "mosquitto" in n], names
        assert not (state_dir / "postgres").exists()
        assert not (state_dir / "mosquitto").exists()

        # What is published on the external broker lands in the external database.
        publisher.publish_all([(samples.topic("UP-0001", "env"), samples.env(0))])
        with psycopg.connect(database_url) as conn:

            def stored() -> bool:
                row = conn.execute(
                    "SELECT count(*) FROM env_readings WHERE pole_id = 'UP-0001'"
                ).fetchone()
                conn.rollback()
                return row is not None and row[0] == 1

            wait_until(stored, 60, "the reading in the external database")
        # Ingest serves its metrics on a free port `up` picked, and the banner says where.
        found = re.search(r"metrics\s+curl -s (http://127\.0\.0\.1:\d+/metrics)", launch.text())
        assert found, launch.text()
        metrics_url = found[1]

        def counted() -> bool:
            with urllib.request.urlopen(metrics_url, timeout=5) as response:  # noqa: S310
                return "smartpole_ingest_readings_stored_total 1.0" in response.read().decode()

        wait_until(counted, 30, "the stored reading in ingest's metrics")
        assert launch.ctrl_c() == 0
        assert not [p for p in launch.seen if p.alive()]
        assert not processes_marked(str(state_dir))
    finally:
        launch.kill_leftovers()


def test_local_broker_config_keeps_the_guarantees_and_security_and_replaces_the_machine_parts(
    tmp_path: Path,
) -> None:
    repo_conf = REPO_MOSQUITTO_CONF.read_text()
    broker = prepare_local_broker(tmp_path / "state", 21883, 28883)
    rendered = render_local_mosquitto_conf(repo_conf + "\nuser mosquitto\n", broker)
    active = [
        line.split()
        for line in rendered.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    directives: dict[str, list[list[str]]] = {}
    for words in active:
        directives.setdefault(words[0], []).append(words[1:])
    assert directives["listener"] == [["21883", "127.0.0.1"], ["28883", "127.0.0.1"]]
    assert directives["persistence_location"] == [[f"{broker.data_dir}/"]]
    assert directives["plugin"] == [[str(broker.plugin)]]
    assert directives["plugin_opt_config_file"] == [[str(broker.dynsec_file)]]
    assert broker.certs is not None
    assert directives["certfile"] == [[str(broker.certs.server_cert)]]
    assert directives["keyfile"] == [[str(broker.certs.server_key)]]
    assert "user" not in directives
    # Security comes through from the repository's file, not relaxed.
    assert directives["allow_anonymous"] == [["false"]]
    assert directives["per_listener_settings"] == [["false"]]
    # What delivery depends on comes through from the repository's file.
    assert directives["persistence"] == [["true"]]
    assert int(directives["max_queued_messages"][0][0]) >= 10**9
    assert directives["max_inflight_messages"] == [["0"]]
    assert directives["message_size_limit"] == [["1048576"]]


def test_a_simulated_inventory_goes_into_an_external_database_only_when_asked(
    tmp_path: Path, database_url: str, mosquitto: MosquittoServer
) -> None:
    def run(log: str, **settings: str | int) -> str:
        state_dir = tmp_path / "state"
        env = launch_env(
            state_dir,
            database_url=database_url,
            mqtt_url=mosquitto.url,
            up_simulated_poles=3,
            mqtt_client_id="up-inventory-test",
            **settings,
        )
        launch = Launch.start(UP, env, tmp_path / log)
        try:
            launch.wait_for_output("Ctrl-C stops everything", timeout=120)
            assert launch.ctrl_c() == 0
            return launch.text()
        finally:
            launch.kill_leftovers()

    def registered() -> list[tuple[str, str]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute(  # type: ignore[return-value]
                "SELECT pole_id, changed_by FROM pole_registry_history ORDER BY pole_id"
            ).fetchall()

    output = run("first.log")
    assert "simulated fleet not registered (SMARTPOLE_DATABASE_URL is an external" in output
    assert registered() == []
    # The outlines of the simulated city are written all the same (for a map).
    assert (tmp_path / "state" / "districts.geojson").exists()

    output = run("second.log", up_register_fleet="always")
    # Created, or updated when the first run's messages already registered them
    # (without a position): either way three registry changes by `smartpole up`.
    assert "registered the simulated fleet" in output
    assert [who for _, who in registered()] == ["smartpole up"] * 3


def test_the_local_cluster_preloads_timescaledb_when_the_package_is_installed(
    tmp_path: Path,
) -> None:
    bindir = tmp_path / "usr/lib/postgresql/16/bin"
    bindir.mkdir(parents=True)
    assert not timescaledb_installed(bindir)
    (bindir.parent / "lib").mkdir()
    (bindir.parent / "lib" / "timescaledb.so").write_bytes(b"")
    assert timescaledb_installed(bindir)
