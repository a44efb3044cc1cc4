"""The settings machinery every service shares: prefix, deprecated names, and
the field groups services compose their settings from.

Naming: every variable starts with `SMARTPOLE_`; a duration or size carries
its unit as a suffix (`_ms`, `_s`, `_days`, `_bytes`). A renamed variable
keeps working under its old name for a while: `DEPRECATED_NAMES` maps it to
the new one, and reading it warns (DeprecationWarning; the CLI logs it).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.endpoints import MqttEndpoint, TlsOptions, check_postgres_dsn, redact_url
from config.errors import ConfigError

ENV_PREFIX = "SMARTPOLE_"

# old variable -> new variable (both with the prefix). Keep an entry for at
# least one release after the rename, then drop it and say so in the README.
DEPRECATED_NAMES: dict[str, str] = {
    "SMARTPOLE_API_CACHE_SECONDS": "SMARTPOLE_API_CACHE_TTL_S",
    "SMARTPOLE_API_EXPECTED_CADENCE_S": "SMARTPOLE_HEALTH_OFFLINE_AFTER_S",
    "SMARTPOLE_API_STALE_SENSOR_S": "SMARTPOLE_HEALTH_STALE_SENSOR_AFTER_S",
}


class _EnvWithDeprecatedNames(EnvSettingsSource):
    """The environment, where a variable's old name stands in for the new one
    (the new one wins when both are set)."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        for old, new in DEPRECATED_NAMES.items():
            field_name = new.removeprefix(ENV_PREFIX).lower()
            if field_name not in self.settings_cls.model_fields or old not in os.environ:
                continue
            message = f"{old} is deprecated: set {new} instead"
            if new in os.environ:
                message += f" (both are set; {new} wins)"
            else:
                values[field_name] = os.environ[old]
            warnings.warn(message, DeprecationWarning, stacklevel=2)
        return values


class ServiceSettings(BaseSettings):
    """Base of every service's settings: the SMARTPOLE_ prefix, read once, frozen."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)
    # Which command(s) read this class; the README's settings table says so.
    used_by: ClassVar[str] = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvWithDeprecatedNames(settings_cls)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of every service."
    )
    log_format: Literal["json", "text"] = Field(
        default="text", description="json: one JSON object a line, for log shippers."
    )


class DatabaseSettings(ServiceSettings):
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL, e.g. postgresql://user:pass@host:5432/smartpole. "
        "Unset: `smartpole up` starts a local PostgreSQL; other commands refuse to start.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_postgres_dsn(value.get_secret_value())
        return value

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise ConfigError(
                "SMARTPOLE_DATABASE_URL is not set (e.g. postgresql://user:pass@host:5432/smartpole)"
            )
        return self.database_url.get_secret_value()

    def database_url_redacted(self) -> str | None:
        return None if self.database_url is None else redact_url(self.require_database_url())


DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


class MqttSettings(ServiceSettings):
    mqtt_url: SecretStr | None = Field(
        default=None,
        description="Broker URL mqtt://user@host:port (mqtts:// for TLS); the password may "
        "sit in the URL (user:pass@) but belongs in SMARTPOLE_MQTT_PASSWORD_FILE. Unset: "
        "`smartpole up` starts a local Mosquitto; other commands use mqtt://127.0.0.1:1883.",
    )
    mqtt_password_file: Path | None = Field(
        default=None,
        description="File holding the MQTT password of the URL's user (one line; e.g. a "
        "Docker secret), so the password is in no environment variable or command line. "
        "Wins over a password in the URL.",
    )
    mqtt_tls_ca_file: Path | None = Field(
        default=None,
        description="mqtts://: PEM file of the certificate authority that signed the "
        "broker's certificate (e.g. from `smartpole certs dev`). Unset: the system's CAs.",
    )
    mqtt_tls_cert_file: Path | None = Field(
        default=None,
        description="mqtts://: client certificate (PEM), for brokers that authenticate "
        "clients by certificate.",
    )
    mqtt_tls_key_file: Path | None = Field(
        default=None,
        description="mqtts://: private key (PEM) of SMARTPOLE_MQTT_TLS_CERT_FILE.",
    )
    mqtt_tls_check_hostname: bool = Field(
        default=True,
        description="mqtts://: the broker's certificate must name the host of the URL. "
        "Turn off only for a broker reached by an address its certificate does not name.",
    )

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            MqttEndpoint.parse(value.get_secret_value())
        return value

    @property
    def mqtt(self) -> MqttEndpoint:
        """The broker with its credentials and TLS options; reads the password file."""
        url = self.mqtt_url.get_secret_value() if self.mqtt_url else DEFAULT_MQTT_URL
        endpoint = MqttEndpoint.parse(url)
        if self.mqtt_password_file is not None:
            endpoint = endpoint.with_credentials(
                endpoint.username, read_secret_file(self.mqtt_password_file, "MQTT_PASSWORD_FILE")
            )
        if (self.mqtt_tls_cert_file is None) != (self.mqtt_tls_key_file is None):
            raise ConfigError(
                "SMARTPOLE_MQTT_TLS_CERT_FILE and SMARTPOLE_MQTT_TLS_KEY_FILE go together"
            )
        return endpoint.with_tls(
            TlsOptions(
                ca_file=self.mqtt_tls_ca_file,
                cert_file=self.mqtt_tls_cert_file,
                key_file=self.mqtt_tls_key_file,
                check_hostname=self.mqtt_tls_check_hostname,
            )
        )


def read_secret_file(path: Path, setting: str) -> str:
    """The secret in `path` (surrounding whitespace stripped), or ConfigError
    naming the setting; the message never shows the content."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"SMARTPOLE_{setting}: cannot read {path}: {reason}") from None
    if not secret:
        raise ConfigError(f"SMARTPOLE_{setting}: {path} is empty")
    return secret


