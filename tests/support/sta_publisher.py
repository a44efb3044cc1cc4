"""Runs `smartpole sta-publish` as a real subprocess, as the platform-publisher
identity, and a consumer that subscribes to SensorThings topics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from brokerauth.bootstrap import PLATFORM_ACCOUNT
from tests.support.mqtt import MqttProbe
from tests.support.services import MosquittoServer


class PublisherProcess:
    def __init__(
        self,
        database_url: str,
        mosquitto: MosquittoServer,
        base_url: str,
        logfile: Path,
        **settings: str | int,
    ) -> None:
        self.env = {
            **os.environ,
            "SMARTPOLE_DATABASE_URL": database_url,
            "SMARTPOLE_MQTT_URL": mosquitto.url_at(mosquitto.port, PLATFORM_ACCOUNT),
            "SMARTPOLE_STA_MQTT_BASE_URL": base_url,
            "SMARTPOLE_STA_MQTT_POLL_INTERVAL_MS": "50",
            **{f"SMARTPOLE_{k.upper()}": str(v) for k, v in settings.items()},
        }
        self.logfile = logfile
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PublisherProcess:
        with self.logfile.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "smartpole.cli", "sta-publish"],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.logfile.read_text(errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


class Consumer(MqttProbe):
    """A SensorThings client with the consumer role."""

    __test__ = False

    def observations(self) -> list[tuple[str, dict[str, Any], bool]]:
        with self.lock:
            return [(t, orjson.loads(p), r) for t, p, r in self.messages]

    def ids(self) -> set[int]:
        return {doc["@iot.id"] for _, doc, _ in self.observations()}
