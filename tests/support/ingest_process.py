"""Runs `smartpole ingest` as a real subprocess, the way an operator does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class IngestProcess:
    def __init__(
        self, database_url: str, mqtt_url: str, logfile: Path, **settings: str | int
    ) -> None:
        self.env = {
            **os.environ,
            "SMARTPOLE_DATABASE_URL": database_url,
            "SMARTPOLE_MQTT_URL": mqtt_url,
            "SMARTPOLE_MQTT_CLIENT_ID": "test-ingest",
            "SMARTPOLE_INGEST_BATCH_MAX_AGE_MS": "50",
            "SMARTPOLE_INGEST_STATS_INTERVAL_S": "1",
            **{f"SMARTPOLE_{k.upper()}": str(v) for k, v in settings.items()},
        }
        self.logfile = logfile
        # e.g. ["py-spy", "record", "-o", "out.txt", "--format", "raw", "--"] to profile
        self.wrapper: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> IngestProcess:
        with self.logfile.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.wrapper, sys.executable, "-m", "smartpole.cli", "ingest"],
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

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
