"""The Lighting and energy dashboard."""

from __future__ import annotations

from dashboards.boards.common import (
    DEFAULT_TIMEZONE,
    BuiltDashboard,
    DashboardSpec,
    assemble,
    variables,
)
from dashboards.panels import (
    Layout,
    table_panel,
    time_series,
)
from dashboards.queries import common
from dashboards.queries import lighting as q
from models.catalogue.health import DAY_BURNER_SUN_ELEVATION_DEG

SPEC = DashboardSpec(
    "smartpole-lighting",
    "Lighting and energy",
    "lighting.json",
    (
        "burn hours and energy per district and day (district rollup), dimming, day burners "
        "(lamp on while the "
        f"sun is more than {DAY_BURNER_SUN_ELEVATION_DEG:g}° up), defective lamps"
    ),
)


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        time_series(
            "Burn hours per day by district",
            q.LIGHT_BURN_HOURS,
            "Lamp hours on or dimmed per local day, from the district rollup. A reading holds "
            f"until the next one, for at most {common.LIGHT_READING_VALID_FOR}.",
            bars=True,
        ),
        12,
        8,
        q.LIGHT_BURN_HOURS,
    )
    layout.add(
        time_series(
            "Energy per day by district",
            q.LIGHT_ENERGY,
            "From the lamp meters (totalActiveEnergyImport) per local day, from the district "
            "rollup.",
            bars=True,
        ),
        12,
        8,
        q.LIGHT_ENERGY,
    )
    layout.add(
        time_series(
            "Dimming by district",
            q.LIGHT_DIMMING,
            "Mean dim level of burning lamps (100 % = full output).",
        ),
        24,
        7,
        q.LIGHT_DIMMING,
    )
    layout.add(
        table_panel(
            "Day burners",
            q.LIGHT_DAY_BURNERS,
            "Lamps on or dimmed while the sun stood more than "
            f"{DAY_BURNER_SUN_ELEVATION_DEG:g}° above the horizon at the pole.",
        ),
        12,
        8,
        q.LIGHT_DAY_BURNERS,
    )
    layout.add(
        table_panel(
            "Defective lamps",
            q.LIGHT_DEFECTIVE,
            "Poles whose newest lamp status is not ok (the pole_health view's lamp fault).",
        ),
        12,
        8,
        q.LIGHT_DEFECTIVE,
    )
    return assemble(
        SPEC,
        layout,
        variables(timezone, None),
        "now-7d",
        "Street lighting: burn hours, energy, dimming, day burners and defective lamps.",
    )
