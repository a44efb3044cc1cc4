"""The local PostgreSQL and Mosquitto that `smartpole up` runs when no
external database or broker is configured.

Both run as child processes of `smartpole up` (never daemonised), each in a
process group of its own: a Ctrl-C in the terminal then reaches only the
launcher, which stops the services in order (ingest flushes into a database
that is still up). Their data lives under the state folder and is reused.

initdb refuses to run as root, and a root Mosquitto switches to the
`mosquitto` user on its own; so when we are root both run as their service
users, and the folders they write are handed to those users.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from storage.admin import ensure_database

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPO_MOSQUITTO_CONF = PROJECT_ROOT / "mosquitto.conf"
LOCAL_DATABASE = "smartpole"
_PR_SET_PDEATHSIG = 1


class LocalServiceError(RuntimeError):
    """A local service could not be prepared or started; the message says why."""


class StopRequested(Exception):  # noqa: N818 - a request, not an error
    """SIGINT/SIGTERM arrived while `smartpole up` was starting or running."""


# --- ports --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortClaim:
    """A port `smartpole up` is about to listen on, and the setting that moves it."""

    what: str
    host: str
    port: int
    setting: str


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as the servers themselves set it: a port left in TIME_WAIT
        # by the previous run is free for them, and must not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def taken_ports(claims: Sequence[PortClaim]) -> list[str]:
    """One message per claimed port that something else already holds."""
    return [
        f"{claim.what} port {claim.port} on {claim.host} is already in use; "
        f"set {claim.setting} to a free port"
        for claim in claims
        if port_in_use(claim.host, claim.port)
    ]


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- child processes ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceUser:
    name: str
    uid: int
    gid: int
    home: str


def service_user(name: str) -> ServiceUser | None:
    """The account a service runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return ServiceUser(name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec (after the uid switch, which
    # would clear it): if `smartpole up` is killed outright (SIGKILL, OOM),
    # the kernel sends SIGTERM to its services instead of leaving them behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ManagedProcess:
    """A child of `smartpole up`, leader of its own process group."""

    name: str
    process: subprocess.Popen[bytes]
    stop_signal: signal.Signals
    stop_timeout_s: float
    logfile: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int:
        """Ask it to stop, wait, then kill what is left of its process group."""
        if self.running():
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing it", self.name,
                            self.stop_timeout_s)  # fmt: skip
                self.process.kill()
                self.process.wait()
        # Anything it left in its group (a server's workers) goes too. The group
        # id cannot have been reused while a member still holds it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def start_process(
    name: str,
    argv: Sequence[str],
    logfile: Path,
    *,
    stop_signal: signal.Signals,
    stop_timeout_s: float,
    env: dict[str, str] | None = None,
    user: ServiceUser | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env if user is None else {**(env or inherited_env()), "HOME": user.home},
            cwd=cwd,
            process_group=0,
            user=user.uid if user else None,
            group=user.gid if user else None,
            extra_groups=[] if user else None,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads run before services start
        )
    return ManagedProcess(name, process, stop_signal, stop_timeout_s, logfile)


def inherited_env() -> dict[str, str]:
    # Children get the launcher's environment (PATH, locale, SMARTPOLE_*) plus
    # what the launcher sets for them; they read their settings themselves.
    return dict(os.environ)


def wait_for(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout_s: float,
    process: ManagedProcess | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if should_stop():
            raise StopRequested
        if process is not None and not process.running():
            raise LocalServiceError(
                f"{what} exited during start-up (code {process.process.returncode}); "
                f"its log {process.logfile}:\n{process.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise LocalServiceError(f"{what} not ready after {timeout_s:.0f} s")
        time.sleep(0.2)


def hand_over(path: Path, user: ServiceUser | None, mode: int = 0o700) -> None:
    """Create `path` for a service user: theirs, private, and reachable."""
    path.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    os.chown(path, user.uid, user.gid)
    path.chmod(mode)
    _grant_search(path.parent)


def _grant_search(directory: Path) -> None:
    # The service user must be able to walk down to its folder. Add only the
    # "search" bit (o+x: enter, not list) where a parent lacks it, and say so.
    for folder in (directory, *directory.parents):
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)
            log.info("granted o+x on %s so the service users can reach the state folder", folder)


# --- PostgreSQL -------------------------------------------------------------------


def postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[4]), reverse=True)  # fmt: skip
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise LocalServiceError(
        "PostgreSQL server binaries (initdb) not found: run scripts/bootstrap "
        "(apt-get install postgresql), or set SMARTPOLE_DATABASE_URL to use an existing database"
    )


def timescaledb_installed(bindir: Path) -> bool:
    """Whether this PostgreSQL installation has TimescaleDB (its loader library
    beside the server's own libraries, as the timescaledb-2-postgresql-N package
    puts it). The local cluster then preloads it, so `make run` takes the same
    TimescaleDB path as production instead of stopping at "must be preloaded"."""
    return (bindir.parent / "lib" / "timescaledb.so").is_file()


