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
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from brokerauth import commissioning
from brokerauth.bootstrap import ADMIN_ACCOUNT, INGEST_ACCOUNT, password_file
from brokerauth.commissioning import PoleIdentity
from brokerauth.credentials import pole_identity_commands
from brokerauth.dynsec import BrokerAdmin
from brokerauth.passwords import new_password
from brokerauth.roles import service_username
from config.endpoints import MqttEndpoint
from models.topics import TOPIC_PREFIX
from smartpole.local_services import (
    LOCAL_CONSUMER,
    REPO_MOSQUITTO_CONF,
    LocalBroker,
    prepare_local_broker,
    render_local_mosquitto_conf,
    service_user,
)


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
    options: str = ""  # what pg_ctl started it with (-o)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"


@contextlib.contextmanager
def running_postgres(
    workdir: Path, *, reuse: bool = False, extra_options: str = ""
) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster in `workdir`, stopped on exit. `reuse`: start the
    cluster already there (the benchmarks keep their datasets), initdb otherwise."""
    bindir = postgres_bindir()
    workdir.mkdir(parents=True, exist_ok=True)
    datadir = workdir / "pgdata"
    existing = reuse and (datadir / "PG_VERSION").exists()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        workdir.chmod(0o755)
        # runuser needs to traverse every parent of the data directory.
        for parent in workdir.parents:
            if parent != Path("/"):
                parent.chmod(parent.stat().st_mode | 0o011)
    if not existing:
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
        f"-c timezone=UTC {extra_options}"
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
        yield PostgresServer(port, datadir, options)
    finally:
        subprocess.run(
            _as_unprivileged(
                [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]
            ),
            check=False,
            capture_output=True,
        )


def restart_postgres(server: PostgresServer, down_s: float = 0.0) -> None:
    """Stop the cluster as a crash would (immediate: no checkpoint, every
    connection cut) and start it again with the same options and port."""
    bindir = postgres_bindir()
    subprocess.run(
        _as_unprivileged([str(bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "immediate",
                          "-w", "stop"]),
        check=True,
        capture_output=True,
    )  # fmt: skip
    time.sleep(down_s)
    subprocess.run(
        _as_unprivileged([str(bindir / "pg_ctl"), "-D", str(server.datadir), "-l",
                          str(server.datadir.parent / "postgres.log"), "-w", "-t", "60", "start",
                          "-o", server.options]),
        check=True,
        capture_output=True,
    )  # fmt: skip


def create_database(server: PostgresServer, name: str, template: str | None = None) -> str:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # test-only names
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


# A role the test publisher holds: publish anything under the pole namespace,
# so tests can send what a pole of any id would send (invalid ids included,
# which no pole can be issued). Created at runtime over the admin channel, as
# an operator would create a role; the broker's configuration is the shipped one.
TEST_PUBLISHER_ROLE = "smartpole.test-any-pole"
TEST_PUBLISHER = service_username("test-publisher")
_registry_lock = threading.Lock()
_running: dict[int, MosquittoServer] = {}


@dataclass
class MosquittoServer:
    """A broker from the repository's mosquitto.conf, rendered as `smartpole up`
    renders it: authentication on, dynamic security, a TLS listener."""

    port: int
    tls_port: int
    process: subprocess.Popen[bytes]
    broker: LocalBroker
    workdir: Path
    publisher_password: str = field(repr=False)

    def password(self, username: str) -> str:
        return password_file(self.broker.secrets_dir, username).read_text().strip()

    def url_at(self, port: int, username: str = INGEST_ACCOUNT) -> str:
        return f"mqtt://{username}:{self.password(username)}@127.0.0.1:{port}"

    @property
    def url(self) -> str:
        """The ingest role's URL: what the ingest worker under test connects with."""
        return self.url_at(self.port)

    def endpoint(self, username: str = INGEST_ACCOUNT, *, tls: bool = False) -> MqttEndpoint:
        return self.broker.endpoint(username, tls=tls)

    @property
    def publisher_endpoint(self) -> MqttEndpoint:
        """May publish for any pole id (the test publisher's role)."""
        return MqttEndpoint("127.0.0.1", self.port, TEST_PUBLISHER, self.publisher_password,
                            tls=False)  # fmt: skip

    @property
    def consumer_endpoint(self) -> MqttEndpoint:
        return self.endpoint(LOCAL_CONSUMER)

    @property
    def ca_file(self) -> Path:
        assert self.broker.certs is not None
        return self.broker.certs.ca_cert

    def admin(self) -> BrokerAdmin:
        return BrokerAdmin(self.endpoint(ADMIN_ACCOUNT))

    def issue_poles(self, pole_ids: Iterable[str], folder: Path | None = None) -> Path:
        """Broker identities for these poles, as commissioning files in `folder`
        (default: the broker's workdir/poles; poles with a file there keep it);
        returns the folder."""
        folder = folder or self.workdir / "poles"
        identities = [
            PoleIdentity(p, p, p, new_password())
            for p in dict.fromkeys(pole_ids)
            if not commissioning.file_for(folder, p).is_file()  # issued before
        ]
        with self.admin() as admin:
            admin.execute([c for i in identities for c in pole_identity_commands(i)])
        now = datetime.now(UTC)
        for identity in identities:
            commissioning.write(folder, identity, issued_at=now, broker_url=None)
        return folder

    def pole_identity(self, pole_id: str) -> PoleIdentity:
        """The identity `issue_poles` gave this pole (issued now if it has none)."""
        folder = self.issue_poles([pole_id])
        return commissioning.read(commissioning.file_for(folder, pole_id))

    def pole_endpoint(self, pole_id: str) -> MqttEndpoint:
        identity = self.pole_identity(pole_id)
        return MqttEndpoint("127.0.0.1", self.port, identity.username, identity.password,
                            tls=False)  # fmt: skip

    def log_text(self) -> str:
        return (self.workdir / "mosquitto.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop the broker as an operator does (SIGTERM: it saves its
        persistence file, sessions and their queues, then exits)."""
        _stop(self.process)

    def start(self) -> None:
        """Start it again from the same configuration, data and ports."""
        self.process = _start_process(self.workdir, self.port, self.tls_port)

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


def credentials_for_port(port: int) -> tuple[str, str]:
    """The test publisher's identity on the test broker listening on `port`."""
    with _registry_lock:
        server = _running[port]
    return TEST_PUBLISHER, server.publisher_password


