"""`python -m smartpole.healthcheck`, the ingest container's healthcheck."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.deploy.launch import REPO, launch_env
from tests.support.services import MosquittoServer, free_port

HEALTHCHECK = [sys.executable, "-m", "smartpole.healthcheck"]


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        HEALTHCHECK, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_healthy_when_database_and_broker_answer(
    tmp_path: Path, database_url: str, mosquitto: MosquittoServer
) -> None:
    env = launch_env(tmp_path, database_url=database_url, mqtt_url=mosquitto.url)
    result = _run(env)
    assert result.returncode == 0, result.stderr


def test_unhealthy_names_what_is_unreachable(tmp_path: Path) -> None:
    closed = free_port()
    env = launch_env(
        tmp_path,
        database_url=f"postgresql://nobody@127.0.0.1:{closed}/smartpole",
        mqtt_url=f"mqtt://127.0.0.1:{closed}",
    )
    result = _run(env)
    assert result.returncode == 1
    assert "unhealthy: database:" in result.stderr
    assert f"unhealthy: broker 127.0.0.1:{closed}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_unconfigured_is_unhealthy_not_a_crash(tmp_path: Path) -> None:
    result = _run(launch_env(tmp_path))
    assert result.returncode == 1
    assert "unhealthy: configuration: SMARTPOLE_DATABASE_URL is not set" in result.stderr