class LocalTimeSettings(ServiceSettings):
    timezone: str = Field(
        default="Europe/Berlin",
        description="Time zone of local days (API default, daily rollups). `smartpole db "
        "migrate` records it for the daily rollups; changing it rebuilds them there.",
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


BoundingBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


class CityAreaSettings(ServiceSettings):
    """Where the city is: what the pole inventory checks positions against (the
    `poles` commands, the API's admin import, `smartpole up`)."""

    city_bbox: str | None = Field(
        default=None,
        description="The city's area as minLon,minLat,maxLon,maxLat (WGS 84): an inventory "
        "import rejects positions outside it (and says when latitude and longitude look "
        "swapped). Unset: taken from the district boundaries when they are configured, else "
        "no area check. `smartpole up` sets it to the simulated city.",
    )
    district_boundaries: Path | None = Field(
        default=None,
        description="GeoJSON FeatureCollection of the districts' outlines (Polygon or "
        "MultiPolygon, WGS 84): an imported pole without a district gets the one its position "
        "lies in, and a district contradicting the position is rejected. `smartpole up` "
        "writes the simulated city's outlines to .state/districts.geojson and uses them.",
    )
    district_name_property: str = Field(
        default="name",
        min_length=1,
        max_length=100,
        description="The property of each district boundary feature holding its name.",
    )

    @field_validator("city_bbox")
    @classmethod
    def _check_bbox(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_bbox(value)
            return value.strip()
        return None

    @property
    def bbox(self) -> BoundingBox | None:
        return None if self.city_bbox is None else parse_bbox(self.city_bbox)


def parse_bbox(text: str) -> BoundingBox:
    """ "minLon,minLat,maxLon,maxLat" in WGS 84 degrees."""
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError("give minLon,minLat,maxLon,maxLat as numbers") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError("give four numbers: minLon,minLat,maxLon,maxLat")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ValueError("need -180 <= minLon < maxLon <= 180 and -90 <= minLat < maxLat <= 90")
    return min_lon, min_lat, max_lon, max_lat


def declared_fields(cls: type[BaseSettings]) -> dict[str, FieldInfo]:
    """The fields of a settings class in declaration order (for the README table)."""
    return dict(cls.model_fields)
