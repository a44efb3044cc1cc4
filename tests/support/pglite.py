"""Run the TimescaleDB-in-PGlite test server (``tests/support/pglite/server.mjs``).

TimescaleDB cannot be installed from apt on the CI machines, so the suite uses a real
TimescaleDB build (2.23, compiled to WASM) running inside PGlite (PostgreSQL 17.5) under
node, reached over the PostgreSQL wire protocol on 127.0.0.1. Install it once with
``scripts/install-pglite``.

Usage::

    with running_pglite(tmp_path) as dsn:
        with psycopg.connect(dsn) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")

What differs from a real PostgreSQL + TimescaleDB server (checked with psycopg 3.3):

* ONE client connection at a time. A second concurrent connection waits up to 3 s for the
  first to close, then fails with ``FATAL 53300 too many clients``. So use
  ``psycopg_pool.ConnectionPool(max_size=1)`` at most, and close a connection before opening
  the next (sequential connect/close is fine).
* All connections share one backend session; the server rolls back any open transaction
  and runs ``DISCARD ALL`` when a client disconnects, so each connection starts clean (no
  leftover SETs, temp tables, prepared statements, LISTENs or advisory locks).
* The user, password, database name and ``options`` of the DSN are ignored:
  ``current_user`` is ``postgres`` and ``current_database()`` is always ``template1``.
* ``COPY ... FROM STDIN`` (``cursor.copy()`` writing) is refused with ``0A000``
  (FeatureNotSupported) because it would crash PGlite; insert with ``executemany`` or
  ``INSERT ... SELECT * FROM unnest(%s::timestamptz[], ...)`` (much faster) instead.
  ``COPY ... TO STDOUT`` works.
* No background workers: policies (compression, retention, continuous aggregate refresh)
  are scheduled but never run by themselves; run them with ``CALL run_job(job_id)``
  (``timescaledb_information.job_stats`` stays empty: run_job does not record runs).
* No statement_timeout (it never fires) and no query cancellation (``conn.cancel()`` just
  returns once the query has finished): a runaway query blocks the whole server, which
  cannot even accept a connection while a statement runs.
* ``executemany`` works but costs about 0.5 ms a row; ``INSERT ... SELECT FROM unnest``
  with array parameters is about ten times faster.
* ``SET TIME ZONE`` works inside the database, but the server does not report it back, so
  psycopg keeps returning datetimes in the zone of connection start (GMT): same instants.
* PGlite runs with ``enable_seqscan = off``, which skews EXPLAIN output.
* Only the ``plpgsql`` and ``timescaledb`` extensions are available (no pgcrypto, postgis).
* ``CREATE INDEX CONCURRENTLY`` fails ("tuple concurrently updated"); plain CREATE INDEX works.
* Start-up takes about 2.5-5 s for a new database (in memory or on disk) and about 1.3 s for
  a data dir that already exists; see ``template`` below.

Works as usual: the extended protocol with server-side parameters, binary parameters and
results, prepared statements (explicit and psycopg's automatic ones), ``executemany``,
pipeline mode, server-side cursors, transactions and savepoints, LISTEN/NOTIFY on one
connection; hypertables (``create_hypertable`` old and new API, ``CREATE TABLE ... WITH
(tsdb.hypertable)``), compression / columnstore and its policies, retention policies,
``run_job``, continuous aggregates (``WITH DATA`` / ``WITH NO DATA``, hierarchical,
``refresh_continuous_aggregate``, ``add_continuous_aggregate_policy``), ``time_bucket`` with a
time zone, ``time_bucket_gapfill``, ``locf``, ``interpolate``, ``first``/``last`` and the
``timescaledb_information`` views (hypertables, chunks, dimensions, jobs, job_stats,
compression_settings, hypertable_compression_settings, continuous_aggregates).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import IO

PGLITE_DIR = pathlib.Path(__file__).resolve().parent / "pglite"
SERVER_SCRIPT = PGLITE_DIR / "server.mjs"
_MODULES = PGLITE_DIR / "node_modules" / "@electric-sql"
_INSTALLED_MARKERS = (
    _MODULES / "pglite" / "package.json",
    _MODULES / "pglite" / "dist" / "timescaledb.tar.gz",
    _MODULES / "pglite-socket" / "package.json",
)
_INSTALL_SCRIPT = PGLITE_DIR.parents[2] / "scripts" / "install-pglite"

DEFAULT_STARTUP_TIMEOUT_S = 90.0
DEFAULT_STOP_TIMEOUT_S = 15.0

_READY_RE = re.compile(rb"^READY (\d+)\s*$", re.MULTILINE)
_POLL_INTERVAL_S = 0.05
_STDERR_TAIL_CHARS = 4000


def pglite_dsn(port: int) -> str:
    """The libpq URL for a server listening on 127.0.0.1:``port``.

    The server accepts any user and password and ignores the database name; it speaks
    neither SSL nor GSS encryption, so both are switched off to save the round trips.
    """
    return (
        f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
        "?sslmode=disable&gssencmode=disable&connect_timeout=10"
    )


def check_pglite_installed() -> str:
    """Return the path of ``node``; raise RuntimeError if node or the npm packages are missing."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "node is not on PATH: the PGlite TimescaleDB test server needs node >= 18 "
            f"(install it, then run {_INSTALL_SCRIPT})"
        )
    missing = [str(marker) for marker in _INSTALLED_MARKERS if not marker.is_file()]
    if missing:
        raise RuntimeError(
            "the PGlite TimescaleDB test server is not installed (missing: "
            f"{', '.join(missing)}): run {_INSTALL_SCRIPT}"
        )
    return node