def start_postgres(
    state_dir: Path, port: int, logs: Path, should_stop: Callable[[], bool]
) -> tuple[ManagedProcess, str]:
    """Start the local cluster (created on first use); returns it and the app DSN."""
    bindir = postgres_bindir()
    user = service_user("postgres")
    if os.geteuid() == 0 and user is None:
        raise LocalServiceError("running as root needs a `postgres` user to run PostgreSQL")
    datadir = state_dir / "postgres"
    logs.mkdir(parents=True, exist_ok=True)
    if not (datadir / "PG_VERSION").exists():
        hand_over(datadir, user)
        log.info("creating a PostgreSQL cluster in %s", datadir)
        initdb_log = logs / "initdb.log"
        with initdb_log.open("wb") as out:
            # trust on 127.0.0.1 only: a development cluster for this machine's user.
            result = subprocess.run(
                [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres",
                 "-A", "trust", "-E", "UTF8", "--no-locale"],
                stdout=out, stderr=subprocess.STDOUT, check=False,
                user=user.uid if user else None, group=user.gid if user else None,
                extra_groups=[] if user else None,
            )  # fmt: skip
        if result.returncode != 0:
            raise LocalServiceError(f"initdb failed; see {initdb_log}")
    else:
        hand_over(datadir, user)  # a moved or restored folder still needs the right owner
    preload = (
        ["-c", "shared_preload_libraries=timescaledb"] if timescaledb_installed(bindir) else []
    )
    server = start_process(
        "postgres",
        [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port), *preload,
         "-c", "listen_addresses=127.0.0.1",
         # TCP only: no socket file whose path could exceed the 107-byte limit
         # or land in a system folder we may not write.
         "-c", "unix_socket_directories=",
         "-c", "logging_collector=off", "-c", "timezone=UTC"],
        logs / "postgres.log",
        # SIGINT is PostgreSQL's fast shutdown: abort sessions, checkpoint, exit.
        stop_signal=signal.SIGINT,
        stop_timeout_s=60,
        user=user,
        cwd=datadir if user is None else None,
    )  # fmt: skip
    admin_dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        wait_for(
            lambda: _accepts_sessions(admin_dsn),
            what="PostgreSQL",
            timeout_s=60,
            process=server,
            should_stop=should_stop,
        )
        if ensure_database(admin_dsn, LOCAL_DATABASE):
            log.info("created database %s", LOCAL_DATABASE)
    except BaseException:
        server.stop()
        raise
    return server, f"postgresql://postgres@127.0.0.1:{port}/{LOCAL_DATABASE}"


def _accepts_sessions(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


# --- Mosquitto ------------------------------------------------------------------

# Directives of the repository's mosquitto.conf that describe one particular
# deployment (its listeners, folders, credentials); the local copy replaces
# them. Everything else (persistence, queue limits, message size) is kept.
MACHINE_SPECIFIC_DIRECTIVES = frozenset(
    {
        "listener", "persistence_location", "log_dest", "password_file", "acl_file",
        "allow_anonymous", "user", "certfile", "keyfile", "cafile", "capath",
        "require_certificate", "use_identity_as_username", "tls_version", "psk_file",
    }
)  # fmt: skip


def render_local_mosquitto_conf(repo_conf: str, port: int, data_dir: Path) -> str:
    """The repository's broker configuration, adapted to a local run."""
    lines = ["# Generated by `smartpole up` from the repository's mosquitto.conf: edit that."]
    for line in repo_conf.splitlines():
        words = line.split()
        if words and not words[0].startswith("#") and words[0] in MACHINE_SPECIFIC_DIRECTIVES:
            lines.append(f"#[replaced by smartpole up] {line}")
        else:
            lines.append(line)
    lines += [
        "",
        "# --- smartpole up: local broker ---",
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        f"persistence_location {data_dir}/",
        "log_dest stdout",
    ]
    return "\n".join(lines) + "\n"


def start_mosquitto(
    state_dir: Path, port: int, logs: Path, should_stop: Callable[[], bool]
) -> tuple[ManagedProcess, str]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise LocalServiceError(
            "mosquitto not found: run scripts/bootstrap (apt-get install mosquitto), "
            "or set SMARTPOLE_MQTT_URL to use an existing broker"
        )
    if not REPO_MOSQUITTO_CONF.is_file():
        raise LocalServiceError(f"{REPO_MOSQUITTO_CONF} not found: run from a smartpole checkout")
    user = service_user("mosquitto")
    data_dir = state_dir / "mosquitto"
    hand_over(data_dir, user)
    config = state_dir / "mosquitto.conf"
    config.write_text(
        render_local_mosquitto_conf(REPO_MOSQUITTO_CONF.read_text(), port, data_dir.resolve())
    )
    config.chmod(0o644)
    broker = start_process(
        "mosquitto",
        [binary, "-c", str(config.resolve())],
        logs / "mosquitto.log",
        stop_signal=signal.SIGTERM,  # saves the persistence file, then exits
        stop_timeout_s=20,
        user=user,
    )
    try:
        wait_for(
            lambda: port_accepts("127.0.0.1", port),
            what="Mosquitto",
            timeout_s=20,
            process=broker,
            should_stop=should_stop,
        )
    except BaseException:
        broker.stop()
        raise
    return broker, f"mqtt://127.0.0.1:{port}"
