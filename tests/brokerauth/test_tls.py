"""TLS to the broker: the listener of the shipped configuration with a
certificate from `smartpole certs dev`, and the client settings of ingest and
the simulators (CA file, host name check)."""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from brokerauth.bootstrap import INGEST_ACCOUNT, password_file
from brokerauth.certs import DevCertificates, ensure_dev_certificates
from brokerauth.client import tls_context
from config.endpoints import MqttEndpoint, TlsOptions
from tests.ingest.test_end_to_end import count, start_and_wait_subscribed
from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import MqttProbe, TestPublisher
from tests.support.services import MosquittoServer, running_mosquitto, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]


def tls_endpoint(mosquitto: MosquittoServer, pole_id: str, **tls: Any) -> MqttEndpoint:
    plain = mosquitto.pole_endpoint(pole_id)
    return dataclasses.replace(
        plain, port=mosquitto.tls_port, tls=True, tls_options=TlsOptions(**tls)
    )


def test_ingest_connects_over_tls_with_the_dev_ca_and_a_password_file(
    database_url: str, mosquitto: MosquittoServer, publisher: TestPublisher, db: Conn,
    tmp_path: Path,
) -> None:  # fmt: skip
    ingest = IngestProcess(
        database_url,
        f"mqtts://{INGEST_ACCOUNT}@127.0.0.1:{mosquitto.tls_port}",
        tmp_path / "ingest.log",
        mqtt_tls_ca_file=str(mosquitto.ca_file),
        mqtt_password_file=str(password_file(mosquitto.broker.secrets_dir, INGEST_ACCOUNT)),
    )
    try:
        start_and_wait_subscribed(ingest)
        assert f"mqtts://{INGEST_ACCOUNT}:***@127.0.0.1:{mosquitto.tls_port}" in ingest.log_text()
        publisher.publish_all([(samples.topic("T-1", "env"), samples.env(0))])
        wait_until(lambda: count(db, "env_readings") == 1, 30, "the reading via TLS ingest")
    finally:
        ingest.stop()
    assert mosquitto.password(INGEST_ACCOUNT) not in ingest.log_text()


def test_a_pole_connects_over_tls_with_the_dev_ca(mosquitto: MosquittoServer) -> None:
    probe = MqttProbe(tls_endpoint(mosquitto, "T-2", ca_file=mosquitto.ca_file), "T-2")
    assert probe.connacks == ["Success"]
    assert probe.publish(samples.topic("T-2", "env"), samples.env(0)) in (
        "Success", "No matching subscribers",
    )  # fmt: skip
    probe.close()


def tls_handshake(endpoint: MqttEndpoint) -> None:
    """The TLS handshake the MQTT clients make, with their own context
    (paho leaves the socket of a failed handshake unclosed, so not via paho)."""
    context = tls_context(endpoint)
    with (
        socket.create_connection((endpoint.host, endpoint.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=endpoint.host),
    ):
        pass


def test_a_client_that_does_not_trust_the_ca_is_refused(mosquitto: MosquittoServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        tls_handshake(tls_endpoint(mosquitto, "T-3"))  # the system's CAs only
    tls_handshake(tls_endpoint(mosquitto, "T-3", ca_file=mosquitto.ca_file))


def test_the_host_name_is_checked_unless_switched_off(tmp_path: Path) -> None:
    # A broker whose certificate names another host than the one dialled.
    ensure_dev_certificates(tmp_path / "broker" / "certs", hosts=("broker.invalid",))
    with running_mosquitto(tmp_path / "broker") as broker:
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            tls_handshake(tls_endpoint(broker, "T-4", ca_file=broker.ca_file))
        unchecked = MqttProbe(
            tls_endpoint(broker, "T-4", ca_file=broker.ca_file, check_hostname=False), "T-4"
        )
        assert unchecked.connacks == ["Success"]
        unchecked.close()


def test_certs_dev_makes_a_ca_and_keys_only_their_owner_reads(tmp_path: Path) -> None:
    folder = tmp_path / "certs"

    def certs_dev(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
        return subprocess.run(
            [sys.executable, "-m", "smartpole.cli", "certs", "dev", "--dir", str(folder), *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    first = certs_dev("--client", "CR-0001")
    assert first.returncode == 0, first.stderr
    certs = DevCertificates(folder)
    assert certs.complete()
    for key in (certs.ca_key, certs.server_key, certs.client_key("CR-0001")):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    ca = certs.ca_cert.read_bytes()
    assert certs_dev().returncode == 0
    assert certs.ca_cert.read_bytes() == ca, "the CA is made once and kept"
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    assert context.cert_store_stats()["x509_ca"] == 1
    bad = certs_dev("--client", "not a pole id")
    assert bad.returncode == 2 and "invalid pole id" in bad.stdout
