"""Expand a panel's SQL the way Grafana does before PostgreSQL sees it.

Two stages, as in Grafana:

1. Frontend (dashboards only): template variables through the SQL datasource's
   `interpolateVariable` (grafana-sql `SqlDatasource`): a single-valued variable has its
   single quotes doubled and is NOT quoted; a multi-value or include-All variable becomes
   a comma-separated list of quoted literals. Explicit formats (`${var:csv}`,
   `${var:sqlstring}`, ...) override that. `$__interval` / `$__interval_ms` are scoped
   variables. Unknown variables stay as they are (that is how macros pass through).
2. Backend (`pkg/tsdb/grafana-postgresql-datasource`): `$__interval[_ms]`,
   `$__unixEpochFrom/To()` by plain replacement (sqleng `Interpolate`), then the macro
   engine: regex `\\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\)`, arguments split on ',' and trimmed;
   `$__timeGroup` directly followed by ',' is treated as `$__timeGroupAlias`; with the
   datasource's TimescaleDB option `$__timeGroup` uses `time_bucket('<s>.000s', col)`,
   without it `floor(extract(epoch from col)/<s>)*<s>` (epoch seconds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class MacroError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Variable:
    values: tuple[str, ...]
    multi: bool = False
    include_all: bool = False


@dataclass(frozen=True, slots=True)
class QueryContext:
    start: datetime
    end: datetime
    interval: timedelta
    variables: Mapping[str, Variable]
    timescaledb: bool


# Grafana's frontend variable syntax: $name, [[name(:format)]], ${name(.field)(:format)}
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}"
)
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_CALENDAR_INTERVAL = re.compile(r"^(\d+)([dwMy])$")
_GO_UNITS_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_CALENDAR_UNITS_S = {"d": 86400, "w": 7 * 86400, "M": 30 * 86400, "y": 365 * 86400}


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format_variable(variable: Variable, fmt: str | None) -> str:  # noqa: PLR0911 - one per format
    values = variable.values
    is_list = variable.multi or variable.include_all
    if fmt is None:
        if is_list:
            return ",".join(quote_literal(v) for v in values)
        if len(values) != 1:
            raise MacroError("a single-value variable needs exactly one value")
        return values[0].replace("'", "''")
    if fmt in ("csv", "raw", "text"):
        return ",".join(values)
    if fmt == "sqlstring":
        return ",".join(quote_literal(v) for v in values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "pipe":
        return "|".join(values)
    raise MacroError(f"variable format {fmt!r} is not supported by this expander")


def format_interval(interval: timedelta) -> str:
    """gtime.FormatInterval: the largest whole unit."""
    ms = int(interval / timedelta(milliseconds=1))
    for unit, size in (("y", 365 * 86400000), ("d", 86400000), ("h", 3600000), ("m", 60000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    if ms >= 1000:
        return f"{ms // 1000}s"
    return f"{max(ms, 1)}ms"


def parse_interval(text: str) -> float:
    """gtime.ParseInterval, in seconds: d/w/M/y calendar units, else a Go duration."""
    calendar = _CALENDAR_INTERVAL.match(text)
    if calendar:
        return int(calendar[1]) * _CALENDAR_UNITS_S[calendar[2]]
    parts = _GO_DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise MacroError(f"error parsing interval {text}")
    return sum(float(n) * _GO_UNITS_S[u] for n, u in parts)


def rfc3339_nano(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _go_float(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(seconds)


def interpolate_frontend(sql: str, ctx: QueryContext) -> str:
    scoped = {
        "__interval": Variable((format_interval(ctx.interval),)),
        "__interval_ms": Variable((str(int(ctx.interval / timedelta(milliseconds=1))),)),
    }

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[4]
        fmt = match[3] or match[6]
        variable = scoped.get(name) or ctx.variables.get(name)
        if variable is None:
            return match[0]
        return _format_variable(variable, fmt)

    return _VARIABLE.sub(replace, sql)


def interpolate_backend(sql: str, ctx: QueryContext) -> str:
    interval_ms = int(ctx.interval / timedelta(milliseconds=1))
    sql = sql.replace("$__interval_ms", str(interval_ms))
    sql = sql.replace("$__interval", format_interval(ctx.interval))
    sql = sql.replace("$__unixEpochFrom()", str(int(ctx.start.timestamp())))
    sql = sql.replace("$__unixEpochTo()", str(int(ctx.end.timestamp())))
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name == "__timeGroup":
            # Grafana looks for the first occurrence of the same text in the whole query
            index = original.find(match[0]) + len(match[0])
            if index < len(original) and original[index] == ",":
                name = "__timeGroupAlias"
        args = [arg.strip(" ") for arg in match[2].split(",")]
        return _evaluate(name, args, ctx)

    return _MACRO.sub(replace, sql)


def _evaluate(name: str, args: list[str], ctx: QueryContext) -> str:  # noqa: PLR0911 - Grafana's switch
    start, end = rfc3339_nano(ctx.start), rfc3339_nano(ctx.end)
    column = args[0] if args and args[0] else None
    if name == "__time":
        return f'{_need(column, name)} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {_need(column, name)}) as "time"'
    if name == "__timeFilter":
        return f"{_need(column, name)} BETWEEN '{start}' AND '{end}'"
    if name == "__timeFrom":
        return f"'{start}'"
    if name == "__timeTo":
        return f"'{end}'"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval and optional fill")
        seconds = parse_interval(args[1].strip("'"))
        if len(args) == 3 and not _valid_fill(args[2]):
            raise MacroError(f"invalid fill value {args[2]!r}")
        if ctx.timescaledb:
            group = f"time_bucket('{seconds:.3f}s',{args[0]})"
        else:
            group = (
                f"floor(extract(epoch from {args[0]})/{_go_float(seconds)})*{_go_float(seconds)}"
            )
        return group + ' AS "time"' if name == "__timeGroupAlias" else group
    if name == "__unixEpochFilter":
        col = _need(column, name)
        return f"{col} >= {int(ctx.start.timestamp())} AND {col} <= {int(ctx.end.timestamp())}"
    raise MacroError(f"unknown macro {name!r}")


def _need(column: str | None, name: str) -> str:
    if column is None:
        raise MacroError(f"missing time column argument for macro {name}")
    return column


def _valid_fill(fill: str) -> bool:
    if fill in ("NULL", "previous"):
        return True
    try:
        float(fill)
    except ValueError:
        return False
    return True


def expand(sql: str, ctx: QueryContext, *, dashboard: bool = True) -> str:
    """The SQL PostgreSQL receives. Alert queries skip the frontend stage."""
    if dashboard:
        sql = interpolate_frontend(sql, ctx)
    expanded = interpolate_backend(sql, ctx)
    leftover = re.search(r"\$\{?\w+", expanded)
    if leftover:
        # Grafana would send it on and PostgreSQL would fail on it: say which one.
        raise MacroError(f"unexpanded variable or macro {leftover[0]!r}")
    return expanded


# Grafana's frontend picks $__interval from the range and the panel's max data points,
# rounded to a "nice" interval, and never below the panel's min interval.
_NICE_INTERVALS = [
    timedelta(seconds=s)
    for s in (1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400)
]


def panel_interval(
    start: datetime, end: datetime, min_interval: str | None, max_points: int = 1000
) -> timedelta:
    raw = (end - start) / max_points
    nice = next((i for i in _NICE_INTERVALS if i >= raw), _NICE_INTERVALS[-1])
    if min_interval:
        nice = max(nice, timedelta(seconds=parse_interval(min_interval)))
    return nice
