"""Throwaway PostgreSQL and Mosquitto servers for the test suite.

Real servers on free ports, started from the system installation: the tests
talk to the real thing. initdb refuses to run as root (and CI runs as root),
so when we are root the cluster is created and run as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], bool], timeout: float, message: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for: {message}")
        time.sleep(interval)


def postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")


def _as_unprivileged(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class PostgresServer:
    port: int
    datadir: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"


@contextlib.contextmanager
def running_postgres(workdir: Path) -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    workdir.mkdir(parents=True, exist_ok=True)
    datadir = workdir / "pgdata"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        workdir.chmod(0o755)
        # runuser needs to traverse every parent of the data directory.
        for parent in workdir.parents:
            if parent != Path("/"):
                parent.chmod(parent.stat().st_mode | 0o011)
    subprocess.run(
        _as_unprivileged(
            [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {workdir} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
        "-c timezone=UTC"
    )
    log = workdir / "postgres.log"
    subprocess.run(
        _as_unprivileged(
            [str(bindir / "pg_ctl"), "-D", str(datadir), "-o", options, "-l", str(log),
             "-w", "-t", "60", "start"]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        yield PostgresServer(port, datadir)
    finally:
        subprocess.run(
            _as_unprivileged(
                [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]
            ),
            check=False,
            capture_output=True,
        )


def create_database(server: PostgresServer, name: str, template: str | None = None) -> str:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # test-only names
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


MOSQUITTO_TEST_CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
# Test broker: queue without limit for offline persistent sessions, like the
# production config, so a stopped ingest worker loses nothing.
max_queued_messages 0
max_inflight_messages 0
log_dest stderr
log_type error
log_type warning
"""


@dataclass
class MosquittoServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@contextlib.contextmanager
def running_mosquitto(workdir: Path, extra_config: str = "") -> Iterator[MosquittoServer]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise RuntimeError("mosquitto not found: apt-get install mosquitto")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(MOSQUITTO_TEST_CONFIG.format(port=port) + extra_config)
    log = (workdir / "mosquitto.log").open("wb")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    try:
        wait_until(lambda: _port_open(port) or process.poll() is not None, 10, "mosquitto")
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {(workdir / 'mosquitto.log').read_text()}")
        yield MosquittoServer(port, process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
