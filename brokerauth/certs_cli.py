"""`smartpole certs dev`: a development CA and a broker certificate signed by it
(and optionally client certificates for poles that authenticate with one)."""

from __future__ import annotations

import argparse
from pathlib import Path

from brokerauth.certs import DEFAULT_HOSTS, ensure_dev_certificates, make_client
from brokerauth.roles import IdentityError, check_pole_id
from config.base import ServiceSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    certs = commands.add_parser("certs", help="TLS certificates for development and tests")
    kinds = certs.add_subparsers(dest="certs_command", required=True, metavar="KIND")
    dev = kinds.add_parser(
        "dev",
        help="a local CA and a broker certificate signed by it (made once, then kept)",
        description="Writes ca.crt, ca.key, server.crt and server.key (keys 0600) into --dir. "
        "Point the broker's certfile/keyfile at server.*, and SMARTPOLE_MQTT_TLS_CA_FILE at "
        "ca.crt. For development and tests: production brokers use a real CA.",
    )
    dev.add_argument("--dir", type=Path, default=Path("certs"), help="default %(default)s")
    dev.add_argument(
        "--host",
        action="append",
        dest="hosts",
        help="a name or address the broker is reached by (repeat; default "
        f"{', '.join(DEFAULT_HOSTS)})",
    )
    dev.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="POLE_ID",
        help="also a client certificate for this pole (common name = pole id), for a "
        "listener with use_identity_as_username (repeat)",
    )
    dev.set_defaults(handler=_dev, settings_class=ServiceSettings)


def _dev(args: argparse.Namespace, settings: ServiceSettings) -> int:
    hosts = tuple(args.hosts) if args.hosts else DEFAULT_HOSTS
    certs = ensure_dev_certificates(args.dir, hosts)
    print(f"CA certificate      {certs.ca_cert}   (SMARTPOLE_MQTT_TLS_CA_FILE)")
    print(f"broker certificate  {certs.server_cert}   (mosquitto.conf certfile)")
    print(f"broker key          {certs.server_key}   (mosquitto.conf keyfile, 0600)")
    for pole_id in args.client:
        try:
            cert, key = make_client(certs, check_pole_id(pole_id))
        except IdentityError as exc:
            print(f"smartpole certs dev: {exc}")
            return 2
        print(f"client {pole_id:<12} {cert} / {key}")
    return 0
