"""Compile a parsed SensorThings `$filter` (models/sensorthings/odata.py) into SQL.

Every value of the request becomes a named parameter; identifiers and the SQL
around them come from the entity definitions (sta_entities.py). Paths across
relations (`Datastreams/ObservedProperty/name eq 'NO2'`) become EXISTS over the
related set, so "any related entity matches". Geometry needs no PostGIS: every
location is a pole's point, so a geo predicate is evaluated once per request
for the poles inside the literal's bounding box (SQL) with exact geometry in
Python (shapely), and becomes `thing id = ANY(<those poles>)`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import shapely
from psycopg import sql
from shapely.errors import ShapelyError
from shapely.geometry.base import BaseGeometry

from models.sensorthings.odata import (
    COMPARISONS,
    Binary,
    Call,
    Literal,
    Node,
    NotImplementedQuery,
    Path,
    QueryError,
    Unary,
)
from storage.queries.sta_entities import SETS, EntitySet, Prop, source

MAX_GEO_VERTICES = 10_000


@dataclass
class Params:
    """The named parameters of one statement."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any, cast: str | None = None) -> sql.Composable:
        name = f"p{len(self.values)}"
        self.values[name] = value
        placeholder = sql.Placeholder(name)
        if cast:
            return sql.SQL("{}::{}").format(placeholder, sql.SQL(cast))
        return placeholder


@dataclass(frozen=True, slots=True)
class Typed:
    sql: sql.Composable
    type: str  # number, string, bool, datetime, date, time, json, null, duration, geometry, id


