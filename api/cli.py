"""`smartpole api`: serve the open-data REST API with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from api import http_limits
from config.base import ServiceSettings
from config.services import ApiSettings, parse_admin_keys, trusted_proxies


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "api",
        help="serve the open-data REST API (new-key: make an admin key)",
        description="Serve the REST API (docs at /docs) on SMARTPOLE_API_HOST:SMARTPOLE_API_PORT.",
    )
    parser.set_defaults(handler=serve, settings_class=ApiSettings)
    actions = parser.add_subparsers(dest="api_command", metavar="ACTION")
    new_key = actions.add_parser(
        "new-key",
        help="a new admin key: shown once, with the entry for SMARTPOLE_API_ADMIN_KEYS",
    )
    new_key.add_argument("name", help="who holds it, e.g. gis-sync (recorded as the actor)")
    new_key.set_defaults(handler=make_key, settings_class=ServiceSettings)


def make_key(args: argparse.Namespace, settings: ServiceSettings) -> int:
    try:
        parse_admin_keys(f"{args.name}:{'0' * 64}")
    except ValueError:
        print("smartpole api new-key: a name is 1-64 of A-Z a-z 0-9 _ . -", file=sys.stderr)
        return 2
    key = secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    print(f"key (give it to {args.name}; it is not stored anywhere): {key}")
    print(f"add to SMARTPOLE_API_ADMIN_KEYS (comma-separated): {args.name}:{digest}")
    return 0


def server_options(settings: ApiSettings) -> dict[str, Any]:
    """How uvicorn serves the API: request size limits while parsing, and
    X-Forwarded-For honoured from the trusted proxies only."""
    proxies = trusted_proxies(settings.api_trusted_proxies)
    return {
        "host": settings.api_host,
        "port": settings.api_port,
        "log_config": None,  # smartpole.logs already configured the root logger
        "http": http_limits.PROTOCOL,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "server_header": False,
    }


def serve(args: argparse.Namespace, settings: ApiSettings) -> int:
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from api.app import create_app  # noqa: PLC0415

    settings.require_database_url()
    common = server_options(settings)
    if settings.api_workers > 1:
        with contextlib.ExitStack() as cleanup:
            if settings.api_rate_limit_per_s > 0 and settings.api_rate_limit_state_file is None:
                # One bucket table for all workers: they map the same file.
                folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(
                    prefix="smartpole-api-")))  # fmt: skip
                os.environ["SMARTPOLE_API_RATE_LIMIT_STATE_FILE"] = str(folder / "rate-limit")
            # Worker processes import the app themselves, from the same environment.
            uvicorn.run(
                "api.app:create_app_from_environment",
                factory=True,
                workers=settings.api_workers,
                **common,
            )
    else:
        uvicorn.run(create_app(settings), **common)
    return 0
