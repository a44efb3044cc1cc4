"""The Environment dashboard."""

from __future__ import annotations

from dashboards.boards.common import (
    DEFAULT_TIMEZONE,
    ROLLUP_MIN_INTERVAL,
    BuiltDashboard,
    DashboardSpec,
    assemble,
    variables,
)
from dashboards.domain import (
    ENV_DAILY,
    ENV_HOURLY,
    ENV_HOURLY_GROUP,
    RULE_SET_IN_FORCE,
    drawn_standards,
    exceedance_column,
    limit_lines,
    limits_text,
    standard_text,
)
from dashboards.panels import (
    Layout,
    table_panel,
    time_series,
)
from dashboards.queries import environment as q
from dashboards.queries.common import HOURLY_RANGE_LIMIT
from models.catalogue.air_quality import (
    MIN_8H_MEANS_FOR_DAILY_MAX,
    MIN_HOURS_FOR_8H_MEAN,
    MIN_HOURS_FOR_DAILY_MEAN,
)

SPEC = DashboardSpec(
    "smartpole-environment",
    "Environment",
    "environment.json",
    (
        "PM2.5, PM10, NO₂, O₃ and noise (LAeq, averaged on energy) by district (district "
        f"rollup) and by pole (hourly rollup, daily beyond {HOURLY_RANGE_LIMIT}), with the "
        "EU limit and target values of "
        f"{RULE_SET_IN_FORCE.value} and the 2030 values of (EU) 2024/2881 as dashed "
        "thresholds; exceedances this year under both, counted in CET days with the "
        "directive's data-capture rules"
    ),
)


def exceedances_text() -> str:
    columns = " ".join(
        f"{exceedance_column(s)}: {standard_text(s)}, {s.rule_set.value}."
        for s in q.EXCEEDANCE_STANDARDS
    )
    return (
        "Calendar year up to the range's end, in CET as the EU statistics are kept, from the "
        f"hourly rollup (indicative: low-cost sensors). A daily mean needs "
        f"{MIN_HOURS_FOR_DAILY_MEAN} hourly means, an 8-hour mean {MIN_HOURS_FOR_8H_MEAN} of "
        f"its 8 hours, a day's maximum 8-hour mean {MIN_8H_MEANS_FOR_DAILY_MAX} valid running "
        f"means. Red: more than allowed. {columns}"
    )


_SOURCE = {
    "district": (
        "Hourly {averaged}: the district totals of the " + ENV_HOURLY_GROUP + " rollup "
        "(with some poles unpicked, the picked poles' " + ENV_HOURLY + " rows)."
    ),
    "pole": (
        "Hourly {averaged} from the "
        + ENV_HOURLY
        + " rollup up to a "
        + HOURLY_RANGE_LIMIT
        + " range, daily ones (local days, "
        + ENV_DAILY
        + ") beyond."
    ),
}


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    for measure in q.MEASURES:
        standards = drawn_standards(measure.column)
        averaged = "energy means (dB average on energy)" if measure.energetic else "means"
        for series in ("district", "pole"):
            sql = q.env_by(measure, series)
            layout.add(
                time_series(
                    f"{measure.title} by {series}",
                    sql,
                    f"{_SOURCE[series].format(averaged=averaged)} {limits_text(standards)}",
                    limits=limit_lines(standards),
                    min_interval=ROLLUP_MIN_INTERVAL,
                ),
                12,
                8,
                sql,
            )
    layout.add(
        table_panel(
            "EU limit exceedances this year",
            q.ENV_EXCEEDANCES,
            exceedances_text(),
            {
                exceedance_column(s): s.allowed_exceedances + 1
                for s in q.EXCEEDANCE_STANDARDS
                if s.allowed_exceedances is not None
            },
        ),
        24,
        10,
        q.ENV_EXCEEDANCES,
    )
    layout.add(
        table_panel(
            "Official statistics this year (EU method, with coverage)",
            q.OFFICIAL_STATISTICS,
            "Per pole (indicative) and reference station: annual means and exceedance counts "
            "against the allowed numbers, computed as GET /v1/air-quality/statistics computes "
            "them (CET, data-capture rules, values as published), stored by `smartpole "
            "air-quality refresh`. valid false: the coverage rule fails (capture_percent); "
            "verdict: met, exceeded or cannot be judged.",
        ),
        24,
        10,
        q.OFFICIAL_STATISTICS,
    )
    return assemble(
        SPEC,
        layout,
        variables(timezone, "multi"),
        "now-7d",
        "Air quality and noise by district and pole against the EU limit values.",
    )