@dataclass
class Compiler:
    params: Params
    conn: psycopg.Connection[Any] | None = None
    aliases: int = 0
    geo_cache: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)

    def alias(self) -> str:
        self.aliases += 1
        return f"f{self.aliases}"

    # -- predicates -------------------------------------------------------------------
    def predicate(self, node: Node, entity: EntitySet, alias: str) -> sql.Composable:
        if isinstance(node, Binary) and node.op in ("and", "or"):
            left = self.predicate(node.left, entity, alias)
            right = self.predicate(node.right, entity, alias)
            return sql.SQL("({} {} {})").format(left, sql.SQL(node.op.upper()), right)
        if isinstance(node, Unary) and node.op == "not":
            return sql.SQL("(NOT coalesce({}, false))").format(
                self.predicate(node.operand, entity, alias)
            )
        # An atomic predicate: evaluated where its paths lead.
        navs = {p.segments[0] for p in _paths(node) if entity.nav(p.segments[0]) is not None}
        if navs:
            local = [p for p in _paths(node) if entity.nav(p.segments[0]) is None]
            if len(navs) > 1 or local:
                raise NotImplementedQuery(
                    "a comparison may follow one relation only (write two comparisons "
                    "joined with and/or)"
                )
            (nav_name,) = navs
            nav = entity.nav(nav_name)
            assert nav is not None
            target = SETS[nav.target]
            inner_alias = self.alias()
            inner = self.predicate(_strip(node, nav_name), target, inner_alias)
            return sql.SQL(
                "EXISTS (SELECT 1 FROM ({src}) {a} WHERE {a}.{remote} = {o}.{local} AND {cond})"
            ).format(
                src=source(target.name),
                a=sql.Identifier(inner_alias),
                remote=sql.Identifier(nav.remote),
                o=sql.Identifier(alias),
                local=sql.Identifier(nav.local),
                cond=inner,
            )
        value = self.expr(node, entity, alias)
        if value.type == "json":
            return sql.SQL("(jsonb_typeof({v}) = 'boolean' AND ({v} #>> '{{}}')::boolean)").format(
                v=value.sql
            )
        if value.type != "bool":
            raise QueryError(f"$filter needs a true/false condition, not a {value.type}")
        return value.sql

    # -- values ------------------------------------------------------------------------
    def expr(self, node: Node, entity: EntitySet, alias: str) -> Typed:  # noqa: PLR0911
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Path):
            return self.path(node, entity, alias)
        if isinstance(node, Unary):
            if node.op == "neg":
                inner = self.number(node.operand, entity, alias)
                return Typed(sql.SQL("(- {})").format(inner), "number")
            return Typed(self.predicate(node, entity, alias), "bool")
        if isinstance(node, Binary):
            if node.op in ("and", "or"):
                return Typed(self.predicate(node, entity, alias), "bool")
            if node.op in COMPARISONS:
                return Typed(self.comparison(node, entity, alias), "bool")
            return self.arithmetic(node, entity, alias)
        return self.call(node, entity, alias)

    def literal(self, node: Literal) -> Typed:  # noqa: PLR0911 - one per literal type
        if node.type == "number":
            assert isinstance(node.value, Decimal)
            number = node.value
            if (
                number == number.to_integral_value()
                and abs(number) < 2**63
                and "E" not in str(number).upper()
            ):
                return Typed(self.params.add(int(number), "bigint"), "number")
            as_float = float(number)
            if as_float in (float("inf"), float("-inf")):
                raise QueryError(f"the number {number} is out of range")
            return Typed(self.params.add(as_float, "float8"), "number")
        if node.type == "string":
            return Typed(self.params.add(node.value, "text"), "string")
        if node.type == "bool":
            return Typed(self.params.add(node.value, "boolean"), "bool")
        if node.type == "datetime":
            return Typed(self.params.add(node.value, "timestamptz"), "datetime")
        if node.type == "duration":
            assert isinstance(node.value, str)
            return Typed(self.params.add(parse_duration(node.value), "interval"), "duration")
        if node.type == "null":
            return Typed(sql.SQL("NULL"), "null")
        raise QueryError("a geometry literal is only allowed in a geo function")

    def path(self, node: Path, entity: EntitySet, alias: str) -> Typed:
        head, *rest = node.segments
        if entity.nav(head) is not None:
            raise QueryError(f"{node}: {head} is a relation; name one of its properties")
        prop = entity.prop(head)
        if prop is None:
            raise QueryError(f"{entity.name} have no property {head!r}")
        column = sql.Identifier(alias, prop.column)
        if rest:
            if prop.type != "json":
                raise QueryError(f"{node}: {head} has no sub-properties")
            return Typed(
                sql.SQL("({} #> {})").format(column, self.params.add(list(rest), "text[]")), "json"
            )
        if prop.type == "geometry":
            return Typed(column, "geometry")
        if prop.type == "interval":
            raise NotImplementedQuery(f"filtering on {entity.singular} {head} is not implemented")
        return Typed(column, "number" if prop.type == "id" else prop.type)

    def number(self, node: Node, entity: EntitySet, alias: str) -> sql.Composable:
        value = self.expr(node, entity, alias)
        return self.coerce(value, "number")

    def coerce(self, value: Typed, wanted: str) -> sql.Composable:
        if value.type in (wanted, "null"):
            return value.sql
        if value.type == "json":
            if wanted == "number":
                return sql.SQL(
                    "(CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v} #>> '{{}}')::float8 END)"
                ).format(v=value.sql)
            if wanted == "string":
                return sql.SQL(
                    "(CASE WHEN jsonb_typeof({v}) = 'string' THEN {v} #>> '{{}}' END)"
                ).format(v=value.sql)
            if wanted == "bool":
                return sql.SQL(
                    "(CASE WHEN jsonb_typeof({v}) = 'boolean' THEN ({v} #>> '{{}}')::boolean END)"
                ).format(v=value.sql)
        if value.type == "date" and wanted == "datetime":
            return value.sql
        raise QueryError(f"expected a {wanted}, got a {value.type}")

    def arithmetic(self, node: Binary, entity: EntitySet, alias: str) -> Typed:
        left = self.expr(node.left, entity, alias)
        right = self.expr(node.right, entity, alias)
        if left.type == "datetime" and right.type == "duration" and node.op in ("add", "sub"):
            op = sql.SQL("+" if node.op == "add" else "-")
            return Typed(sql.SQL("({} {} {})").format(left.sql, op, right.sql), "datetime")
        a = self.coerce(left, "number")
        b = self.coerce(right, "number")
        if node.op == "add":
            return Typed(sql.SQL("({}::float8 + {}::float8)").format(a, b), "number")
        if node.op == "sub":
            return Typed(sql.SQL("({}::float8 - {}::float8)").format(a, b), "number")
        if node.op == "mul":
            return Typed(sql.SQL("({}::float8 * {}::float8)").format(a, b), "number")
        if node.op == "div":
            return Typed(sql.SQL("({}::float8 / nullif({}::float8, 0))").format(a, b), "number")
        return Typed(
            sql.SQL("(mod({}::numeric, nullif({}::numeric, 0)))::float8").format(a, b), "number"
        )

    def comparison(  # noqa: PLR0911 - one per pair of types
        self, node: Binary, entity: EntitySet, alias: str
    ) -> sql.Composable:
        geo = self.geo_distance_comparison(node, entity, alias)
        if geo is not None:
            return geo
        left = self.expr(node.left, entity, alias)
        right = self.expr(node.right, entity, alias)
        op = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[node.op]
        if left.type == "null" or right.type == "null":
            other = right if left.type == "null" else left
            if node.op == "eq":
                return sql.SQL("({} IS NULL)").format(other.sql)
            if node.op == "ne":
                return sql.SQL("({} IS NOT NULL)").format(other.sql)
            return sql.SQL("false")
        kinds = {left.type, right.type}
        if "geometry" in kinds or "duration" in kinds:
            raise QueryError(f"cannot compare a {left.type} with a {right.type}")
        if left.type == "json" or right.type == "json":
            wanted = right.type if left.type == "json" else left.type
            a: sql.Composable
            b: sql.Composable
            if wanted == "json":
                a, b = (
                    sql.SQL("({} #>> '{{}}')").format(left.sql),
                    sql.SQL("({} #>> '{{}}')").format(right.sql),
                )
            elif wanted in ("number", "string", "bool"):
                a, b = self.coerce(left, wanted), self.coerce(right, wanted)
            else:
                raise QueryError(f"cannot compare a property value with a {wanted}")
            return self._cmp(a, op, b, wanted if wanted != "json" else "string")
        if left.type == "date" or right.type == "date":
            return sql.SQL("({} {} {})").format(_as_date(left), sql.SQL(op), _as_date(right))
        if left.type != right.type:
            raise QueryError(f"cannot compare a {left.type} with a {right.type}")
        return self._cmp(left.sql, op, right.sql, left.type)

    @staticmethod
    def _cmp(a: sql.Composable, op: str, b: sql.Composable, kind: str) -> sql.Composable:
        if kind == "string" and op not in ("=", "<>"):
            return sql.SQL('({} COLLATE "C" {} {})').format(a, sql.SQL(op), b)
        return sql.SQL("({} {} {})").format(a, sql.SQL(op), b)

    # -- functions -----------------------------------------------------------------------
    def call(  # noqa: PLR0911, PLR0912 - OData's function table
        self, node: Call, entity: EntitySet, alias: str
    ) -> Typed:
        name = node.name
        if name.startswith("st_") or name in ("geo.intersects", "geo.distance", "geo.length"):
            if name == "geo.distance":
                raise NotImplementedQuery(
                    "geo.distance is implemented in comparisons with a number "
                    "(geo.distance(location, geography'POINT(x y)') lt 0.01)"
                )
            if name in ("geo.length", "st_relate"):
                raise NotImplementedQuery(f"{name} is not implemented")
            return Typed(self.geo_predicate(node, entity, alias), "bool")
        args = [self.expr(a, entity, alias) for a in node.args]

        def text(i: int) -> sql.Composable:
            return self.coerce(args[i], "string")

        def moment(i: int) -> sql.Composable:
            value = args[i]
            if value.type not in ("datetime", "null"):
                raise QueryError(f"{name} needs a date/time, got a {value.type}")
            return sql.SQL("({} AT TIME ZONE 'UTC')").format(value.sql)

        string_functions: dict[str, Callable[[], Typed]] = {
            "substringof": lambda: Typed(
                sql.SQL("(strpos({}, {}) > 0)").format(text(1), text(0)), "bool"
            ),
            "contains": lambda: Typed(
                sql.SQL("(strpos({}, {}) > 0)").format(text(0), text(1)), "bool"
            ),
            "startswith": lambda: Typed(
                sql.SQL("(left({a}, length({b})) = {b})").format(a=text(0), b=text(1)), "bool"
            ),
            "endswith": lambda: Typed(
                sql.SQL("(right({a}, length({b})) = {b})").format(a=text(0), b=text(1)), "bool"
            ),
            "length": lambda: Typed(sql.SQL("length({})").format(text(0)), "number"),
            "indexof": lambda: Typed(
                sql.SQL("(strpos({}, {}) - 1)").format(text(0), text(1)), "number"
            ),
            "tolower": lambda: Typed(sql.SQL("lower({})").format(text(0)), "string"),
            "toupper": lambda: Typed(sql.SQL("upper({})").format(text(0)), "string"),
            "trim": lambda: Typed(sql.SQL("btrim({})").format(text(0)), "string"),
            "concat": lambda: Typed(sql.SQL("({} || {})").format(text(0), text(1)), "string"),
        }
        if name in string_functions:
            return string_functions[name]()
        if name == "substring":
            start = sql.SQL("greatest(least({}, 2000000000), 0)::int + 1").format(
                self.coerce(args[1], "number")
            )
            if len(args) == 3:
                length = sql.SQL("greatest(least({}, 2000000000), 0)::int").format(
                    self.coerce(args[2], "number")
                )
                return Typed(sql.SQL("substr({}, {}, {})").format(text(0), start, length), "string")
            return Typed(sql.SQL("substr({}, {})").format(text(0), start), "string")
        parts = {"year": "year", "month": "month", "day": "day", "hour": "hour",
                 "minute": "minute"}  # fmt: skip
        if name in parts:
            return Typed(
                sql.SQL("extract({} FROM {})::int").format(sql.SQL(parts[name]), moment(0)),
                "number",
            )
        if name == "second":
            return Typed(sql.SQL("floor(extract(second FROM {}))::int").format(moment(0)), "number")
        if name == "fractionalseconds":
            return Typed(
                sql.SQL(
                    "(extract(second FROM {m}) - floor(extract(second FROM {m})))::float8"
                ).format(m=moment(0)),
                "number",
            )
        if name == "date":
            return Typed(sql.SQL("({})::date").format(moment(0)), "date")
        if name == "time":
            return Typed(sql.SQL("({})::time").format(moment(0)), "time")
        if name == "totaloffsetminutes":
            moment(0)
            return Typed(sql.SQL("0"), "number")
        if name == "now":
            return Typed(sql.SQL("now()"), "datetime")
        if name == "mindatetime":
            return Typed(sql.SQL("'-infinity'::timestamptz"), "datetime")
        if name == "maxdatetime":
            return Typed(sql.SQL("'infinity'::timestamptz"), "datetime")
        maths = {"round": "round", "floor": "floor", "ceiling": "ceil"}
        if name in maths:
            return Typed(
                sql.SQL("{}({}::float8)").format(
                    sql.SQL(maths[name]), self.coerce(args[0], "number")
                ),
                "number",
            )
        raise NotImplementedQuery(f"{name} is not implemented")  # pragma: no cover

    # -- geometry ------------------------------------------------------------------------
    def geo_predicate(self, node: Call, entity: EntitySet, alias: str) -> sql.Composable:
        first, second = node.args
        prop_first = isinstance(first, Path)
        path, literal = (first, second) if prop_first else (second, first)
        if not isinstance(path, Path) or not isinstance(literal, Literal):
            raise QueryError(f"{node.name} needs a location property and a geography'...' literal")
        column = self._geometry_column(path, entity, alias)
        geometry = parse_geometry(literal)
        name = "st_intersects" if node.name == "geo.intersects" else node.name
        relation = name.removeprefix("st_")

        def test(point: BaseGeometry) -> bool:
            a, b = (point, geometry) if prop_first else (geometry, point)
            return bool(getattr(a, relation)(b))

        # Only a disjoint point can be outside the bounding box: compute the complement.
        if relation == "disjoint":
            inside = self.poles_matching(
                geometry.bounds, lambda p: bool(p.intersects(geometry)), ("intersects", literal)
            )
            return sql.SQL("(NOT ({} = ANY({})))").format(
                column, self.params.add(inside, "bigint[]")
            )
        ids = self.poles_matching(geometry.bounds, test, (name + str(prop_first), literal))
        return sql.SQL("({} = ANY({}))").format(column, self.params.add(ids, "bigint[]"))

    def geo_distance_comparison(
        self, node: Binary, entity: EntitySet, alias: str
    ) -> sql.Composable | None:
        call, other, op = node.left, node.right, node.op
        if not (isinstance(call, Call) and call.name == "geo.distance"):
            call, other = node.right, node.left
            op = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}.get(node.op, node.op)
            if not (isinstance(call, Call) and call.name == "geo.distance"):
                return None
        if not (isinstance(other, Literal) and other.type == "number"):
            raise NotImplementedQuery("geo.distance is implemented in comparisons with a number")
        first, second = call.args
        path, literal = (first, second) if isinstance(first, Path) else (second, first)
        if not isinstance(path, Path) or not isinstance(literal, Literal):
            raise QueryError("geo.distance needs a location property and a geography'...' literal")
        column = self._geometry_column(path, entity, alias)
        geometry = parse_geometry(literal)
        assert isinstance(other.value, Decimal)
        limit = float(other.value)
        compare: Callable[[float, float], bool] = {
            "lt": operator.lt,
            "le": operator.le,
            "gt": operator.gt,
            "ge": operator.ge,
            "eq": operator.eq,
            "ne": operator.ne,
        }[op]
        if op in ("lt", "le") and limit >= 0:
            minx, miny, maxx, maxy = geometry.bounds
            bounds: tuple[float, ...] | None = (minx - limit, miny - limit, maxx + limit,
                                                maxy + limit)  # fmt: skip
        else:
            bounds = None
        ids = self.poles_matching(
            bounds,
            lambda p: compare(float(p.distance(geometry)), limit),
            (f"distance-{op}-{limit}", literal),
        )
        return sql.SQL("({} = ANY({}))").format(column, self.params.add(ids, "bigint[]"))

    def _geometry_column(self, path: Path, entity: EntitySet, alias: str) -> sql.Composable:
        if len(path.segments) != 1:
            raise QueryError(f"{path}: a geo function takes a location property of this entity")
        prop = entity.prop(path.segments[0])
        if prop is None or prop.type != "geometry":
            raise QueryError(f"{entity.name}: {path} is not a location property")
        return sql.Identifier(alias, _thing_column(entity, prop))

    def poles_matching(
        self,
        bounds: tuple[float, ...] | None,
        test: Callable[[BaseGeometry], bool],
        key: tuple[str, Literal],
    ) -> list[int]:
        """Thing ids of the poles whose point passes `test` (bounding box in SQL)."""
        cache_key = (key[0], str(key[1].value), "", "")
        if cache_key in self.geo_cache:
            return self.geo_cache[cache_key]
        if self.conn is None:
            raise NotImplementedQuery("geo functions need the database")
        candidates = poles_in_box(self.conn, bounds)
        ids = [thing for thing, lon, lat in candidates if test(shapely.Point(lon, lat))]
        self.geo_cache[cache_key] = ids
        return ids


