"""The README's run command, exactly as written, on this machine: it brings
the platform up, the simulated fleet's readings reach the API, Ctrl-C stops
it, and nothing it started is left running. A second run reuses the data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.launch import REPO, Launch, launch_env, processes_marked
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
        launch.ctrl_c()
        output = launch.text()
        assert "smartpole up: stopped" in output, output
        assert "Traceback" not in output, output
        _assert_all_gone(launch)
    finally:
        launch.kill_leftovers()

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
