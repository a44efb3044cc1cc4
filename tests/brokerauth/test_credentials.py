"""`smartpole poles credentials issue|rotate|revoke|list` as an operator runs
them, against the test broker (the shipped configuration) and a real
database: what the broker then lets a pole do, what the registry records,
and that no password is left anywhere but where it was asked to go."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from brokerauth import commissioning
from brokerauth.bootstrap import ADMIN_ACCOUNT, password_file
from tests.support import samples
from tests.support.mqtt import MqttProbe
from tests.support.services import MosquittoServer, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]
ACCEPTED = ("Success", "No matching subscribers")


@pytest.fixture
def run(mosquitto: MosquittoServer, database_url: str) -> Any:
    def _run(
        *args: str, admin_password_file: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
        env.update(
            SMARTPOLE_DATABASE_URL=database_url,
            SMARTPOLE_MQTT_URL=f"mqtt://127.0.0.1:{mosquitto.port}",
            SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE=str(
                admin_password_file or password_file(mosquitto.broker.secrets_dir, ADMIN_ACCOUNT)
            ),
        )
        return subprocess.run(
            [sys.executable, "-m", "smartpole.cli", "poles", "credentials", *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    return _run


def as_pole(mosquitto: MosquittoServer, identity: commissioning.PoleIdentity) -> MqttProbe:
    endpoint = dataclasses.replace(
        mosquitto.pole_endpoint("UNUSED-0"), username=identity.username, password=identity.password
    )
    return MqttProbe(endpoint, identity.client_id, connect=False)


def secrets_in_database(db: Conn) -> str:
    rows = db.execute(
        "SELECT coalesce(string_agg(t::text, ' '), '') FROM ("
        " SELECT row_to_json(c)::text AS t FROM pole_credentials c"
        " UNION ALL SELECT row_to_json(e)::text FROM pole_credential_events e) x"
    ).fetchone()
    assert rows is not None
    return str(rows[0])


def test_issued_credentials_work_only_for_their_pole_and_live_only_in_the_files(
    run: Any, mosquitto: MosquittoServer, db: Conn, tmp_path: Path
) -> None:
    out = tmp_path / "commissioning"
    result = run("issue", "G-1", "G-2", "--out", str(out), "--broker-url", "mqtts://b.example:8883")
    assert result.returncode == 0, result.stderr
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["G-1.json", "G-2.json"]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    document = json.loads(files[0].read_text())
    assert document["mqtt"]["url"] == "mqtts://b.example:8883"
    assert document["mqtt"]["may_publish"] == "smartpole/v1/poles/G-1/#"
    identity = commissioning.read(files[0])
    assert identity.username == identity.client_id == "G-1"

    probe = as_pole(mosquitto, identity)
    assert probe.connect() == "Success"
    assert probe.publish(samples.topic("G-1", "env"), samples.env(0)) in ACCEPTED
    assert probe.publish(samples.topic("G-2", "env"), samples.env(0)) == "Not authorized"
    probe.close()

    passwords = [commissioning.read(f).password for f in files]
    assert all(len(p) >= 32 for p in passwords) and len(set(passwords)) == 2
    for password in passwords:
        assert password not in result.stdout + result.stderr
        assert password not in secrets_in_database(db)
    listed = run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["pole_id"], r["broker"], r["revoked_at"]) for r in rows] == [
        ("G-1", "enabled", None),
        ("G-2", "enabled", None),
    ]
    assert all(r["changed_by"].startswith("cli:") for r in rows)
    # A second issue does not silently replace working credentials.
    again = run("issue", "G-1", "--out", str(out))
    assert again.returncode == 1 and "rotate" in again.stderr
    assert commissioning.read(files[0]).password == passwords[0]


def test_without_out_the_password_is_shown_once_on_stdout(
    run: Any, mosquitto: MosquittoServer
) -> None:
    result = run("issue", "H-1")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["pole_id"] == shown["username"] == shown["client_id"] == "H-1"
    assert shown["password"] not in result.stderr
    probe = as_pole(mosquitto, commissioning.PoleIdentity("H-1", "H-1", "H-1", shown["password"]))
    assert probe.connect() == "Success"
    probe.close()


def test_issue_all_covers_every_registered_pole_in_service(
    run: Any, db: Conn, tmp_path: Path
) -> None:
    db.execute("INSERT INTO poles (pole_id) VALUES ('J-1'), ('J-2'), ('J-3')")
    db.execute("UPDATE poles SET decommissioned_at = now() WHERE pole_id = 'J-3'")
    result = run("issue", "--all", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["J-1.json", "J-2.json"]
    refused = run("issue", "J-3", "--out", str(tmp_path))
    assert refused.returncode == 1 and "decommissioned" in refused.stderr


def test_a_revoked_pole_is_cut_off_at_once_and_cannot_come_back(
    run: Any, mosquitto: MosquittoServer, db: Conn, tmp_path: Path
) -> None:
    assert run("issue", "K-1", "--out", str(tmp_path)).returncode == 0
    identity = commissioning.read(tmp_path / "K-1.json")
    connected = as_pole(mosquitto, identity)
    assert connected.connect() == "Success"

    result = run("revoke", "K-1")
    assert result.returncode == 0, result.stderr
    # The broker disconnects it before it answers the revocation; the spec
    # allows a second for the client to notice.
    wait_until(lambda: bool(connected.disconnects), 1.0, "the revoked pole disconnected")
    assert connected.connacks == ["Success"]
    connected.close()
    again = as_pole(mosquitto, identity)
    assert again.connect() in ("Not authorized", "Bad user name or password")
    again.close()
    row = db.execute("SELECT revoked_at IS NOT NULL FROM pole_credentials WHERE pole_id = 'K-1'")
    assert row.fetchone() == (True,)
    events = db.execute(
        "SELECT event FROM pole_credential_events WHERE pole_id = 'K-1' ORDER BY id"
    ).fetchall()
    assert [e[0] for e in events] == ["issued", "revoked"]
    listed = run("list")
    assert "disabled" in listed.stdout

    # Issued anew: a new password; the old one stays refused.
    assert run("issue", "K-1", "--out", str(tmp_path / "new")).returncode == 0
    renewed = commissioning.read(tmp_path / "new" / "K-1.json")
    assert renewed.password != identity.password
    old = as_pole(mosquitto, identity)
    assert old.connect() in ("Not authorized", "Bad user name or password")
    old.close()
    new = as_pole(mosquitto, renewed)
    assert new.connect() == "Success"
    new.close()


def test_rotation_refuses_the_old_password_and_accepts_the_new_one(
    run: Any, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    assert run("issue", "L-1", "--out", str(tmp_path / "old")).returncode == 0
    old = commissioning.read(tmp_path / "old" / "L-1.json")
    result = run("rotate", "L-1", "--out", str(tmp_path / "new"))
    assert result.returncode == 0, result.stderr
    new = commissioning.read(tmp_path / "new" / "L-1.json")
    assert new.password != old.password
    with_old = as_pole(mosquitto, old)
    assert with_old.connect() in ("Not authorized", "Bad user name or password")
    with_old.close()
    with_new = as_pole(mosquitto, new)
    assert with_new.connect() == "Success"
    with_new.close()
    missing = run("rotate", "L-404", "--out", str(tmp_path / "new"))
    assert missing.returncode == 1 and "has no credentials" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("issue", "bad id!"), "invalid pole id"),
        (("issue", "smartpole-ingest-x"), "reserved"),
        (("issue",), "give pole ids or --all"),
        (("revoke", "M-404"), "has no credentials"),
    ],
)
def test_refusals_are_reported_cleanly(run: Any, args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_admin_password_is_refused_without_showing_it(run: Any, tmp_path: Path) -> None:
    wrong = tmp_path / "admin.password"
    wrong.write_text("not-the-admin-password\n")
    result = run("issue", "N-1", admin_password_file=wrong)
    assert result.returncode == 1
    assert "refused the admin connection" in result.stderr
    assert "not-the-admin-password" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
