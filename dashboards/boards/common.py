"""What every dashboard shares: its identity, the template variables, the frame
(tags, links, time range) around its panels, and the result the tests inspect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dashboard_model

from dashboards.panels import Layout
from dashboards.queries import common as q
from dashboards.sql import datasource_ref

TAGS = ["smartpole"]
DEFAULT_TIMEZONE = "Europe/Berlin"
# Rollup panels never ask for buckets finer than the rollup holds.
ROLLUP_MIN_INTERVAL = "1h"


@dataclass(frozen=True, slots=True)
class DashboardSpec:
    uid: str
    name: str
    file_name: str
    # what it shows, in the README's words (with the numbers it uses)
    summary: str

    @property
    def title(self) -> str:
        return f"Smartpole · {self.name}"


@dataclass(frozen=True, slots=True)
class BuiltDashboard:
    spec: DashboardSpec
    board: dashboard_builders.Dashboard
    # each panel with the query it runs (None: panels without SQL)
    layout: Layout


def variables(timezone: str, poles: str | None) -> list[cogbuilder.Builder[Any]]:
    """$tz always; with poles="multi" also $district and $pole (multi, All); "single": one pole."""
    ds = datasource_ref()
    tz = dashboard_builders.ConstantVariable("tz").label("Time zone of local days").value(timezone)
    if poles == "single":
        return [
            tz,
            dashboard_builders.QueryVariable("pole")
            .label("Pole")
            .datasource(ds)
            .query(q.VAR_ALL_POLES)
            .refresh(dashboard_model.VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
            .multi(False)
            .include_all(False),
        ]
    district = (
        dashboard_builders.QueryVariable("district")
        .label("District")
        .datasource(ds)
        .query(q.VAR_DISTRICTS)
        .refresh(dashboard_model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(dashboard_model.VariableOption(text="All", value="$__all", selected=True))
    )
    if poles is None:
        return [tz, district]
    pole = (
        dashboard_builders.QueryVariable("pole")
        .label("Pole")
        .datasource(ds)
        .query(q.VAR_POLES_IN_DISTRICTS)
        .refresh(dashboard_model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(dashboard_model.VariableOption(text="All", value="$__all", selected=True))
    )
    return [tz, district, pole]


def assemble(
    spec: DashboardSpec,
    layout: Layout,
    variables: list[cogbuilder.Builder[Any]],
    time_from: str,
    description: str,
) -> BuiltDashboard:
    board = (
        dashboard_builders.Dashboard(spec.title)
        .uid(spec.uid)
        .description(description)
        .tags(TAGS)
        .time(time_from, "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR)
        .editable()
        .link(
            dashboard_builders.DashboardLink("Smartpole")
            .type(dashboard_model.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )
    for variable in variables:
        board.with_variable(variable)
    for panel, _ in layout.panels:
        board.with_panel(panel)
    return BuiltDashboard(spec, board, layout)
