from __future__ import annotations

import pytest
from pydantic import ValidationError

from smartpole.cli import main
from smartpole.settings import MqttEndpoint, Settings


def test_mqtt_url_is_parsed_with_credentials() -> None:
    endpoint = MqttEndpoint.parse("mqtts://ingest:s%40cret@broker.example:8884")
    assert endpoint == MqttEndpoint("broker.example", 8884, "ingest", "s@cret", tls=True)
    assert "s@cret" not in endpoint.redacted()
    assert MqttEndpoint.parse("mqtt://localhost").port == 1883


@pytest.mark.parametrize(
    "url",
    [
        "http://broker",
        "mqtt://",
        "mqtt://broker:99999",
        "mqtt://broker:abc",
        "mqtt://b/x",
        "b:1883",
    ],
)
def test_bad_mqtt_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="MQTT URL"):
        MqttEndpoint.parse(url)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("database_url", "mysql://x"),
        ("timezone", "Mars/Olympus"),
        ("timezone", "../../etc/passwd"),
        ("ingest_batch_size", "0"),
        ("ingest_batch_size", "100000"),
        ("mqtt_share_group", "a/b"),
        ("mqtt_share_group", "#"),
        ("timescaledb", "maybe"),
    ],
)
def test_bad_settings_are_refused(field: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"SMARTPOLE_{field.upper()}", value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_cli_reports_bad_configuration_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTPOLE_INGEST_BATCH_SIZE", "-5")
    assert main(["db", "migrate"]) == 2
    assert "SMARTPOLE_INGEST_BATCH_SIZE" in capsys.readouterr().err


def test_commands_needing_a_database_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARTPOLE_DATABASE_URL", raising=False)
    with pytest.raises(SystemExit, match="SMARTPOLE_DATABASE_URL is not set"):
        main(["db", "migrate"])
