"""The README's run command, exactly as written, on this machine: it brings
the platform up, the simulated fleet's readings reach the API, Ctrl-C stops
it, and nothing it started is left running. A second run reuses the data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from brokerauth import commissioning
from config.endpoints import MqttEndpoint
from tests.deploy.launch import REPO, Launch, launch_env, processes_marked
from tests.support.mqtt import MqttProbe
from tests.support.services import wait_until

pytestmark = pytest.mark.slow


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


def test_run_command_brings_everything_up_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    command = readme_run_command()
    state_dir = tmp_path / "state"
    env = launch_env(state_dir, up_simulated_poles=5)
    launch = Launch.start(["bash", "-c", command], env, tmp_path / "run1.log")
    try:
        # Bounded generously: a fresh machine may first install the environment.
        launch.wait_for_output("Ctrl-C stops everything", timeout=600)
        wait_until(
            lambda: _readings_arriving(launch), 120, "readings from the simulated fleet in /health"
        )
        poles = launch.health()
        assert poles is not None
        _assert_authentication_is_on(state_dir, env)
        secrets = _secrets(state_dir)
        assert len([name for name in secrets if name.endswith(".json")]) == 5
        _assert_no_secret_in_processes(launch, secrets)
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
        again.ctrl_c()
        _assert_all_gone(again)
    finally:
        again.kill_leftovers()
