"""The README's generated blocks (settings, deprecated names, MQTT payload fields)
are exactly what the code says."""

from __future__ import annotations

import pytest

from config.services import SERVICE_SETTINGS
from models.catalogue.families import FAMILIES
from smartpole.readme_blocks import (
    BLOCKS,
    current_block,
    mqtt_fields_table,
    replace_block,
    settings_table,
)
from tests.deploy.launch import REPO


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_readme_blocks_match_the_code(name: str) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert current_block(readme, name) == BLOCKS[name](), (
        f"README.md's {name} block is stale: run `make readme`"
    )


def test_every_setting_is_a_row_with_its_description() -> None:
    table = settings_table()
    for cls in SERVICE_SETTINGS:
        for name, info in cls.model_fields.items():
            assert info.description, f"{name} has no description"
            row = next(r for r in table.splitlines() if f"`SMARTPOLE_{name.upper()}`" in r)
            assert " ".join(info.description.split()).replace("|", "\\|") in row
            assert f"`{cls.used_by}`" in row


def test_every_catalogue_field_is_documented() -> None:
    table = mqtt_fields_table()
    for spec in FAMILIES.values():
        for field in spec.fields:
            assert f"`{spec.table}.{field.column}`" in table


def test_replacing_a_block_keeps_the_rest_of_the_readme() -> None:
    text = "# title\n\n<!-- x:start -->\nold\n<!-- x:end -->\ntail\n"
    replaced = replace_block(text, "x", "| new |\n")
    assert replaced == "# title\n\n<!-- x:start -->\n| new |\n<!-- x:end -->\ntail\n"
    assert current_block(replaced, "x") == "| new |\n"


def test_a_readme_without_markers_is_an_error() -> None:
    with pytest.raises(ValueError):
        current_block("# no markers here\n", "x")