def poles_in_box(
    conn: psycopg.Connection[Any], bounds: tuple[float, ...] | None
) -> list[tuple[int, float, float]]:
    """(thing id, longitude, latitude) of the poles with a position in the box."""
    if bounds is None:
        rows = conn.execute(
            "SELECT t.thing_id, p.longitude, p.latitude FROM sta_things t "
            "JOIN poles p ON p.pole_id = t.pole_id "
            "WHERE p.latitude IS NOT NULL AND p.longitude IS NOT NULL"
        ).fetchall()
    else:
        minx, miny, maxx, maxy = bounds
        rows = conn.execute(
            "SELECT t.thing_id, p.longitude, p.latitude FROM sta_things t "
            "JOIN poles p ON p.pole_id = t.pole_id "
            "WHERE p.longitude BETWEEN %s AND %s AND p.latitude BETWEEN %s AND %s",
            (minx, maxx, miny, maxy),
        ).fetchall()
    return [(int(r[0]), float(r[1]), float(r[2])) for r in rows]


def _thing_column(entity: EntitySet, prop: Prop) -> str:
    assert entity.thing_column is not None or prop.column == "id"
    return entity.thing_column or prop.column


def _as_date(value: Typed) -> sql.Composable:
    if value.type == "date":
        return value.sql
    if value.type == "datetime":
        return sql.SQL("(({}) AT TIME ZONE 'UTC')::date").format(value.sql)
    raise QueryError(f"cannot compare a date with a {value.type}")


