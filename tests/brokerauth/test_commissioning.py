"""Commissioning files: what the simulators and field technicians read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brokerauth import commissioning
from brokerauth.commissioning import CommissioningError, PoleIdentity


def test_a_file_round_trips_and_a_folder_loads_every_pole(tmp_path: Path) -> None:
    for pole_id in ("P-1", "P-2"):
        identity = PoleIdentity(pole_id, pole_id, pole_id, f"pw-{pole_id}")
        commissioning.write(tmp_path, identity, issued_at=datetime.now(UTC), broker_url=None)
    loaded = commissioning.load(tmp_path)
    assert sorted(loaded) == ["P-1", "P-2"]
    assert loaded["P-2"].password == "pw-P-2"
    assert commissioning.load(tmp_path / "P-1.json").keys() == {"P-1"}
    assert "pw-" not in repr(loaded)


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"format": "other"}), json.dumps({"format": commissioning.FORMAT})],
)
def test_unusable_files_are_refused_with_their_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "P-1.json"
    path.write_text(content)
    with pytest.raises(CommissioningError, match=r"P-1\.json"):
        commissioning.read(path)


def test_a_file_named_for_another_pole_is_refused(tmp_path: Path) -> None:
    commissioning.write(
        tmp_path, PoleIdentity("P-1", "P-1", "P-1", "pw"), issued_at=datetime.now(UTC),
        broker_url=None,
    )  # fmt: skip
    (tmp_path / "P-1.json").rename(tmp_path / "P-9.json")
    with pytest.raises(CommissioningError, match="identity of pole 'P-1'"):
        commissioning.load(tmp_path)


def test_the_simulator_reports_missing_credentials_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    result = subprocess.run(
        [sys.executable, "-m", "smartpole.cli", "simulate", "pole", "P-1", "--duration", "1m",
         "--credentials", str(tmp_path / "nowhere")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr
