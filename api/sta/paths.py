"""SensorThings resource paths: `Things(1)/Datastreams`, `Datastreams(5)/Observations`,
`Things(1)/name/$value`, `Things/$ref` ... parsed into segments."""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.sensorthings.ids import MAX_ID
from models.sensorthings.odata import QueryError

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<id>[^()]*)\))?$")
MAX_SEGMENTS = 8


class UnknownPath(LookupError):  # noqa: N818 - a 404, named for what it means
    """A path that names nothing (404)."""


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    id: int | None = None


def parse_path(path: str) -> list[Segment]:
    parts = [p for p in path.split("/") if p != ""]
    if len(parts) > MAX_SEGMENTS:
        raise UnknownPath("the path is too long")
    out: list[Segment] = []
    for part in parts:
        if part in ("$value", "$ref"):
            out.append(Segment(part))
            continue
        match = _SEGMENT.match(part)
        if not match:
            raise UnknownPath(f"no resource {part[:80]!r}")
        raw = match.group("id")
        if raw is None:
            out.append(Segment(match.group("name")))
            continue
        raw = raw.strip()
        if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
            raw = raw[1:-1]
        if not raw.isdigit() or len(raw) > 30:
            raise QueryError(f"ids are integers, not {raw[:40]!r}")
        value = int(raw)
        if value > MAX_ID:
            raise UnknownPath(f"no entity with id {value}")
        out.append(Segment(match.group("name"), value))
    return out
