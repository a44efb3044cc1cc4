"""A typed PostgreSQL query for grafana-foundation-sdk, and the shape each query promises.

The SDK ships query builders for Prometheus, Loki and friends but none for Grafana's
PostgreSQL datasource, so this module adds one (`PostgresQuery`, a cog `Builder` of a
`Dataquery` variant, registered with the SDK runtime so dashboards parse back).

Every panel and alert query is a `PanelSql`: the raw SQL Grafana runs, the result format,
and the columns it returns. Panels derive their field configuration from those columns and
the tests run every query and compare the real result with the declaration, so a renamed
column or a query that stops returning a time column fails a test, not a dashboard.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dashboard_model

# Grafana 10+ names the core PostgreSQL plugin this way (the old `postgres` id is an alias).
POSTGRES_PLUGIN_ID = "grafana-postgresql-datasource"
# Fixed so provisioned dashboards and alert rules can reference it before it exists.
DATASOURCE_UID = "smartpole-pg"
DATASOURCE_NAME = "smartpole"

ResultFormat = Literal["time_series", "table"]


def datasource_ref() -> dashboard_model.DataSourceRef:
    return dashboard_model.DataSourceRef(type_val=POSTGRES_PLUGIN_ID, uid=DATASOURCE_UID)


class PostgresDataquery(cogvariants.Dataquery):
    """One target of a panel (or the model of an alert query) on the PostgreSQL datasource."""

    def __init__(
        self,
        ref_id: str = "A",
        raw_sql: str = "",
        format: ResultFormat = "table",
        hide: bool = False,
    ) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.format = format
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "datasource": {"type": POSTGRES_PLUGIN_ID, "uid": DATASOURCE_UID},
            # code mode: the builder UI would rewrite hand-written SQL
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }
        if self.hide:
            payload["hide"] = True
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(
            ref_id=str(data.get("refId", "A")),
            raw_sql=str(data.get("rawSql", "")),
            format="time_series" if data.get("format") == "time_series" else "table",
            hide=bool(data.get("hide", False)),
        )


cogruntime.Runtime().register_dataquery_variant(
    cogruntime.DataqueryConfig(
        identifier=POSTGRES_PLUGIN_ID, from_json_hook=PostgresDataquery.from_json
    )
)


class PostgresQuery(cogbuilder.Builder[cogvariants.Dataquery]):
    """Fluent builder in the SDK's style: `PostgresQuery().ref_id("A").raw_sql(...)`."""

    def __init__(self) -> None:
        self._internal = PostgresDataquery()

    def build(self) -> PostgresDataquery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        if not ref_id:
            raise ValueError("ref_id must not be empty")
        self._internal.ref_id = ref_id
        return self

    def raw_sql(self, raw_sql: str) -> Self:
        if not raw_sql.strip():
            raise ValueError("raw_sql must not be empty")
        self._internal.raw_sql = raw_sql
        return self

    def format(self, format_val: ResultFormat) -> Self:
        self._internal.format = format_val
        return self

    def hide(self, hide: bool) -> Self:
        self._internal.hide = hide
        return self


class ColumnKind(enum.Enum):
    # Grafana's SQL engine turns a column named "time" into the frame's time field, both
    # from timestamptz and from epoch seconds ($__timeGroup without TimescaleDB yields a
    # double), so TIME accepts either.
    TIME = "time"
    NUMBER = "number"
    TEXT = "text"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind
    unit: str | None = None


def time_col() -> Column:
    return Column("time", ColumnKind.TIME)


def num(name: str, unit: str | None = None) -> Column:
    return Column(name, ColumnKind.NUMBER, unit)


def text(name: str) -> Column:
    return Column(name, ColumnKind.TEXT)


class Shape(enum.Enum):
    """What the panel (or alert) needs from the rows."""

    # format time_series: "time" first, ascending; text columns become series labels
    TIME_SERIES = "time_series"
    # format table, "time" first, ascending (state timeline, bar charts over days)
    TIME_TABLE = "time_table"
    # stat panels: exactly one row
    SINGLE_ROW = "single_row"
    # tables, geomap, bar gauges: any number of rows with the declared columns
    TABLE = "table"
    # alert rules on table data: text columns are labels (unique per row), one number
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class PanelSql:
    sql: str
    shape: Shape
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column names in {names}")
        if self.shape in (Shape.TIME_SERIES, Shape.TIME_TABLE) and (
            not self.columns or self.columns[0].kind is not ColumnKind.TIME
        ):
            raise ValueError("a time series query must return the time column first")
        if self.shape is Shape.ALERT:
            numbers = [c for c in self.columns if c.kind is ColumnKind.NUMBER]
            if len(numbers) != 1:
                raise ValueError("an alert query returns exactly one numeric column")

    @property
    def format(self) -> ResultFormat:
        return "time_series" if self.shape is Shape.TIME_SERIES else "table"

    def target(self, ref_id: str = "A") -> PostgresQuery:
        return PostgresQuery().ref_id(ref_id).raw_sql(self.sql).format(self.format)
