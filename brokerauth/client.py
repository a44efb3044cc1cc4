"""Putting an endpoint's identity and TLS options on a paho client: the one
place ingest, the simulators and the admin channel set them up."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt

from config import ConfigError
from config.endpoints import MqttEndpoint


def tls_context(endpoint: MqttEndpoint) -> ssl.SSLContext:
    """TLS 1.2 or newer, the broker's certificate checked against the CA file
    (or the system's CAs), its name checked unless switched off."""
    options = endpoint.tls_options
    try:
        context = ssl.create_default_context(
            cafile=str(options.ca_file) if options.ca_file else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = options.check_hostname
        if options.cert_file is not None:
            context.load_cert_chain(
                str(options.cert_file),
                str(options.key_file) if options.key_file else None,
            )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"MQTT TLS files unusable: {exc}") from exc
    return context


def configure(client: mqtt.Client, endpoint: MqttEndpoint) -> None:
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set_context(tls_context(endpoint))
