from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config import ConfigError
from config.base import DEPRECATED_NAMES, ServiceSettings
from config.endpoints import MqttEndpoint, redact_url
from config.services import (
    SERVICE_SETTINGS,
    ApiSettings,
    DashboardSettings,
    IngestSettings,
    SimulatorSettings,
    StorageSettings,
    UpSettings,
)
from smartpole.cli import main


def test_mqtt_url_is_parsed_with_credentials() -> None:
    endpoint = MqttEndpoint.parse("mqtts://ingest:s%40cret@broker.example:8884")
    assert endpoint == MqttEndpoint("broker.example", 8884, "ingest", "s@cret", tls=True)
    assert "s@cret" not in endpoint.redacted()
    assert "s@cret" not in repr(endpoint)
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
    ("cls", "field", "value"),
    [
        (IngestSettings, "database_url", "mysql://x"),
        (IngestSettings, "database_url", "postgresql://user:pw@host:99999/db"),
        (IngestSettings, "database_url", "postgresql://user:pw@host:5432"),
        (IngestSettings, "database_url", "not a url"),
        (ApiSettings, "timezone", "Mars/Olympus"),
        (ApiSettings, "timezone", "../../etc/passwd"),
        (IngestSettings, "ingest_batch_size", "0"),
        (IngestSettings, "ingest_batch_size", "100000"),
        (IngestSettings, "mqtt_share_group", "a/b"),
        (IngestSettings, "mqtt_share_group", "#"),
        (IngestSettings, "mqtt_url", "http://broker"),
        (IngestSettings, "ingest_mqtt_reader", "fast"),
        (StorageSettings, "timescaledb", "maybe"),
        (StorageSettings, "health_offline_after_s", "0"),
        (SimulatorSettings, "simulator_resend_attempts", "0"),
        (SimulatorSettings, "simulator_resend_attempts", "1000000"),
        (SimulatorSettings, "simulator_resend_attempts", "ten"),
        (SimulatorSettings, "simulator_resend_backoff_s", "-1"),
        (SimulatorSettings, "simulator_resend_backoff_s", "nan"),
        (SimulatorSettings, "simulator_resend_backoff_max_s", "-0.5"),
        (SimulatorSettings, "simulator_resend_backoff_max_s", "inf"),
    ],
)
def test_bad_settings_are_refused(
    cls: type[ServiceSettings], field: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"SMARTPOLE_{field.upper()}", value)
    with pytest.raises(ValidationError):
        cls()


def test_a_refused_database_url_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", "mysql://admin:hunter2@db/smartpole")
    assert main(["db", "migrate"]) == 2
    err = capsys.readouterr().err
    assert "SMARTPOLE_DATABASE_URL" in err and "hunter2" not in err
    assert redact_url("postgresql://a:b@h/d") == "postgresql://a:***@h/d"


def test_secrets_are_not_in_the_settings_repr() -> None:
    settings = ApiSettings(
        database_url="postgresql://app:dbsecret@db/smartpole",  # type: ignore[arg-type]
        api_key="adminsecret",  # type: ignore[arg-type]
    )
    assert "dbsecret" not in repr(settings) and "adminsecret" not in repr(settings)
    assert settings.require_database_url() == "postgresql://app:dbsecret@db/smartpole"


def test_each_service_reads_only_its_own_variables() -> None:
    assert "api_key" not in IngestSettings.model_fields
    assert "ingest_batch_size" not in ApiSettings.model_fields
    assert "state_dir" not in StorageSettings.model_fields
    # `smartpole up` starts every service but the Grafana push, so it validates
    # all of their settings before it starts any.
    started = {
        name
        for cls in SERVICE_SETTINGS
        if cls is not DashboardSettings
        for name in cls.model_fields
    }
    assert started == set(UpSettings.model_fields)


