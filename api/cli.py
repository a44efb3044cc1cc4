"""`smartpole api`: serve the open-data REST API with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from config.services import ApiSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "api",
        help="serve the open-data REST API",
        description="Serve the REST API (docs at /docs) on SMARTPOLE_API_HOST:SMARTPOLE_API_PORT.",
    )
    parser.set_defaults(handler=serve, settings_class=ApiSettings)


def serve(args: argparse.Namespace, settings: ApiSettings) -> int:
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from api.app import create_app  # noqa: PLC0415

    settings.require_database_url()
    common: dict[str, Any] = {
        "host": settings.api_host,
        "port": settings.api_port,
        "log_config": None,  # smartpole.logs already configured the root logger
        "proxy_headers": True,
    }
    if settings.api_workers > 1:
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
