"""The README's configuration reference is exactly what `Settings` says."""

from __future__ import annotations

import pytest

from config.services import SERVICE_SETTINGS
from smartpole.settings_table import current_block, replace_block, settings_table
from tests.deploy.launch import REPO


def test_readme_configuration_table_matches_the_settings_class() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert current_block(readme) == settings_table(), (
        "README.md's configuration table is stale: run `make settings-table`"
    )


def test_every_setting_is_a_row_with_its_description() -> None:
    table = settings_table()
    for cls in SERVICE_SETTINGS:
        for name, info in cls.model_fields.items():
            assert info.description, f"{name} has no description"
            row = next(r for r in table.splitlines() if f"`SMARTPOLE_{name.upper()}`" in r)
            assert " ".join(info.description.split()).replace("|", "\\|") in row
            assert f"`{cls.used_by}`" in row


def test_replacing_the_block_keeps_the_rest_of_the_readme() -> None:
    text = "# title\n\n<!-- settings-table:start -->\nold\n<!-- settings-table:end -->\ntail\n"
    replaced = replace_block(text, "| new |\n")
    assert replaced == (
        "# title\n\n<!-- settings-table:start -->\n| new |\n<!-- settings-table:end -->\ntail\n"
    )
    assert current_block(replaced) == "| new |\n"


def test_a_readme_without_markers_is_an_error() -> None:
    with pytest.raises(ValueError):
        current_block("# no markers here\n")
