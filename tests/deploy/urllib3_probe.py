"""Run by path in the Python environment under test (tests/deploy/test_fresh_venv.py):
prints one JSON object saying whether its urllib3 is the real one and requests works.

urllib3-future (pulled in by niquests, e.g. by grafana-client >= 4) installs its own
`urllib3` package over urllib3's files while urllib3's metadata stays, so the version
and the distribution name alone can look right. The probe compares the files with
urllib3's RECORD and uses the urllib3 API that requests-based tools rely on (the crash
seen was `'TrafficPolice' object has no attribute 'keys'` in schemathesis' CLI).

Standard library only, besides urllib3 and requests themselves.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BODY = b"smartpole urllib3 probe"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _changed_files() -> list[str]:
    """urllib3's files whose content differs from what its RECORD says was installed."""
    if _distribution_version("urllib3") is None:
        return []
    changed = []
    for file in importlib.metadata.distribution("urllib3").files or []:
        if file.hash is None or not str(file).endswith(".py"):
            continue
        path = file.locate()
        try:
            data = path.read_bytes()
        except OSError:
            changed.append(str(file))
            continue
        digest = hashlib.new(file.hash.mode, data).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != file.hash.value:
            changed.append(str(file))
    return changed


def _requests_get() -> dict[str, Any]:
    try:
        import requests  # noqa: PLC0415 (only here: the other checks run without it)
    except ImportError as exc:
        return {"error": f"requests cannot be imported: {exc}"}

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with requests.Session() as session:
            response = session.get(url, timeout=10)
            pools = session.get_adapter(url).poolmanager.pools
            return {
                "status": response.status_code,
                "body_ok": response.content == BODY,
                # urllib3's RecentlyUsedContainer; urllib3-future puts a TrafficPolice here
                "pool_keys": len(list(pools.keys())),
            }
    except Exception as exc:  # reported, not raised: the test shows what broke
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    try:
        import urllib3  # noqa: PLC0415
    except ImportError as exc:
        print(json.dumps({"error": f"urllib3 cannot be imported: {exc}"}))
        return

    distributions = sorted(
        {_normalized(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    )
    facts = {
        "distributions": distributions,
        "urllib3_module_version": urllib3.__version__,
        "urllib3_distribution_version": _distribution_version("urllib3"),
        "urllib3_file": urllib3.__file__,
        "urllib3_future_module": importlib.util.find_spec("urllib3_future") is not None,
        "urllib3_changed_files": _changed_files(),
        "requests": _requests_get(),
    }
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
