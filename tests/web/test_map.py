"""The public map in headless Chromium against a test city with known data: nothing
leaves this machine, every pole is on the map, a pole's panel shows what the API says,
layers, the "free now" filter, the nearest free charger with a mocked location, the
district outlines without tiles, German and English, an accessibility check (axe-core),
and the API docs offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.web import (
    LOCAL_HOSTS,
    WebCity,
    axe_source,
    marker_total,
    new_page,
    open_map,
    serving,
)


@pytest.fixture
def page(browser: Browser, city: WebCity) -> Iterator[tuple[Page, Any]]:
    context, page, watch = new_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page, watch
    context.close()
    assert errors == [], errors


def _assert_local(watch: Any) -> None:
    assert watch.foreign == []
    hosts = {re.sub(r"^[a-z]+://([^/:]+|\[[^]]+\]).*$", r"\1", u) for u in watch.requests}
    assert hosts <= LOCAL_HOSTS, hosts


def test_map_loads_locally_with_one_marker_per_pole(page: tuple[Page, Any], city: WebCity) -> None:
    browser_page, watch = page
    open_map(browser_page, city)
    assert marker_total(browser_page) == len(city.poles)
    # Every marker (and cluster) has a name for screen readers.
    for el in browser_page.query_selector_all(".pole-marker, .pole-cluster"):
        assert el.get_attribute("aria-label"), el.inner_html()
    _assert_local(watch)
    assert any("/v1/map/poles" in u for u in watch.requests)


def test_pole_panel_shows_the_latest_values_of_the_api(
    page: tuple[Page, Any], city: WebCity
) -> None:
    browser_page, _ = page
    open_map(browser_page, city)
    pole_id = "WEB-001"
    browser_page.click("#pole-list-section summary")
    browser_page.click(f"#pole-list button[data-pole-id='{pole_id}']")
    browser_page.wait_for_selector("#latest-table")
    latest = httpx.get(f"{city.url}/v1/poles/{pole_id}/latest", timeout=30).json()
    shown: dict[tuple[str, str], str] = {}
    for row in browser_page.query_selector_all("#latest-table tr[data-metric]"):
        cell = row.query_selector("td.value")
        assert cell is not None
        shown[(row.get_attribute("data-family") or "", row.get_attribute("data-metric") or "")] = (
            cell.get_attribute("data-value") or ""
        )
    config = httpx.get(f"{city.url}/v1/map/config", timeout=30).json()
    expected = {
        (family, m["metric"]): latest[family][m["metric"]]
        for family in ("env", "light", "wifi")
        if latest[family]
        for m in config["metrics"][family]
        if m["metric"] in latest[family]
    }
    assert set(shown) == set(expected)
    for key, value in expected.items():
        assert shown[key] == ("" if value is None else _js_number(value)), key
    # Units come from the catalogue, the time is the reading's.
    pm10 = browser_page.inner_text("#latest-table tr[data-metric='pm10']")
    assert "µg/m³" in pm10
    assert browser_page.query_selector(f"time[datetime='{latest['env']['observed_at']}']")
    # The licence and the links to the series in the API.
    assert browser_page.query_selector("#panel a[rel='license']")
    browser_page.wait_for_selector("#chart-links a")
    links = [a.get_attribute("href") for a in browser_page.query_selector_all("#chart-links a")]
    assert any(h and h.endswith("") and "/export.csv" in h for h in links)
    assert browser_page.query_selector("#chart-24h canvas, #chart-24h .no-data")


def _js_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_layers_and_the_free_now_filter(page: tuple[Page, Any], city: WebCity) -> None:
    browser_page, _ = page
    open_map(browser_page, city)
    browser_page.check("input[name='layer'][value='ev']")
    assert browser_page.get_attribute("body", "data-layer") == "ev"
    assert "free" in browser_page.inner_text("#legend")
    free = [p for p in city.poles if any(s == "Available" for _, s in p.connectors)]
    browser_page.check("#free-now")
    expect(browser_page.locator("#count")).to_have_text(re.compile(f"^{len(free)} "))
    assert marker_total(browser_page) == len(free)
    browser_page.uncheck("#free-now")
    assert marker_total(browser_page) == len(city.poles)
    browser_page.check("input[name='layer'][value='lamps']")
    defective = [p for p in city.poles if p.lamp_status != "ok"]
    listed = browser_page.text_content("#pole-list") or ""
    assert listed.count("defective") == len(defective)
    browser_page.check("input[name='layer'][value='wifi']")
    assert "down" in browser_page.inner_text("#legend")


def test_nearest_free_charger_uses_the_browser_location(browser: Browser, city: WebCity) -> None:
    target = next(p for p in city.poles if p.pole_id == "WEB-006")
    context, browser_page, watch = new_page(
        browser, geolocation={"latitude": target.latitude + 0.0001, "longitude": target.longitude}
    )
    try:
        open_map(browser_page, city)
        browser_page.check("input[name='layer'][value='ev']")
        browser_page.click("#nearest")
        expect(browser_page.locator("#announce")).to_contain_text("WEB-006")
        browser_page.wait_for_selector("#panel:not([hidden]) #panel-title")
        assert "WEB-006" in browser_page.inner_text("#panel-title")
        _assert_local(watch)
    finally:
        context.close()


def test_without_location_the_page_says_why(browser: Browser, city: WebCity) -> None:
    context, browser_page, _ = new_page(browser)  # no permission granted
    try:
        open_map(browser_page, city)
        browser_page.check("input[name='layer'][value='ev']")
        browser_page.click("#nearest")
        expect(browser_page.locator("#announce")).to_contain_text("HTTPS")
    finally:
        context.close()


def test_without_tiles_the_district_outlines_are_drawn(browser: Browser, seeded: WebCity) -> None:
    # A tile source that cannot be reached (the route aborts every request off this
    # machine): the page still shows the outlines and the poles.
    with serving(seeded, api_map_tile_url="https://tiles.example.org/{z}/{x}/{y}.png") as city:
        context, browser_page, watch = new_page(browser)
        try:
            open_map(browser_page, city)
            outlines = httpx.get(f"{city.url}/v1/map/districts.geojson", timeout=30).json()[
                "features"
            ]
            assert outlines
            browser_page.wait_for_selector("path.leaflet-interactive, svg path")
            assert browser_page.locator(".leaflet-overlay-pane svg path").count() == len(outlines)
            assert marker_total(browser_page) == len(city.poles)
            assert watch.foreign and all("tiles.example.org" in u for u in watch.foreign)
        finally:
            context.close()


def test_german_by_browser_language_and_switchable(browser: Browser, city: WebCity) -> None:
    context, browser_page, _ = new_page(browser, locale="de-DE")
    try:
        open_map(browser_page, city)
        assert browser_page.get_attribute("html", "lang") == "de"
        assert "Luftqualität" in browser_page.inner_text("header")
        assert "Gut" in browser_page.inner_text("#legend")
        browser_page.select_option("#lang", "en")
        assert browser_page.get_attribute("html", "lang") == "en"
        assert "Air quality" in browser_page.inner_text("header")
        assert marker_total(browser_page) == len(city.poles)
    finally:
        context.close()


def test_district_view_compares_with_the_eu_limits(page: tuple[Page, Any], city: WebCity) -> None:
    browser_page, _ = page
    open_map(browser_page, city)
    browser_page.click("#districts")
    browser_page.wait_for_selector("#panel section.district")
    names = {
        el.get_attribute("data-district")
        for el in browser_page.query_selector_all("#panel section.district")
    }
    assert {p.district for p in city.poles} <= names
    text = browser_page.inner_text("#panel")
    assert "µg/m³" in text and "EU limit" in text


HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">"</script><b>bold</b>'


def test_names_from_the_registry_are_text_not_markup(browser: Browser, city: WebCity) -> None:
    with psycopg.connect(city.database_url, autocommit=True) as conn:
        conn.execute("UPDATE poles SET name = %s WHERE pole_id = 'WEB-003'", (HOSTILE_NAME,))
    context, browser_page, _ = new_page(browser)
    try:
        open_map(browser_page, city)
        browser_page.click("#pole-list-section summary")
        browser_page.click("#pole-list button[data-pole-id='WEB-003']")
        browser_page.wait_for_selector("#latest-table")
        assert HOSTILE_NAME in browser_page.inner_text("#panel .pole-meta")
        assert browser_page.query_selector("#panel img, #panel b") is None
        assert browser_page.evaluate("typeof window.__pwned") == "undefined"
    finally:
        context.close()
        with psycopg.connect(city.database_url, autocommit=True) as conn:
            conn.execute("UPDATE poles SET name = 'Altstadt 3' WHERE pole_id = 'WEB-003'")


def _axe(browser_page: Page) -> list[dict[str, Any]]:
    browser_page.add_script_tag(content=axe_source())
    result = browser_page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_accessibility_has_no_serious_violations(page: tuple[Page, Any], city: WebCity) -> None:
    browser_page, _ = page
    open_map(browser_page, city)
    assert _axe(browser_page) == []
    browser_page.click("#pole-list-section summary")
    browser_page.click("#pole-list button[data-pole-id='WEB-002']")
    browser_page.wait_for_selector("#latest-table")
    assert _axe(browser_page) == []
    # Keyboard: the close button closes the panel; a marker opens its pole with Enter.
    browser_page.focus("#panel .close")
    browser_page.keyboard.press("Enter")
    assert browser_page.is_hidden("#panel")
    single = browser_page.locator(".pole-marker[data-pole-id]").first
    pole_id = single.get_attribute("data-pole-id")
    single.focus()
    browser_page.keyboard.press("Enter")
    expect(browser_page.locator("#panel-title")).to_contain_text(pole_id or "?")
    browser_page.wait_for_selector("#latest-table")
    # Escape closes it again and gives the focus back to the marker.
    browser_page.keyboard.press("Escape")
    assert browser_page.is_hidden("#panel")
    assert browser_page.evaluate("document.activeElement.dataset.poleId") == pole_id


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/docs", ".swagger-ui .info .title"), ("/redoc", ".api-info h1, h1")],
)
def test_api_docs_render_offline(browser: Browser, city: WebCity, path: str, rendered: str) -> None:
    context, browser_page, watch = new_page(browser)
    try:
        browser_page.goto(f"{city.url}{path}")
        browser_page.wait_for_selector(rendered, timeout=30_000)
        assert "smartpole" in browser_page.inner_text("body")
        _assert_local(watch)
    finally:
        context.close()
