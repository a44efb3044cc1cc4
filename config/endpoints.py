"""Connection endpoints parsed from their URLs: values, not settings.

An `MqttEndpoint` is what ingest and the simulators connect to; it is parsed
from `SMARTPOLE_MQTT_URL` once and then passed around, so no code below the
CLI reads the environment to find the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

MQTT_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How an `mqtts://` client checks the broker and, optionally, proves itself.

    `ca_file` None trusts the system's certificate authorities; `cert_file` and
    `key_file` are a client certificate for brokers that ask for one."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    check_hostname: bool = True


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """A parsed `mqtt://user:pass@host:port` URL (`mqtts://` for TLS)."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    tls: bool
    tls_options: TlsOptions = field(default_factory=TlsOptions)

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        parts = urlsplit(url)
        shown = redact_url(url)
        if parts.scheme not in MQTT_DEFAULT_PORTS:
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {shown!r}")
        if not parts.hostname:
            raise ValueError(f"MQTT URL has no host: {shown!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"MQTT URL must be scheme://[user[:password]@]host[:port]: {shown!r}")
        try:
            port = parts.port or MQTT_DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:  # urllib raises on a non-numeric or out-of-range port
            raise ValueError(f"MQTT URL has an invalid port: {shown!r}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "mqtts",
        )

    def with_credentials(self, username: str | None, password: str | None) -> MqttEndpoint:
        """The same broker, another identity."""
        return replace(self, username=username, password=password)

    def with_tls(self, options: TlsOptions) -> MqttEndpoint:
        return replace(self, tls_options=options)

    def redacted(self) -> str:
        """The URL without the password, for logs."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def check_postgres_dsn(url: str) -> str:
    """A postgresql:// URL with a host, or ValueError (the message never shows the password)."""
    parts = urlsplit(url)
    shown = redact_url(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ValueError(f"must be a postgresql:// URL, got {shown!r}")
    try:
        parts.port  # noqa: B018 - urllib validates the port on access
    except ValueError as exc:
        raise ValueError(f"invalid port in {shown!r}") from exc
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError(f"no host in {shown!r} (postgresql://user:pass@host:5432/db)")
    if parts.path in ("", "/"):
        raise ValueError(f"no database name in {shown!r} (postgresql://user:pass@host:5432/db)")
    return url


def redact_url(url: str) -> str:
    """`url` with its password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:
        password = None
    if not password:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
