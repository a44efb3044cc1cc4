"""`scripts/screenshots`: the README's pictures of the public map, made by the browser code
of the tests (tests/support/web.py) on the same test city: a local PostgreSQL in a
temporary directory, the known poles and readings, the API without tiles (the district
outlines), headless Chromium. Writes docs/map.png, docs/map-pole-panel.png and
docs/map-phone.png."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import psycopg

from storage.migrate import migrate
from tests.support.services import create_database, running_postgres
from tests.support.web import chromium, chromium_available, new_page, open_map, seed_city, serving

DOCS = Path(__file__).resolve().parents[2] / "docs"
POLE = "WEB-002"  # a defective lamp, a faulted charger, "fair" air: a telling panel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="folder of the PNGs (docs/)")
    args = parser.parse_args(argv)
    if not chromium_available():
        print("screenshots: needs /usr/bin/chromium (scripts/bootstrap --tests)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="smartpole-screenshots-") as tmp:
        work = Path(tmp)
        with running_postgres(work / "postgres") as server:
            url = create_database(server, "screenshots")
            with psycopg.connect(url) as conn:
                migrate(conn, "off")
            city = seed_city(url, work)
            with serving(city) as running, chromium() as (_, browser):
                context, page, watch = new_page(browser, viewport={"width": 1280, "height": 800})
                open_map(page, running)
                page.wait_for_timeout(600)  # let the cluster animation settle
                page.screenshot(path=str(args.out / "map.png"))
                foreign = list(watch.foreign)
                context.close()
                # Tall enough for the whole panel: readings, chargers, both charts.
                context, page, watch = new_page(browser, viewport={"width": 1280, "height": 1700})
                open_map(page, running)
                page.click("#pole-list-section summary")
                page.click(f"#pole-list button[data-pole-id='{POLE}']")
                page.wait_for_selector("#chart-7d canvas, #chart-7d .no-data")
                page.click("#pole-list-section summary")
                page.wait_for_timeout(300)
                page.screenshot(path=str(args.out / "map-pole-panel.png"))
                foreign += watch.foreign
                context.close()
                context, page, watch = new_page(
                    browser, locale="de-DE", viewport={"width": 390, "height": 844}
                )
                open_map(page, running)
                page.check("input[name='layer'][value='ev']")
                page.wait_for_timeout(600)
                page.screenshot(path=str(args.out / "map-phone.png"))
                context.close()
                foreign += watch.foreign
                if foreign:
                    print(f"screenshots: requests left the machine: {foreign}", file=sys.stderr)
                    return 1
    for name in ("map.png", "map-pole-panel.png", "map-phone.png"):
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
