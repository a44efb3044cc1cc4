"""Live updates: a reading published over MQTT while the page is open reaches the map
through ingest, the database's change feed and the Server-Sent Events stream, without a
reload and without polling."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.services import wait_until
from tests.support.web import new_page, open_map, seed_city, serving


def test_a_reading_published_over_mqtt_appears_without_reload(
    browser: Browser,
    database_url: str,
    ingest: IngestProcess,
    publisher: TestPublisher,
    tmp_path: Path,
) -> None:
    city = seed_city(database_url, tmp_path)
    ingest.start()
    wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")
    pole = city.pole("WEB-004")
    # With the response cache on, as shipped: a refetch right after the event must not
    # be answered from an entry computed before it.
    with serving(city, api_cache_ttl_s=2.0) as running:
        context, page, watch = new_page(browser)
        try:
            open_map(page, running)
            expect(page.locator("#live")).to_have_attribute("data-live", "on", timeout=10_000)
            page.click("#pole-list-section summary")
            page.click(f"#pole-list button[data-pole-id='{pole.pole_id}']")
            page.wait_for_selector("#latest-table tr[data-metric='pm10']")
            loads = sum(1 for u in watch.requests if u.endswith("/map"))
            # A value no seeded reading has, newer than every seeded one.
            reading = {
                "dateObserved": datetime.now(UTC).isoformat(),
                "pm10": 987.6,
                "pm25": 55.5,
                "no2": 12.0,
                "o3": 40.0,
            }
            publisher.publish_all([(f"smartpole/v1/poles/{pole.pole_id}/env", reading)])
            cell = page.locator("#latest-table tr[data-metric='pm10'] td.value")
            expect(cell).to_have_attribute("data-value", "987.6", timeout=15_000)
            # No reload: the page was loaded once.
            assert sum(1 for u in watch.requests if u.endswith("/map")) == loads == 1
            assert any("/v1/stream" in u for u in watch.requests)
        finally:
            context.close()
