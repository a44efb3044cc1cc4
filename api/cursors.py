"""Opaque keyset cursors: base64url of the last key of a page.

A cursor names the kind of list it belongs to, so one from another endpoint
is refused; anything that does not decode to the expected shape is a 422,
never a 500.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import orjson

from api.problems import bad_parameter

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 1024


def encode_cursor(kind: str, key: list[Any]) -> str:
    values = [v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for v in key]
    raw = orjson.dumps({"v": CURSOR_VERSION, "k": kind, "a": values})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, kind: str, shape: tuple[type, ...]) -> list[Any]:
    """The key in `token`; `shape` gives each element's type (datetime, str, int, float)."""

    def invalid(why: str) -> Exception:
        return bad_parameter(
            "cursor", f"invalid cursor ({why}); use the `next` link of the previous page"
        )

    if len(token) > MAX_CURSOR_LENGTH:
        raise invalid("too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid("not a cursor") from None
    if not isinstance(doc, dict) or doc.get("v") != CURSOR_VERSION:
        raise invalid("unknown version")
    if doc.get("k") != kind:
        raise invalid("it belongs to another list")
    values = doc.get("a")
    if not isinstance(values, list) or len(values) != len(shape):
        raise invalid("wrong shape")
    key: list[Any] = []
    for value, expected in zip(values, shape, strict=True):
        key.append(_typed(value, expected, invalid))
    return key


def _typed(value: Any, expected: type, invalid: Any) -> Any:
    if expected is datetime:
        if not isinstance(value, str):
            raise invalid("bad time")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise invalid("bad time") from None
        if parsed.tzinfo is None or not 2000 <= parsed.year <= 2100:
            raise invalid("bad time")
        return parsed
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid("bad number")
        if not -1e12 < float(value) < 1e12:
            raise invalid("bad number")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise invalid("bad number")
        return value
    if not isinstance(value, str) or len(value) > 256 or "\x00" in value:
        raise invalid("bad text")
    return value
