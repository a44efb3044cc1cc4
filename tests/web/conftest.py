"""Browser tests: one headless Chromium per session, one test city (known poles and
readings, the API with the simulated city's district outlines) per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import TEMPLATE_DB
from tests.support.services import PostgresServer, create_database
from tests.support.web import (
    WebCity,
    chromium,
    chromium_available,
    have_web_build,
    seed_city,
    serving,
)

# Generous waits: the machine running CI may be busy. A wait ends as soon as its
# condition holds, so this costs nothing when all is well; it is not a timing assertion.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not chromium_available():
        message = "needs /usr/bin/chromium (scripts/bootstrap --tests installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI ran the bootstrap: a missing browser is a failure
        pytest.skip(message)
    if not have_web_build():
        pytest.fail("web/dist is not built: run scripts/build-web (scripts/bootstrap does)")
    with chromium() as (_, browser):
        yield browser


@pytest.fixture(scope="module")
def seeded(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> WebCity:
    url = create_database(postgres, f"web_{id(tmp_path_factory)}_{_count()}", template=TEMPLATE_DB)
    return seed_city(url, Path(tmp_path_factory.mktemp("web-city")))


@pytest.fixture(scope="module")
def city(seeded: WebCity) -> Iterator[WebCity]:
    """The test city served without tiles (the default: plain background, outlines)."""
    with serving(seeded) as running:
        yield running


_counter = iter(range(1_000_000))


def _count() -> int:
    return next(_counter)
