"""Reading one value of an inventory file: a CSV cell (text) or a GeoJSON
property (any JSON value), checked and turned into what the registry stores.

Every function raises `ValueError` with a message meant for the person who
fixes the file; none guesses. Numbers take a decimal point or, where that is
unambiguous (one comma, no point, no thousands separator), a decimal comma.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from models.catalogue.registry import RegistryField

_DECIMAL_POINT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_INTEGER = re.compile(r"[+-]?\d{1,9}")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
# Characters a spreadsheet treats as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\t]")
LIST_SEPARATORS = re.compile(r"[,;|\s]+")


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def looks_like_number(text: str) -> bool:
    text = text.strip()
    return bool(_DECIMAL_POINT.fullmatch(text) or _DECIMAL_COMMA.fullmatch(text))


def formula_risk(text: str) -> bool:
    """Whether a spreadsheet opening this text would run it as a formula."""
    return text.startswith(FORMULA_STARTS) and not looks_like_number(text)


def text(value: Any, field: RegistryField, *, multiline: bool = False) -> str | None:
    """A text field: trimmed, None when empty; no control characters (line breaks
    only where `multiline`), within the field's length, no spreadsheet formula."""
    if is_empty(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{field.name}: expected text, got {_json_kind(value)}")
    result = str(value).strip()
    check_text(result, field.name, field.max_length, multiline=multiline)
    return result


def check_text(value: str, name: str, max_length: int | None, *, multiline: bool = False) -> None:
    if "\x00" in value or _CONTROL.search(value) or (not multiline and _LINE_BREAKS.search(value)):
        raise ValueError(f"{name}: contains control characters")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{name}: longer than {max_length} characters")
    if formula_risk(value):
        raise ValueError(
            f"{name}: starts with {value[0]!r}, which a spreadsheet runs as a formula (CSV "
            "injection); remove that character or put an apostrophe (') before it"
        )


def number(value: Any, field: RegistryField, *, name: str | None = None) -> float | None:
    """A finite number within the field's range; text may use a decimal comma."""
    label = name or field.name
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{label}: expected a number, got true/false")
    if isinstance(value, int | float):
        result = finite(value, label)
    elif isinstance(value, str):
        result = parse_decimal(value, label)
    else:
        raise ValueError(f"{label}: expected a number, got {_json_kind(value)}")
    if not math.isfinite(result):
        raise ValueError(f"{label}: not a finite number")
    check_range(result, field, label)
    return result


def parse_decimal(raw: str, label: str) -> float:
    cell = raw.strip()
    if _DECIMAL_POINT.fullmatch(cell):
        return float(cell)
    if _DECIMAL_COMMA.fullmatch(cell):
        return float(cell.replace(",", "."))
    if "," in cell and "." in cell:
        raise ValueError(
            f"{label}: {_quote(cell)} is ambiguous (both ',' and '.'); write the number without "
            "thousands separators, e.g. 1234.5"
        )
    raise ValueError(f"{label}: {_quote(cell)} is not a number")


def check_range(value: float, field: RegistryField, label: str) -> None:
    low, high = field.minimum, field.maximum
    unit = f" {field.unit.symbol}" if field.unit else ""
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"
        raise ValueError(f"{label}: {value:g}{unit} is outside {bounds}{unit}")
    if low == 0 and field.unit is not None and value == 0:
        raise ValueError(f"{label}: must be more than 0{unit} (leave it empty when unknown)")


def integer(value: Any, field: RegistryField) -> int | None:
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field.name}: expected a whole number, got true/false")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError(f"{field.name}: {_quote(value)} is not a whole number")
    check_range(value, field, field.name)
    return value


def items(value: Any, field: RegistryField, separators: re.Pattern[str]) -> list[Any]:
    """A list: a JSON array, or text split at `separators`."""
    if is_empty(value):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return separators.split(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    raise ValueError(f"{field.name}: expected a list, got {_json_kind(value)}")


def vocabulary(value: Any, field: RegistryField, vocab: type[StrEnum]) -> str:
    """A value of a closed vocabulary, matched ignoring case; the canonical spelling."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field.name}: expected one of {_known(vocab)}")
    found = _spellings(vocab).get(value.strip().casefold())
    if found is None:
        raise ValueError(f"{field.name}: unknown value {_quote(value)} (known: {_known(vocab)})")
    return found


@functools.cache
def _spellings(vocab: type[StrEnum]) -> dict[str, str]:
    return {member.value.casefold(): member.value for member in vocab}


def finite(value: int | float, label: str) -> float:
    """A JSON number as a float: 1e999 and 10**400 are not positions or ratings."""
    try:
        result = float(value)
    except OverflowError:
        raise ValueError(f"{label}: the number is too large") from None
    if not math.isfinite(result):
        raise ValueError(f"{label}: not a finite number")
    return result


def calendar_date(value: Any, field: RegistryField) -> date | None:
    """YYYY-MM-DD or DD.MM.YYYY; anything else (02/03/2024: which month?) is refused."""
    if is_empty(value):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field.name}: expected a date as text, e.g. 2024-05-17")
    cell = value.strip()
    if iso := _ISO_DATE.fullmatch(cell):
        year, month, day = (int(g) for g in iso.groups())
    elif german := _GERMAN_DATE.fullmatch(cell):
        day, month, year = (int(g) for g in german.groups())
    else:
        raise ValueError(
            f"{field.name}: {_quote(cell)} is not a date; write YYYY-MM-DD or DD.MM.YYYY"
        )
    try:
        result = date(year, month, day)
    except ValueError:
        raise ValueError(f"{field.name}: {_quote(cell)} is not a calendar date") from None
    if result.year < 1900:
        raise ValueError(f"{field.name}: {result.isoformat()} is before 1900")
    return result


def _known(vocab: type[StrEnum]) -> str:
    return ", ".join(member.value for member in vocab)


def _quote(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _json_kind(value: Any) -> str:
    kinds: Sequence[tuple[type, str]] = (
        (dict, "an object"),
        (list, "a list"),
        (bool, "true/false"),
    )
    for cls, name in kinds:
        if isinstance(value, cls):
            return name
    return type(value).__name__
