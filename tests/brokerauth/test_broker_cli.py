"""`smartpole broker init` and `smartpole broker accounts`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from brokerauth.bootstrap import ADMIN_ACCOUNT, DEFAULT_ACCOUNTS, password_file
from tests.support.mqtt import MqttProbe
from tests.support.services import MosquittoServer, wait_until


def smartpole(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    return subprocess.run(
        [sys.executable, "-m", "smartpole.cli", *args],
        env={**base, **(env or {})}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_init_writes_hashes_and_private_password_files_once(tmp_path: Path) -> None:
    config, secrets = tmp_path / "data" / "dynamic-security.json", tmp_path / "secrets"
    args = ("broker", "init", "--config-file", str(config), "--secrets-dir", str(secrets))
    first = smartpole(*args)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    passwords = {}
    for account in DEFAULT_ACCOUNTS:
        file = password_file(secrets, account)
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        passwords[account] = file.read_text().strip()
    document = config.read_text()
    assert all(password not in document + first.stdout for password in passwords.values())
    clients = {c["username"]: c for c in json.loads(document)["clients"]}
    assert set(clients) == set(DEFAULT_ACCOUNTS)
    assert all(c["iterations"] == 101 and c["salt"] for c in clients.values())
    again = smartpole(*args)
    assert again.returncode == 1 and "already has its identities" in again.stderr
    assert smartpole(*args, "--if-missing").returncode == 0
    assert password_file(secrets, ADMIN_ACCOUNT).read_text().strip() == passwords[ADMIN_ACCOUNT]


def test_a_consumer_account_reads_and_a_revoked_one_is_cut_off(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    env = {
        "SMARTPOLE_MQTT_URL": f"mqtt://127.0.0.1:{mosquitto.port}",
        "SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE": str(
            password_file(mosquitto.broker.secrets_dir, ADMIN_ACCOUNT)
        ),
    }
    out = tmp_path / "city-app.password"
    issued = smartpole(
        "broker", "accounts", "issue", "city-app", "--role", "consumer", "--out", str(out),
        env=env,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    endpoint = mosquitto.consumer_endpoint.with_credentials(
        "smartpole.city-app", out.read_text().strip()
    )
    probe = MqttProbe(endpoint, "city-app-1")
    assert probe.subscribe("smartpole/v1/poles/#") == "Granted QoS 1"
    assert probe.publish("smartpole/v1/poles/X-1/env", b"{}") == "Not authorized"
    revoked = smartpole("broker", "accounts", "revoke", "city-app", env=env)
    assert revoked.returncode == 0, revoked.stderr
    wait_until(lambda: bool(probe.disconnects), 5, "the revoked account disconnected")
    probe.close()
    bad = smartpole("broker", "accounts", "issue", "Bad Name", "--role", "consumer", env=env)
    assert bad.returncode == 1 and "invalid account name" in bad.stderr