@contextlib.contextmanager
def running_mosquitto(workdir: Path, extra_config: str = "") -> Iterator[MosquittoServer]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise RuntimeError("mosquitto not found: apt-get install mosquitto")
    workdir.mkdir(parents=True, exist_ok=True)
    port, tls_port = free_port(), free_port()
    broker = prepare_local_broker(workdir, port, tls_port, user=service_user("mosquitto"))
    config = workdir / "mosquitto.conf"
    rendered = render_local_mosquitto_conf(REPO_MOSQUITTO_CONF.read_text(), broker)
    config.write_text(rendered + extra_config)
    config.chmod(0o644)
    server: MosquittoServer | None = None
    process = _start_process(workdir, port, tls_port)
    try:
        server = MosquittoServer(port, tls_port, process, broker, workdir, new_password())
        _add_test_publisher(server)
        with _registry_lock:
            _running[port] = server
        yield server
    finally:
        with _registry_lock:
            _running.pop(port, None)
        _stop(server.process if server is not None else process)


def _start_process(workdir: Path, port: int, tls_port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with (workdir / "mosquitto.log").open("ab") as log:
        process = subprocess.Popen(
            [binary, "-c", str(workdir / "mosquitto.conf")], stdout=log, stderr=log
        )
    try:
        wait_until(
            lambda: (_port_open(port) and _port_open(tls_port)) or process.poll() is not None,
            10,
            "mosquitto",
        )
    except TimeoutError:
        _stop(process)
        raise
    if process.poll() is not None:
        raise RuntimeError(f"mosquitto exited: {(workdir / 'mosquitto.log').read_text()}")
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _add_test_publisher(server: MosquittoServer) -> None:
    with server.admin() as admin:
        admin.execute(
            [
                {"command": "createRole", "rolename": TEST_PUBLISHER_ROLE,
                 "acls": [{"acltype": "publishClientSend", "topic": f"{TOPIC_PREFIX}/#",
                           "allow": True, "priority": 0}]},
                {"command": "createClient", "username": TEST_PUBLISHER,
                 "password": server.publisher_password,
                 "roles": [{"rolename": TEST_PUBLISHER_ROLE, "priority": 0}]},
            ]
        )  # fmt: skip


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