def _paths(node: Node) -> list[Path]:
    if isinstance(node, Path):
        return [node]
    if isinstance(node, Unary):
        return _paths(node.operand)
    if isinstance(node, Binary):
        return _paths(node.left) + _paths(node.right)
    if isinstance(node, Call):
        return [p for a in node.args for p in _paths(a)]
    return []


def _strip(node: Node, nav: str) -> Node:
    """`node` with the leading `nav/` removed from its paths."""
    if isinstance(node, Path):
        if node.segments[0] == nav:
            if len(node.segments) == 1:
                raise QueryError(f"{nav} is a relation; name one of its properties")
            return Path(node.segments[1:])
        return node
    if isinstance(node, Unary):
        return Unary(node.op, _strip(node.operand, nav))
    if isinstance(node, Binary):
        return Binary(node.op, _strip(node.left, nav), _strip(node.right, nav))
    if isinstance(node, Call):
        return Call(node.name, tuple(_strip(a, nav) for a in node.args))
    return node


_SRID = re.compile(r"^\s*SRID=(\d+);", re.IGNORECASE)


def parse_geometry(literal: Literal) -> BaseGeometry:
    if literal.type != "geometry":
        raise QueryError("a geo function needs a geography'...' literal")
    assert isinstance(literal.value, str)
    text = literal.value
    srid = _SRID.match(text)
    if srid:
        if srid.group(1) != "4326":
            raise NotImplementedQuery("only WGS 84 (SRID 4326) geometries are implemented")
        text = text[srid.end() :]
    try:
        geometry = shapely.from_wkt(text)
    except (ShapelyError, ValueError, TypeError) as exc:
        raise QueryError(f"invalid WKT geometry: {exc}") from exc
    if geometry is None or geometry.is_empty:
        raise QueryError("the geometry is empty")
    if shapely.get_num_coordinates(geometry) > MAX_GEO_VERTICES:
        raise QueryError(f"the geometry has more than {MAX_GEO_VERTICES} vertices")
    if not all(map(_finite, geometry.bounds)):
        raise QueryError("the geometry has coordinates that are not finite numbers")
    return geometry


def _finite(x: float) -> bool:
    return math.isfinite(x)


_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of days, hours, minutes and seconds (OData's dayTimeDuration)."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise QueryError(f"invalid duration {text!r} (e.g. duration'PT1H', duration'P1D')")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError as exc:
        raise QueryError(f"the duration {text!r} is too long") from exc


def compile_filter(
    node: Node,
    entity: EntitySet,
    alias: str,
    params: Params,
    conn: psycopg.Connection[Any] | None,
) -> sql.Composable:
    return Compiler(params, conn).predicate(node, entity, alias)


def compile_value(
    node: Node, entity: EntitySet, alias: str, params: Params, conn: psycopg.Connection[Any] | None
) -> Typed:
    """An $orderby expression."""
    value = Compiler(params, conn).expr(node, entity, alias)
    if value.type == "json":
        return Typed(sql.SQL("({} #>> '{{}}')").format(value.sql), "string")
    if value.type == "geometry":
        raise QueryError("cannot order by a location")
    return value
