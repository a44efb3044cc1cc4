"""`smartpole simulate ...` as a technician types it, hostile arguments included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from smartpole.cli import main

END = "2025-06-18T12:00:00+00:00"


def test_a_seeded_dry_run_is_reproducible_and_writes_a_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(name: str) -> dict[str, object]:
        path = tmp_path / name
        code = main([
            "simulate", "fleet", "--poles", "5", "--duration", "2h", "--dry-run", "--seed", "11",
            "--end", END, "--faults", "offline=6,malformed=0.05", "--summary-json", str(path),
        ])  # fmt: skip
        assert code == 0
        document: dict[str, object] = orjson.loads(path.read_bytes())
        return document

    first, second = run("a.json"), run("b.json")
    assert first == second
    assert first["seed"] == 11 and len(first["poles"]) == 5  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "expect in the platform: env_readings=" in out


def test_pole_mode_shows_every_message_and_marks_deliberate_rejects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main([
        "simulate", "pole", "CR-0042", "--scenario", "malformed+offline", "--duration", "2h",
        "--dry-run", "--end", END, "--seed", "1",
    ])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[1] == "CR-0042/light" for line in lines if line[:2].isdigit())
    assert any("REJECTED by design" in line and "[malformed]" in line for line in lines)
    assert any("last-will" in line for line in lines)
    assert any("CR-0042/ev/1" in line for line in lines)


def test_record_then_replay_in_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = tmp_path / "run.jsonl"
    assert main([
        "simulate", "pole", "CR-1", "--scenario", "normal", "--duration", "30m", "--dry-run",
        "--end", END, "--record", str(recorded),
    ]) == 0  # fmt: skip
    assert recorded.read_bytes().count(b"\n") > 60
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fleet", "--poles", "0", "--duration", "1h"], "must be 1-"),
        (["fleet", "--poles", "ten", "--duration", "1h"], "not a whole number"),
        (["fleet", "--poles", "2", "--duration=-5m"], "not a duration"),
        (["fleet", "--poles", "2", "--duration", "0s"], "more than 0"),
        (["fleet", "--poles", "2", "--duration", "400d"], "at most"),
        (["fleet", "--poles", "2", "--duration", "1h", "--speed", "0.5"], "speed must be"),
        (["fleet", "--poles", "2", "--duration", "1h", "--speed", "nan"], "speed must be"),
        (["fleet", "--poles", "2", "--duration", "1h", "--faults", "meteor"], "unknown fault"),
        (["fleet", "--poles", "2", "--duration", "1h", "--end", "2025-01-01T00:00"], "UTC offset"),
        (
            ["fleet", "--poles", "2", "--duration", "1h", "--backfill", "--speed", "5"],
            "not allowed",
        ),
        (["fleet", "--poles", "2", "--duration", "1h", "--window", "70000"], "must be 1-65535"),
        (["replay", "x.csv", "--format", "xml"], "invalid choice"),
    ],
)
def test_bad_arguments_are_refused_by_the_parser(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _future() -> str:
    return (datetime.now(UTC) + timedelta(hours=2)).isoformat()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pole", "bad id!", "--dry-run"], "invalid pole id"),
        (["pole", "P-1", "--dry-run", "--scenario", "meltdown"], "unknown scenario"),
        (["pole", "P-1", "--dry-run", "--capabilities", "env,status"], "not a capability"),
        (["pole", "P-1", "--dry-run", "--capabilities", "toaster"], "toaster"),
        (["pole", "P-1", "--dry-run", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["fleet", "--poles", "2", "--duration", "1h", "--dry-run", "--lat", "80"], "latitude"),
        (["fleet", "--poles", "2", "--duration", "1h", "--dry-run", "--lat", "nan"], "latitude"),
        (["fleet", "--poles", "2", "--duration", "1h", "--dry-run", "--end", "FUTURE"], "future"),
        (["fleet", "--poles", "2", "--duration", "1h", "--end", END], "needs --backfill"),
        (["fleet", "--poles", "2", "--duration", "1m", "--interval", "5m", "--dry-run"],
         "--interval"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_a_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [_future() if a == "FUTURE" else a for a in argv]
    assert main(["simulate", *argv]) == 2
    assert message in capsys.readouterr().err


def test_replay_of_a_missing_or_foreign_file_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "replay", str(tmp_path / "nope.csv")]) == 2
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00\xff" * 100)
    assert main(["simulate", "replay", str(odd)]) == 2
    err = capsys.readouterr().err
    assert "nope.csv" in err and "neither UBA CSV nor JSON lines" in err
