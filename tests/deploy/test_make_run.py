"""The README's run command, exactly as written, on this machine: it brings
the platform up, the simulated fleet is registered before it publishes (every
pole on the map, in its district, with its connectors), its readings reach the
API, Ctrl-C stops it, and nothing it started is left running. A second run
reuses the data and the same fleet: re-importing its inventory changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from brokerauth import commissioning
from config.endpoints import MqttEndpoint
from simulators.city import DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE, City, seeded_fleet
from smartpole.up import FLEET_INTERVAL_S, FLEET_SEED_FILE
from tests.deploy.launch import REPO, Launch, get_json, launch_env, processes_marked
from tests.support.mqtt import MqttProbe
from tests.support.services import wait_until

pytestmark = pytest.mark.slow
FLEET_SIZE = 6


def readme_run_command() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Run it\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the README's `## Run it` section has no ```sh block"
    lines = [line for line in block[1].splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1, f"expected one command, found {lines}"
    return lines[0]


def test_the_readme_names_one_run_command() -> None:
    assert readme_run_command() == "make run"


def _readings_arriving(launch: Launch) -> bool:
    launch.observe()
    assert launch.process.poll() is None, f"the launcher exited:\n{launch.text()}"
    health: dict[str, Any] | None = launch.health()
    return bool(
        health
        and health.get("poles")
        and health.get("last_message_age_s") is not None
        and health["last_message_age_s"] < 60
        and health.get("newest_observation_age_s") is not None
    )


def _assert_all_gone(launch: Launch) -> None:
    assert launch.seen, "no process of the launcher was ever observed"
    names = {ident.program for ident in launch.seen}
    assert {"postgres", "mosquitto"} <= names, f"expected the local servers among {names}"
    for service in ("ingest", "api", "simulate fleet"):
        assert any(f"smartpole.cli {service}" in p.command for p in launch.seen), service
    left = [f"{p.pid} {p.command}" for p in launch.seen if p.alive()]
    left += [f"{p.pid} {p.command}" for p in processes_marked(launch.env["SMARTPOLE_STATE_DIR"])]
    assert not left, "still running after Ctrl-C:\n" + "\n".join(left)


def _secrets(state_dir: Path) -> dict[str, str]:
    """Every password of the run: service accounts and the simulated poles."""
    found = {
        path.name: path.read_text().strip() for path in (state_dir / "secrets").glob("*.password")
    }
    for path in (state_dir / "fleet").glob("*.json"):
        found[path.name] = commissioning.read(path).password
    return found


def _assert_authentication_is_on(state_dir: Path, env: dict[str, str]) -> None:
    active = [
        line.split()
        for line in (state_dir / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ["allow_anonymous", "false"] in active
    assert any(words[0] == "plugin" for words in active)
    port = int(env["SMARTPOLE_LOCAL_MQTT_PORT"])
    anonymous = MqttProbe(MqttEndpoint("127.0.0.1", port, None, None, tls=False), "anonymous")
    assert anonymous.connacks[-1] == "Not authorized"
    anonymous.close()


def _assert_no_secret_in_processes(launch: Launch, secrets: dict[str, str]) -> None:
    """No password on a command line or in an environment variable of any
    process the run started (they read them from files)."""
    launch.observe()
    for ident in launch.seen:
        for part in ("cmdline", "environ"):
            try:
                text = Path(f"/proc/{ident.pid}/{part}").read_bytes().decode(errors="replace")
            except OSError:
                continue
            for name, secret in secrets.items():
                assert secret not in text, f"the password of {name} is in {ident.command}'s {part}"


def _seed_with_chargers(state_dir: Path) -> None:
    """Keep a seed in the state directory (as `smartpole up` does after its first
    run) whose fleet has chargers and sensor heads, so the checks below always
    have something to find."""
    city = City.named(DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE)
    for seed in range(1, 1000):
        poles = seeded_fleet(city, FLEET_SIZE, seed, FLEET_INTERVAL_S)
        if sum(p.ev_connectors for p in poles) >= 3 and sum(p.has_env for p in poles) >= 3:
            state_dir.mkdir(parents=True)
            (state_dir / FLEET_SEED_FILE).write_text(f"{seed}\n")
            return
    raise AssertionError("no seed gives chargers")


def _map_is_complete(launch: Launch) -> dict[str, Any]:
    """Every pole on the map: a Point and a district; returns the GeoJSON."""
    collection = get_json(f"{launch.api_base}/v1/poles.geojson")
    assert collection is not None and "features" in collection, collection
    features = collection["features"]
    assert len(features) == FLEET_SIZE, [f["id"] for f in features]
    for feature in features:
        assert feature["geometry"]["type"] == "Point", feature
        assert len(feature["geometry"]["coordinates"]) == 2, feature
        assert feature["properties"]["district"], feature
    return collection


def _registry(collection: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What the inventory says of each pole (not what was observed since)."""
    return [
        (f["id"], f["geometry"], f["properties"]["district"], f["properties"]["connectors"])
        for f in collection["features"]
    ]


def _nearest_free_connector(launch: Launch) -> dict[str, Any] | None:
    query = urlencode(
        {"status": "Available", "lat": DEFAULT_LATITUDE, "lon": DEFAULT_LONGITUDE, "limit": 1}
    )
    page = get_json(f"{launch.api_base}/v1/ev/connectors?{query}")
    items = (page or {}).get("items") or []
    return items[0] if items else None


def _district_groups(launch: Launch) -> set[str | None]:
    series = get_json(f"{launch.api_base}/v1/aggregates/env/pm10?group=district")
    return {p["group"] for p in (series or {}).get("points", [])}


def test_run_command_brings_everything_up_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    command = readme_run_command()
    state_dir = tmp_path / "state"
    _seed_with_chargers(state_dir)
    env = launch_env(state_dir, up_simulated_poles=FLEET_SIZE)
    launch = Launch.start(["bash", "-c", command], env, tmp_path / "run1.log")
    try:
        # Bounded generously: a fresh machine may first install the environment.
        launch.wait_for_output("Ctrl-C stops everything", timeout=600)
        assert f"{FLEET_SIZE} created, 0 updated, 0 unchanged" in launch.text()
        # Registered before the first message: the map is complete at once.
        collection = _map_is_complete(launch)
        wait_until(
            lambda: _readings_arriving(launch), 120, "readings from the simulated fleet in /health"
        )
        poles = launch.health()
        assert poles is not None
        _assert_authentication_is_on(state_dir, env)
        secrets = _secrets(state_dir)
        assert len([name for name in secrets if name.endswith(".json")]) == FLEET_SIZE
        _assert_no_secret_in_processes(launch, secrets)

        wait_until(
            lambda: _nearest_free_connector(launch) is not None, 120, "a free charging connector"
        )
        nearest = _nearest_free_connector(launch)
        assert nearest is not None
        assert nearest["distance_m"] > 0 and nearest["max_power_kw"] in (11.0, 22.0), nearest
        assert nearest["plug_type"] == "Type2" and nearest["district"], nearest

        env_districts = {
            f["properties"]["district"]
            for f in collection["features"]
            if "env" in f["properties"]["capabilities"]
        }
        wait_until(
            lambda: _district_groups(launch) == env_districts,
            120,
            f"a pm10 group for each of {sorted(env_districts)}",
        )
        assert None not in _district_groups(launch) and "" not in _district_groups(launch)
        launch.ctrl_c()
        output = launch.text()
        assert "smartpole up: stopped" in output, output
        assert "Traceback" not in output, output
        _assert_all_gone(launch)
    finally:
        launch.kill_leftovers()
    # Credentials never reach a log: the launcher's output and every service's.
    logs = {path.name: path.read_text(errors="replace") for path in (state_dir / "logs").glob("*")}
    logs["launcher output"] = output
    assert {"ingest.log", "api.log", "simulator.log", "mosquitto.log"} <= set(logs)
    for log_name, text in logs.items():
        for name, secret in secrets.items():
            assert secret not in text, f"the password of {name} is in {log_name}"

    assert (state_dir / "postgres" / "PG_VERSION").exists()
    assert (state_dir / "mosquitto" / "mosquitto.db").exists(), "broker state not persisted"

    # The second run finds its cluster and the poles the fleet registered.
    again = Launch.start(["bash", "-c", command], env, tmp_path / "run2.log")
    try:
        again.wait_for_output("Ctrl-C stops everything", timeout=300)
        health = again.health()
        assert health is not None
        assert health["poles"] >= poles["poles"]
        assert "creating a PostgreSQL cluster" not in again.text()
        # The same seed, the same poles: their inventory imports as unchanged.
        assert f"0 created, 0 updated, {FLEET_SIZE} unchanged" in again.text()
        assert _registry(_map_is_complete(again)) == _registry(collection)
        again.ctrl_c()
        _assert_all_gone(again)
    finally:
        again.kill_leftovers()
