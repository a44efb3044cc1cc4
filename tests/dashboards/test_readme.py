"""The README's dashboard and alert tables are what the code generates, and the numbers
they quote are the catalogue's."""

from __future__ import annotations

from dashboards import alerts
from dashboards.readme import BLOCKS, README, current_block, replace_blocks, tables
from models.catalogue.air_quality import EU_STANDARDS
from models.catalogue.health import DAY_BURNER_SUN_ELEVATION_DEG, DEFAULT_HEALTH


def test_readme_tables_match_the_code() -> None:
    readme = README.read_text(encoding="utf-8")
    for block, table in tables().items():
        assert current_block(readme, block) == table, (
            f"README.md's {block} is stale: run `make dashboards`"
        )


def test_alert_table_quotes_the_catalogue_values() -> None:
    table = tables()["alerts-table"]
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


def test_replacing_the_blocks_keeps_the_rest_of_the_readme() -> None:
    text = "# title\n\n" + "".join(
        f"<!-- {block}:start -->\nstale text\n<!-- {block}:end -->\nbetween\n" for block in BLOCKS
    )
    replaced = replace_blocks(text)
    assert replaced.startswith("# title\n\n")
    assert "stale text" not in replaced and replaced.count("between\n") == len(BLOCKS)
    assert replace_blocks(replaced) == replaced
