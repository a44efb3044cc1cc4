"""The numbers the README's alert table quotes are the catalogue's (that the README
holds the generated tables is tests/deploy/test_readme.py's job)."""

from __future__ import annotations

from dashboards import alerts
from dashboards.readme import alerts_table
from models.catalogue.air_quality import EU_STANDARDS
from models.catalogue.health import DAY_BURNER_SUN_ELEVATION_DEG, DEFAULT_HEALTH


def test_alert_table_quotes_the_catalogue_values() -> None:
    table = alerts_table()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()[2:]}
    assert set(rows) == {rule.title for rule in alerts.RULES}
    for rule in alerts.AIR_QUALITY_RULES:
        [standard] = [
            s
            for s in EU_STANDARDS
            if s.pollutant == rule.labels["pollutant"]
            and s.indicator.value == rule.labels["indicator"]
            and s.rule_set.value == rule.labels["rule_set"]
            and s.objective.value == rule.labels["objective"]
        ]
        row = rows[rule.title]
        assert f"> {standard.threshold:g} µg/m³" in row
        assert f"({standard.allowed_exceedances} a year allowed" in row
    minutes = int(DEFAULT_HEALTH.offline_after.total_seconds() // 60)
    assert f"(default {minutes} minutes)" in rows["Pole offline"]
    assert f"{DAY_BURNER_SUN_ELEVATION_DEG:g}°" in rows["Lamp burning in daylight"]
