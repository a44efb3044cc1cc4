"""`smartpole api` as an operator runs it: settings from the environment,
several uvicorn workers, each with its own pool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.services import free_port, wait_until


def test_smartpole_api_serves_with_two_workers(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SMARTPOLE_DATABASE_URL": database_url,
        "SMARTPOLE_API_PORT": str(port),
        "SMARTPOLE_API_WORKERS": "2",
        "SMARTPOLE_API_POOL_SIZE": "2",
    }
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "smartpole.cli", "api"], env=env, stdout=log, stderr=log
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(healthy, 60, "smartpole api to answer /health")
        assert process.poll() is None, (tmp_path / "api.log").read_text()
        docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert docs["info"]["license"]["name"] == "DL-DE-BY-2.0"
        assert any(path.startswith("/v1/") for path in docs["paths"])
    finally:
        process.terminate()
        process.wait(20)
        log.close()
