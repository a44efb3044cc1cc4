"""Running `smartpole up` (or the README's run command) as an operator does,
and finding every process it started, through /proc."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.services import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]


def launch_env(state_dir: Path, **settings: str | int) -> dict[str, str]:
    """The caller's environment with the launcher's state and ports made private,
    so the run never meets the system PostgreSQL (5432) or Mosquitto (1883)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    env.update(
        SMARTPOLE_STATE_DIR=str(state_dir),
        SMARTPOLE_LOCAL_PG_PORT=str(free_port()),
        SMARTPOLE_LOCAL_MQTT_PORT=str(free_port()),
        SMARTPOLE_API_PORT=str(free_port()),
        SMARTPOLE_INGEST_BATCH_MAX_AGE_MS="100",
    )
    env.update({f"SMARTPOLE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def _all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


@dataclass(frozen=True, slots=True)
class ProcessId:
    """A pid plus its start time, so a reused pid is not mistaken for ours."""

    pid: int
    started: str
    # What it ran, read when first seen (a dead process has no cmdline left).
    command: str = field(default="?", compare=False)

    def alive(self) -> bool:
        fields = _stat_fields(self.pid)
        # fields[0] is the state: a zombie has exited, it only waits to be reaped.
        return fields is not None and fields[19] == self.started and fields[0] != "Z"

    @property
    def program(self) -> str:
        return self.command.split(" ", 1)[0].rsplit("/", 1)[-1]


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


def process_id(pid: int) -> ProcessId | None:
    fields = _stat_fields(pid)
    return None if fields is None else ProcessId(pid, fields[19], _command(pid))


def descendants(root: int) -> set[ProcessId]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    found: set[ProcessId] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            ident = process_id(child)
            if ident is not None:
                found.add(ident)
                todo.append(child)
    return found


def processes_marked(marker: str) -> set[ProcessId]:
    """Every process whose environment holds `marker` (e.g. a unique state
    dir): finds what a launcher started even after it was reparented."""
    needle = marker.encode()
    found: set[ProcessId] = set()
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ:
            ident = process_id(pid)
            if ident is not None and ident.alive():
                found.add(ident)
    return found


def get_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - test URL
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:
        return {"http_status": exc.code}
    except (OSError, ValueError):
        return None


@dataclass
class Launch:
    """A launcher running as the leader of its own process group, as a shell
    runs a foreground job: Ctrl-C is SIGINT to that group."""

    process: subprocess.Popen[bytes]
    output: Path
    env: dict[str, str]
    seen: set[ProcessId]

    @classmethod
    def start(cls, command: list[str], env: dict[str, str], output: Path) -> Launch:
        with output.open("ab") as out:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(process, output, env, set())

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.env['SMARTPOLE_API_PORT']}"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def observe(self) -> None:
        """Remember every process currently below the launcher."""
        self.seen |= descendants(self.process.pid)

    def wait_for_output(self, text: str, timeout: float) -> None:
        def appeared() -> bool:
            self.observe()
            if self.process.poll() is not None:
                raise AssertionError(f"launcher exited early:\n{self.text()}")
            return text in self.text()

        wait_until(appeared, timeout, f"{text!r} in the launcher's output", interval=0.25)

    def health(self) -> dict[str, Any] | None:
        return get_json(f"{self.api_base}/health")

    def ctrl_c(self, timeout: float = 180) -> int:
        self.observe()
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise

    def kill_leftovers(self) -> None:
        """Test clean-up only: never let a failed test leave servers behind."""
        for ident in self.seen | processes_marked(self.env["SMARTPOLE_STATE_DIR"]):
            if ident.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(ident.pid, signal.SIGKILL)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
