"""All smartpole dashboards, in a fixed order, as the JSON Grafana stores.

Each board module (`dashboards/boards/*.py`) builds one dashboard from its queries
(`dashboards/queries/*.py`) and the shared panel builders (`dashboards/panels.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.boards import (
    environment,
    ev,
    lighting,
    operations,
    overview,
    pole_detail,
    wifi,
)
from dashboards.boards.common import DEFAULT_TIMEZONE, BuiltDashboard

BUILDERS: tuple[Callable[[str], BuiltDashboard], ...] = (
    overview.build,
    environment.build,
    ev.build,
    wifi.build,
    lighting.build,
    pole_detail.build,
    operations.build,
)


def dashboard_json(board: dashboard_builders.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores)."""
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return data


def built_dashboards(timezone: str = DEFAULT_TIMEZONE) -> list[BuiltDashboard]:
    return [build(timezone) for build in BUILDERS]


def all_dashboards(timezone: str = DEFAULT_TIMEZONE) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, in a fixed order."""
    return {
        built.spec.file_name: dashboard_json(built.board) for built in built_dashboards(timezone)
    }


def render_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