@contextlib.contextmanager
def running_pglite(
    workdir: pathlib.Path,
    *,
    in_memory: bool = False,
    data_dir: pathlib.Path | None = None,
    template: pathlib.Path | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
    stop_timeout: float = DEFAULT_STOP_TIMEOUT_S,
) -> Iterator[str]:
    """Start the PGlite TimescaleDB server, yield a psycopg/libpq URL, stop it on exit.

    ``workdir`` receives the server's logs (``pglite-server.out`` / ``.err``) and, unless
    ``in_memory`` or ``data_dir`` says otherwise, its data directory ``workdir / "pgdata"``.
    Starting again on the same data directory finds the data of the previous run (also
    after a crash: writes go straight to the files).

    ``template`` is a data directory left by an earlier, stopped run (for instance one in
    which ``CREATE EXTENSION timescaledb`` and the migrations ran); when the data directory
    does not exist yet it is copied from there first. Opening an existing data directory
    takes about 1.3 s instead of 2.5-5 s for a new one.

    The OS picks a free 127.0.0.1 port (the server listens on port 0 and reports the one it
    got on its READY line), so parallel runs cannot collide.
    If the server dies while the ``with`` body runs, the body's exception gets a note with
    the server's stderr, or a RuntimeError is raised if the body succeeded.
    """
    node = check_pglite_installed()
    if in_memory and (data_dir is not None or template is not None):
        raise ValueError("in_memory=True excludes data_dir and template")
    workdir.mkdir(parents=True, exist_ok=True)
    if in_memory:
        data_dir_arg = "memory://"
    else:
        resolved = (data_dir if data_dir is not None else workdir / "pgdata").resolve()
        if template is not None and not resolved.exists():
            shutil.copytree(template, resolved)
        resolved.parent.mkdir(parents=True, exist_ok=True)
        data_dir_arg = str(resolved)

    out_path = workdir / "pglite-server.out"
    err_path = workdir / "pglite-server.err"
    args = [
        node,
        str(SERVER_SCRIPT),
        "--port",
        "0",
        "--data-dir",
        data_dir_arg,
        "--exit-on-stdin-close",  # the server cannot outlive this process
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGLITE_")}
    with out_path.open("wb") as out_file, err_path.open("wb") as err_file:
        proc = subprocess.Popen(
            args,
            cwd=PGLITE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=out_file,
            stderr=err_file,
            start_new_session=True,
        )
    try:
        port = _wait_ready(proc, out_path, err_path, startup_timeout)
        try:
            yield pglite_dsn(port)
        except BaseException as exc:
            code = proc.poll()
            if code is not None:
                exc.add_note(_died_message(code, err_path))
            raise
        code = proc.poll()
        if code is not None:
            raise RuntimeError(_died_message(code, err_path))
    finally:
        _stop(proc, proc.stdin, stop_timeout)


def _wait_ready(
    proc: subprocess.Popen[bytes],
    out_path: pathlib.Path,
    err_path: pathlib.Path,
    timeout: float,
) -> int:
    deadline = time.monotonic() + timeout
    while True:
        match = _READY_RE.search(out_path.read_bytes())
        if match is not None:
            return int(match.group(1))
        code = proc.poll()
        if code is not None:
            raise RuntimeError(
                f"the PGlite test server exited with status {code} before it was ready; "
                f"its stderr ({err_path}):\n{_tail(err_path)}"
            )
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"the PGlite test server did not print READY within {timeout:.0f} s; "
                f"its stderr ({err_path}):\n{_tail(err_path)}"
            )
        time.sleep(_POLL_INTERVAL_S)


def _stop(proc: subprocess.Popen[bytes], stdin: IO[bytes] | None, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; always reap the process."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=timeout)
    if stdin is not None:
        with contextlib.suppress(OSError):
            stdin.close()


def _died_message(code: int, err_path: pathlib.Path) -> str:
    return (
        f"the PGlite test server died during the test (exit status {code}); "
        f"its stderr ({err_path}):\n{_tail(err_path)}"
    )


def _tail(path: pathlib.Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return text[-_STDERR_TAIL_CHARS:]