def test_a_renamed_variable_still_works_under_its_old_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMARTPOLE_API_CACHE_SECONDS", "7")
    with pytest.warns(DeprecationWarning, match="SMARTPOLE_API_CACHE_TTL_S"):
        assert ApiSettings().api_cache_ttl_s == 7
    monkeypatch.setenv("SMARTPOLE_API_CACHE_TTL_S", "3")
    with pytest.warns(DeprecationWarning, match="both are set"):
        assert ApiSettings().api_cache_ttl_s == 3


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED_NAMES.items()))
def test_every_deprecated_name_points_at_a_setting(old: str, new: str) -> None:
    field = new.removeprefix("SMARTPOLE_").lower()
    assert field in UpSettings.model_fields
    assert old.removeprefix("SMARTPOLE_").lower() not in UpSettings.model_fields


def test_old_health_variables_reach_migrate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTPOLE_API_EXPECTED_CADENCE_S", "120")
    with pytest.warns(DeprecationWarning):
        assert StorageSettings().health_offline_after_s == 120


def test_the_cli_logs_a_deprecated_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTPOLE_API_STALE_SENSOR_S", "60")
    monkeypatch.delenv("SMARTPOLE_DATABASE_URL", raising=False)
    assert main(["db", "migrate"]) == 2  # no database: but the notice came first
    err = capsys.readouterr().err
    assert "SMARTPOLE_API_STALE_SENSOR_S is deprecated" in err


def test_the_cli_reports_bad_configuration_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTPOLE_COMPRESS_AFTER_DAYS", "-5")
    assert main(["db", "migrate"]) == 2
    assert "SMARTPOLE_COMPRESS_AFTER_DAYS" in capsys.readouterr().err


def test_a_variable_of_another_service_does_not_stop_a_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The API's settings are not the migrator's business.
    monkeypatch.setenv("SMARTPOLE_API_PORT", "not a port")
    monkeypatch.delenv("SMARTPOLE_DATABASE_URL", raising=False)
    assert main(["db", "migrate"]) == 2
    err = capsys.readouterr().err
    assert "SMARTPOLE_API_PORT" not in err and "SMARTPOLE_DATABASE_URL is not set" in err


def test_commands_needing_a_database_say_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SMARTPOLE_DATABASE_URL", raising=False)
    assert main(["db", "migrate"]) == 2
    assert "SMARTPOLE_DATABASE_URL is not set" in capsys.readouterr().err


def test_the_mqtt_password_comes_from_its_file_and_never_shows(tmp_path: Path) -> None:
    secret = tmp_path / "ingest.password"
    secret.write_text("s3cret-from-file\n")
    settings = IngestSettings(
        mqtt_url="mqtts://smartpole.ingest@broker:8883",  # type: ignore[arg-type]
        mqtt_password_file=secret,
        mqtt_tls_ca_file=tmp_path / "ca.crt",
    )
    endpoint = settings.mqtt
    assert (endpoint.username, endpoint.password, endpoint.tls) == (
        "smartpole.ingest", "s3cret-from-file", True,
    )  # fmt: skip
    assert endpoint.tls_options.ca_file == tmp_path / "ca.crt"
    assert endpoint.tls_options.check_hostname
    assert "s3cret" not in repr(endpoint) + endpoint.redacted() + repr(settings)


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_a_missing_or_empty_password_file_names_the_setting(
    tmp_path: Path, content: str | None
) -> None:
    secret = tmp_path / "missing.password"
    if content is not None:
        secret.write_text(content)
    settings = IngestSettings(mqtt_password_file=secret)
    with pytest.raises(ConfigError, match="SMARTPOLE_MQTT_PASSWORD_FILE"):
        _ = settings.mqtt


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    settings = IngestSettings(mqtt_tls_cert_file=tmp_path / "c.crt")
    with pytest.raises(ConfigError, match="go together"):
        _ = settings.mqtt


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("api_admin_keys", "ops"),
        ("api_admin_keys", "ops:1234"),
        ("api_admin_keys", "bad name:" + "a" * 64),
        ("api_admin_keys", f"ops:{'a' * 64},ops:{'b' * 64}"),
        ("api_trusted_proxies", "10.0.0.1,not-an-ip"),
        ("api_rate_limit_burst", "0"),
    ],
)
def test_bad_api_security_settings_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        ApiSettings.model_validate({field: value})
