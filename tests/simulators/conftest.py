"""Helpers for simulator tests: seeded runs of the pure generator."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from models.topics import Family
from simulators.city import City, PoleSpec, layout_fleet, single_pole
from simulators.faults import FaultPlan
from simulators.generator import Outgoing, Window, fleet_events

BERLIN = ZoneInfo("Europe/Berlin")
CITY = City.named("Castrop-Rauxel", 51.55, 7.31)
# A Wednesday in the past (ingest rejects future timestamps), in summer time.
END = datetime(2025, 6, 18, 12, tzinfo=UTC)
ALL_FAMILIES = {Family.ENV, Family.LIGHT, Family.WIFI, Family.EV}


def fleet(count: int, seed: int = 1, interval_s: float = 60) -> list[PoleSpec]:
    return layout_fleet(CITY, count, random.Random(f"{seed}:fleet"), interval_s)


def one_pole(pole_id: str = "CR-TEST") -> list[PoleSpec]:
    return [single_pole(pole_id, CITY, set(ALL_FAMILIES))]


def simulate(
    poles: list[PoleSpec],
    *,
    hours: float = 6,
    plan: FaultPlan | None = None,
    seed: int = 1,
    end: datetime = END,
    interval_s: float = 60,
) -> list[Outgoing]:
    window = Window(end - timedelta(hours=hours), end, timedelta(seconds=interval_s))
    return list(
        fleet_events(poles, window=window, plan=plan or FaultPlan(), seed=seed, timezone=BERLIN)
    )


# shared/ lies beside the repository (locally /work/shared, in CI beside the clone).
_SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def uba_dir() -> Path:
    """The real UBA air-quality export (shared/data/uba-airquality-muenster)."""
    for base in (_SHARED_DATA, Path("/work/shared/data")):
        folder = base / "uba-airquality-muenster"
        if folder.is_dir():
            return folder
    pytest.skip("shared/data/uba-airquality-muenster is not beside the repository")
