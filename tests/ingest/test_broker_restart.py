"""A broker restart under steady QoS 1 load, end to end: `smartpole simulate`
(every pole with its own identity), Mosquitto as shipped (persistence on,
dynamic security), `smartpole ingest` and PostgreSQL.

Mosquitto restores the ingest worker's persistent session and its queue,
but not its shared subscription: until the worker has reconnected and
subscribed again, the broker answers the poles' publishes with PUBACK 0x10
("no matching subscribers") and discards them. Ingest here reconnects a
few seconds after the poles (as it does from another host, with its
reconnect backoff): its link to the broker goes through a proxy that comes
back three seconds after the broker. The pole contract counts 0x10 as "not
stored" and resends, so whatever the simulator says it delivered must be in
the platform, exactly once, and its summary must show the resends.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg

from tests.simulators.conftest import fleet
from tests.simulators.test_end_to_end import table_counts
from tests.support.ingest_process import IngestProcess
from tests.support.proxy import cuttable_proxy
from tests.support.services import MosquittoServer, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]
POLES = 12
INGEST_LATE_S = 3.0


def test_every_reading_the_simulator_delivered_survives_a_broker_restart(
    database_url: str, mosquitto: MosquittoServer, db: Conn, tmp_path: Path
) -> None:
    poles = [p.pole_id for p in fleet(POLES)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    env["SMARTPOLE_SIMULATOR_CREDENTIALS"] = str(mosquitto.issue_poles(poles))
    env["SMARTPOLE_MQTT_URL"] = f"mqtt://127.0.0.1:{mosquitto.port}"
    summary_file = tmp_path / "summary.json"
    with cuttable_proxy(mosquitto.port) as proxy:
        ingest = IngestProcess(database_url, mosquitto.url_at(proxy.port), tmp_path / "ingest.log")
        ingest.start()
        simulate: subprocess.Popen[str] | None = None
        try:
            wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")
            # Two simulated hours in about 18 s: a steady stream, restart included.
            simulate = subprocess.Popen(
                [sys.executable, "-m", "smartpole.cli", "simulate", "fleet",
                 "--poles", str(POLES), "--duration", "2h", "--speed", "400", "--seed", "3",
                 "--summary-json", str(summary_file), "--quiet"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            wait_until(lambda: table_counts(db, ["env_readings"])["env_readings"] > 100, 60,
                       "readings flowing", interval=0.2)  # fmt: skip
            proxy.cut()  # ingest stays away until INGEST_LATE_S after the broker is back
            mosquitto.restart()
            time.sleep(INGEST_LATE_S)
            proxy.restore()
            _, err = simulate.communicate(timeout=120)
            assert simulate.returncode == 0, err
        finally:
            if simulate is not None and simulate.poll() is None:
                simulate.kill()
                simulate.wait()
            try:
                summary = orjson.loads(summary_file.read_bytes()) if summary_file.exists() else {}
                expected: dict[str, int] = summary.get("expected_tables", {})
                if expected:
                    with contextlib.suppress(TimeoutError):  # the asserts below tell
                        wait_until(lambda: all_stored(db, expected), 60, f"stored {expected}",
                                   interval=0.5)  # fmt: skip
            finally:
                ingest.stop()
    stored = table_counts(db, list(expected))
    # Mosquitto fires the will of every connected pole when it shuts down:
    # offline events the simulator cannot foresee, timed by their arrival
    # (and, having no device time, stored once per delivery).
    wills = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'offline' AND observed_at = received_at)"
        " FROM status_events WHERE observed_at = received_at"
    ).fetchone()
    assert wills is not None and wills[0] == wills[1]
    assert stored == {**expected, "status_events": expected["status_events"] + wills[0]}
    assert ingest.log_text().count("subscribed to") >= 2  # it did come back
    delivery = summary["delivery"]
    # The restart did hit the stream: the broker discarded readings, the poles resent them.
    assert delivery["no_subscribers_answers"] > 0, delivery
    assert delivery["resends"] >= delivery["no_subscribers_answers"] > 0, delivery
    assert delivery["undelivered_messages"] == 0, delivery
    assert expected["env_readings"] == summary["readings"]["env"]["sent_valid"] > 0


def all_stored(db: Conn, expected: dict[str, int]) -> bool:
    stored = table_counts(db, list(expected))
    return all(
        stored[table] >= n if table == "status_events" else stored[table] == n
        for table, n in expected.items()
    )
