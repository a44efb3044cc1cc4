"""The pages the API serves to browsers: the public map (/map, and / redirecting there),
the interactive API docs (/docs: Swagger UI, /redoc: ReDoc), and their assets (/static/),
all from the directory scripts/build-web writes (web/dist), nothing from a CDN.

Asset names carry a hash of their content, so they are cached for a year as
immutable; the pages naming them are `no-cache` (revalidated on every load), so a new
build is picked up at once.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime
from pathlib import Path

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api import problems
from api.deps import ApiState
from api.routes.map import map_config

log = logging.getLogger(__name__)

DEFAULT_WEB_DIR = Path(__file__).resolve().parents[1] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
STATIC_PREFIX = "/static/"
# The built files are ours; still, a page forbids anything but its own origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob: {tiles}; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class WebAssets:
    """The built assets: their manifest (logical name -> hashed file) and directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._manifest: dict[str, str] | None = None

    def manifest(self) -> dict[str, str]:
        if self._manifest is None:
            path = self.directory / "manifest.json"
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise problems.ProblemError(
                    503,
                    "Web assets not built",
                    f"{path} is missing or unreadable ({exc.__class__.__name__}): run "
                    "scripts/build-web (scripts/bootstrap does)",
                ) from None
            self._manifest = dict(data["assets"])
        return self._manifest

    def url(self, logical: str) -> str:
        return STATIC_PREFIX + self.manifest()[logical]

    def file(self, relative: str) -> Path | None:
        """The asset file for a /static/ path, or None (also for anything outside
        assets/: no path climbs out of the directory)."""
        if not relative.startswith("assets/") or "\x00" in relative:
            return None
        root = (self.directory / "assets").resolve()
        try:
            path = (self.directory / relative).resolve()
        except (OSError, ValueError):
            return None
        if path.parent != root or not path.is_file():
            return None
        return path


def _tiles_origin(url: str | None) -> str:
    if not url:
        return ""
    # The scheme and host of an XYZ template (its {s} subdomains as a wildcard).
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].replace("{s}", "*")
    return f"{scheme}://{host}" if scheme and host else ""


def _page(body: str, csp: str) -> HTMLResponse:
    return HTMLResponse(
        body,
        headers={
            "Cache-Control": NO_CACHE,
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


MAP_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>smartpole: live map</title>
<meta name="description" content="Air quality, free chargers and Wi-Fi on the city's smart poles">
<link rel="stylesheet" href="{css}">
</head>
<body>
<noscript><p>The map needs JavaScript. The data is open without it: <a href="/docs">API</a>,
<a href="/v1/poles.geojson">poles as GeoJSON</a>.</p></noscript>
<div id="app"></div>
<script id="smartpole-config" type="application/json">{config}</script>
<script src="{js}"></script>
</body>
</html>
"""


def install(app: FastAPI, state: ApiState) -> None:
    """Add the pages and /static/ to `app` (made with docs_url=None, redoc_url=None)."""
    assets = WebAssets(state.settings.api_web_dir or DEFAULT_WEB_DIR)
    router = APIRouter(include_in_schema=False)
    tiles = _tiles_origin(state.settings.api_map_tile_url)

    @router.get("/")
    def root() -> Response:
        return RedirectResponse("/map", status_code=307)

    @router.get("/map")
    def map_page() -> Response:
        config = map_config(state, datetime.now().astimezone())
        # </script> cannot end the JSON early: orjson leaves "/" alone, so escape "<".
        text = orjson.dumps(config).decode().replace("<", "\\u003c")
        css, js = html.escape(assets.url("map.css")), html.escape(assets.url("map.js"))
        body = MAP_PAGE.format(css=css, js=js, config=text)
        return _page(body, CONTENT_SECURITY_POLICY.format(tiles=tiles))

    @router.get("/docs")
    def swagger() -> Response:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=assets.url("swagger-ui.js"),
            swagger_css_url=assets.url("swagger-ui.css"),
            swagger_favicon_url=assets.url("favicon.png"),
            oauth2_redirect_url=None,
        )
        return _page(bytes(page.body).decode(), CONTENT_SECURITY_POLICY.format(tiles=""))

    @router.get("/redoc")
    def redoc() -> Response:
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url=assets.url("redoc.js"),
            redoc_favicon_url=assets.url("favicon.png"),
            with_google_fonts=False,
        )
        return _page(bytes(page.body).decode(), CONTENT_SECURITY_POLICY.format(tiles=""))

    @router.get("/static/{path:path}")
    def static(path: str) -> Response:
        file = assets.file(path)
        if file is None:
            raise problems.not_found(f"no asset {path[:100]!r}")
        return FileResponse(
            file, headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
        )

    app.include_router(router)
