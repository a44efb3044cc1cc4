"""`smartpole poles decommission`, where the inventory meets the broker: a retired
pole's credentials are revoked in the same step (it is cut off at once), and
without the broker's admin channel a pole that holds credentials is not retired."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from brokerauth import commissioning
from brokerauth.bootstrap import ADMIN_ACCOUNT, password_file
from tests.support.mqtt import MqttProbe
from tests.support.services import MosquittoServer, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]


def poles(
    mosquitto: MosquittoServer, database_url: str, *args: str, admin: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    env.update(
        SMARTPOLE_DATABASE_URL=database_url,
        SMARTPOLE_MQTT_URL=f"mqtt://127.0.0.1:{mosquitto.port}",
    )
    if admin:
        env["SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE"] = str(
            password_file(mosquitto.broker.secrets_dir, ADMIN_ACCOUNT)
        )
    return subprocess.run(
        [sys.executable, "-m", "smartpole.cli", "poles", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def connected_pole(mosquitto: MosquittoServer, identity: commissioning.PoleIdentity) -> MqttProbe:
    endpoint = dataclasses.replace(
        mosquitto.pole_endpoint("UNUSED-0"), username=identity.username, password=identity.password
    )
    probe = MqttProbe(endpoint, identity.client_id, connect=False)
    assert probe.connect() == "Success"
    return probe


def test_decommissioning_revokes_the_poles_credentials_at_once(
    mosquitto: MosquittoServer, database_url: str, db: Conn, tmp_path: Path
) -> None:
    db.execute("INSERT INTO poles (pole_id) VALUES ('R-1'), ('R-2')")
    issued = poles(mosquitto, database_url, "credentials", "issue", "R-1", "--out", str(tmp_path))
    assert issued.returncode == 0, issued.stderr
    probe = connected_pole(mosquitto, commissioning.read(tmp_path / "R-1.json"))

    done = poles(mosquitto, database_url, "decommission", "R-1")
    assert done.returncode == 0, done.stderr
    assert "decommissioned" in done.stdout
    wait_until(lambda: bool(probe.disconnects), 1.0, "the retired pole cut off")
    probe.close()
    row = db.execute(
        "SELECT p.decommissioned_at IS NOT NULL, c.revoked_at IS NOT NULL"
        " FROM poles p JOIN pole_credentials c USING (pole_id) WHERE pole_id = 'R-1'"
    ).fetchone()
    assert row == (True, True)
    # A pole that never had credentials retires as before.
    assert poles(mosquitto, database_url, "decommission", "R-2").returncode == 0


def test_without_the_admin_channel_a_pole_holding_credentials_is_not_retired(
    mosquitto: MosquittoServer, database_url: str, db: Conn, tmp_path: Path
) -> None:
    db.execute("INSERT INTO poles (pole_id) VALUES ('R-3'), ('R-4')")
    issued = poles(mosquitto, database_url, "credentials", "issue", "R-3", "--out", str(tmp_path))
    assert issued.returncode == 0, issued.stderr
    refused = poles(mosquitto, database_url, "decommission", "R-3", admin=False)
    assert refused.returncode == 2
    assert "SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert db.execute("SELECT decommissioned_at FROM poles WHERE pole_id = 'R-3'").fetchone() == (
        None,
    )
    # Without credentials there is nothing to revoke: retired without the channel.
    assert poles(mosquitto, database_url, "decommission", "R-4", admin=False).returncode == 0
