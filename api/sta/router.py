"""The OGC SensorThings API 1.1 facade at /sta/v1.1: read-only, from the tables
the platform already keeps (storage/queries/sta.py), in the API process.

Errors are FROST-style JSON (`code`, `type`, `message`): 400 for a malformed
request, 404 for an id or path that names nothing, 405 for writes, 501 for what
is well-formed but not implemented. A client's request never causes a 500.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import psycopg
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import Db, State
from api.sta.paths import Segment, UnknownPath, parse_path
from api.sta.render import (
    Links,
    csv_body,
    dumps,
    entity_json,
    geojson_body,
    iso_text,
    point,
    properties_of,
)
from config.services import ApiSettings
from models.sensorthings.mapping import CONFORMANCE, ENTITY_SETS
from models.sensorthings.odata import (
    Expand,
    NotImplementedQuery,
    QueryError,
    QueryOptions,
    parse_options,
)
from storage.queries import sta as q
from storage.queries.sta_entities import SETS, EntitySet

log = logging.getLogger(__name__)

PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, include_in_schema=False)

READ_OPTIONS = frozenset({"$filter", "$orderby", "$select", "$expand", "$top", "$skip", "$count"})
OTHER_OPTIONS = frozenset({"$resultFormat", "$skiptoken"})
RESULT_FORMATS = frozenset({"dataarray", "geojson", "csv"})
DATA_ARRAY_COMPONENTS = ("id", "phenomenonTime", "resultTime", "result")


class StaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"code": status, "type": "error", "message": message})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def base_url(request: Request, settings: ApiSettings) -> str:
    if settings.api_sta_external_url:
        return settings.api_sta_external_url.rstrip("/")
    return str(request.base_url).rstrip("/") + PREFIX


def _json(payload: Any) -> Response:
    return Response(dumps(payload), media_type="application/json")


@router.get("")
@router.get("/")
def service_root(request: Request, state: State) -> Response:
    base = base_url(request, state.settings)
    return _json(
        {
            "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
            "serverSettings": {"conformance": list(CONFORMANCE)},
        }
    )


WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


@router.api_route("", methods=WRITE_METHODS)
@router.api_route("/{path:path}", methods=WRITE_METHODS)
def write(path: str = "") -> Response:
    return error_response(
        405, "this SensorThings service is read-only", headers={"Allow": "GET, HEAD"}
    )


@router.api_route("/{path:path}", methods=["GET", "HEAD"])
def read(  # noqa: PLR0911 - one answer per kind of error
    path: str, request: Request, state: State, db: Db
) -> Response:
    try:
        raw = _raw_options(request)
        with db.connection() as conn:
            return Reader(conn, state.settings, base_url(request, state.settings), raw).read(path)
    except NotImplementedQuery as exc:
        return error_response(501, str(exc))
    except QueryError as exc:
        return error_response(400, str(exc))
    except StaError as exc:
        return error_response(exc.status, exc.message)
    except UnknownPath as exc:
        return error_response(404, str(exc))
    except (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded) as exc:
        # A value the filter computes cannot be represented (an overflow, a bad range).
        return error_response(400, f"the request cannot be evaluated: {_first_line(exc)}")
    except psycopg.errors.QueryCanceled:
        return error_response(
            503, "the query took too long; narrow it with $filter or page with $top"
        )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _raw_options(request: Request) -> dict[str, str]:
    raw: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if not key.startswith("$"):
            continue
        if key not in READ_OPTIONS and key not in OTHER_OPTIONS:
            raise NotImplementedQuery(f"the query option {key[:40]} is not implemented")
        if key in raw:
            raise QueryError(f"{key} is given twice")
        raw[key] = value
    return raw


def _merge(expands: tuple[Expand, ...]) -> list[Expand]:
    """`Datastreams/Sensor,Datastreams/ObservedProperty` expand Datastreams once."""
    merged: dict[str, Expand] = {}
    for item in expands:
        known = merged.get(item.navigation)
        if known is None:
            merged[item.navigation] = item
            continue
        a, b = known.options, item.options
        options = QueryOptions(
            filter=a.filter or b.filter,
            orderby=a.orderby or b.orderby,
            select=a.select or b.select,
            expand=a.expand + b.expand,
            top=a.top if a.top is not None else b.top,
            skip=a.skip if a.skip is not None else b.skip,
            count=a.count if a.count is not None else b.count,
        )
        merged[item.navigation] = Expand(item.navigation, options, known.raw or item.raw)
    return list(merged.values())


class Reader:
    """One GET: resolves the path, reads the page and its expands, renders it."""

    def __init__(
        self, conn: psycopg.Connection[Any], settings: ApiSettings, base: str, raw: dict[str, str]
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.base = base
        self.links = Links(base)
        self.raw = raw
        self.nested_queries: dict[tuple[int, int], str] = {}
        self.options = parse_options({k: v for k, v in raw.items() if k in READ_OPTIONS})
        fmt = raw.get("$resultFormat")
        if fmt is not None and fmt.lower() not in RESULT_FORMATS:
            raise NotImplementedQuery(f"$resultFormat={fmt[:40]} is not implemented")
        self.result_format = fmt.lower() if fmt else None

    # -- path resolution -------------------------------------------------------------
    def one(self, entity: EntitySet, id_: Any) -> dict[str, Any]:
        row = q.fetch_by_ids(self.conn, entity, [id_]).get(id_) if id_ is not None else None
        if row is None:
            raise UnknownPath(f"no {entity.singular} with id {id_}")
        return row

    def read(self, path: str) -> Response:  # noqa: PLR0912 - one branch per kind of segment
        segments = parse_path(path)
        if not segments:
            raise UnknownPath("no resource")
        first = segments[0]
        entity = SETS.get(first.name)
        if entity is None:
            raise UnknownPath(f"no entity set {first.name[:60]!r}")
        row: dict[str, Any] | None = None
        scope: q.Scope | None = None
        streams: list[dict[str, Any]] | None = None
        if first.id is not None:
            row = self.one(entity, first.id)
        rest = segments[1:]
        for index, seg in enumerate(rest):
            last = index == len(rest) - 1
            if row is None:
                if seg.name == "$ref" and last:
                    return self.collection(entity, scope, streams, ref=True, path=path)
                raise UnknownPath(f"{entity.name}: no resource {seg.name[:60]!r} here")
            if seg.name == "$ref" and last:
                return _json({"@iot.selfLink": self.links.entity(entity, row["id"])})
            nav = entity.nav(seg.name)
            if nav is None:
                return self.property(entity, row, seg, rest[index + 1 :])
            target = SETS[nav.target]
            if not nav.many:
                if seg.id is not None:
                    raise UnknownPath(f"{seg.name} is one entity, it takes no id")
                row = self.one(target, row[nav.local])
                entity = target
                continue
            parent, parent_set = row, entity
            entity, row = target, None
            scope, streams = self.scope(parent_set, parent, nav.name)
            if seg.id is not None:
                child = self.one(target, seg.id)
                if not self.belongs(child, parent_set, parent, nav.name):
                    raise UnknownPath(f"no {target.singular} with id {seg.id} here")
                row, scope, streams = child, None, None
        if row is not None:
            return self.entity(entity, row)
        return self.collection(entity, scope, streams, ref=False, path=path)

    def scope(
        self, parent_set: EntitySet, parent: dict[str, Any], nav_name: str
    ) -> tuple[q.Scope | None, list[dict[str, Any]] | None]:
        nav = parent_set.nav(nav_name)
        assert nav is not None
        if nav.target == "Observations" and parent_set.name == "Datastreams":
            return None, [parent]
        if nav.target == "Observations" and parent_set.name == "FeaturesOfInterest":
            req = q.ListRequest(
                SETS["Datastreams"], QueryOptions(), 10_000, scope=q.Scope("thing_id", parent["id"])
            )
            rows = q.list_page(self.conn, req).rows
            # Aggregates summarise these Observations; they are read through their Datastreams.
            return None, [r for r in rows if r["kind"] == 0]
        return q.Scope(nav.remote, parent[nav.local]), None

    def belongs(
        self, child: dict[str, Any], parent_set: EntitySet, parent: dict[str, Any], nav_name: str
    ) -> bool:
        nav = parent_set.nav(nav_name)
        assert nav is not None
        return bool(child.get(nav.remote) == parent.get(nav.local))

    # -- responses -------------------------------------------------------------------
    def property(
        self, entity: EntitySet, row: dict[str, Any], seg: Segment, after: list[Segment]
    ) -> Response:
        if seg.id is not None:
            raise UnknownPath(f"{entity.singular} has no relation {seg.name[:60]!r}")
        if seg.name == "id":
            value: Any = row["id"]
        else:
            props = properties_of(entity, row, self.extra_for(entity, [row], None))
            if seg.name not in props:
                raise UnknownPath(f"{entity.singular} has no property {seg.name[:60]!r}")
            value = props[seg.name]
        if not after:
            return _json({"@iot.id" if seg.name == "id" else seg.name: value})
        if len(after) == 1 and after[0].name == "$value":
            if value is None:
                return Response(status_code=204)
            if isinstance(value, datetime):
                text = iso_text(value)
            else:
                text = value if isinstance(value, str) else dumps(value).decode()
            return Response(text, media_type="text/plain; charset=utf-8")
        raise UnknownPath(f"no resource after {seg.name[:60]!r}")

    def entity(self, entity: EntitySet, row: dict[str, Any]) -> Response:
        docs = self.render(entity, [row], self.options, self.links.entity(entity, row["id"]))
        if self.result_format in ("csv", "geojson"):
            return self.formatted(entity, [row], docs)
        return _json(docs[0])

    def collection(
        self,
        entity: EntitySet,
        scope: q.Scope | None,
        streams: list[dict[str, Any]] | None,
        *,
        ref: bool,
        path: str,
    ) -> Response:
        settings = self.settings
        options = self.options
        top = min(options.top if options.top is not None else settings.api_sta_page_size,
                  settings.api_sta_max_top)  # fmt: skip
        skip = options.skip or 0
        token = self.raw.get("$skiptoken")
        after = q.decode_token(token) if token else None
        if after is None and skip > settings.api_sta_max_skip:
            raise QueryError(
                f"$skip is at most {settings.api_sta_max_skip}; follow @iot.nextLink instead, "
                "which pages by keyset at any depth"
            )
        if self.result_format == "dataarray" and entity.name != "Observations":
            raise QueryError("$resultFormat=dataArray is for Observations")
        for item in options.expand:
            q.check_expand(entity, item)
        self.check_select(entity, options.select)
        req = q.ListRequest(
            entity,
            options,
            top,
            skip=skip,
            after=after,
            scope=scope,
            streams=streams,
            count_timeout_ms=settings.api_sta_count_timeout_ms,
            want_count=bool(options.count),
        )
        page = q.list_page(self.conn, req)
        out: dict[str, Any] = {}
        if page.count is not None:
            out["@iot.count"] = page.count.value
            if not page.count.exact:
                out["@smartpole.countExact"] = False
        if page.more:
            out["@iot.nextLink"] = self.next_link(path, top, skip, page.last_keys)
        if ref:
            out["value"] = [
                {"@iot.selfLink": self.links.entity(entity, r["id"])} for r in page.rows
            ]
            return _json(out)
        if self.result_format == "dataarray":
            out["value"] = self.data_array(page.rows, options.select)
            return _json(out)
        docs = self.render(entity, page.rows, options, f"{self.base}/{path.strip('/')}")
        if self.result_format in ("csv", "geojson"):
            response = self.formatted(entity, page.rows, docs)
            if page.more:
                response.headers["Link"] = f'<{out["@iot.nextLink"]}>; rel="next"'
            return response
        out["value"] = docs
        return _json(out)

    def next_link(self, path: str, top: int, skip: int, last: list[Any] | None) -> str:
        params = {k: v for k, v in self.raw.items() if k not in ("$top", "$skip", "$skiptoken")}
        params["$top"] = str(top)
        params["$skip"] = str(skip + top)
        if last is not None:
            params["$skiptoken"] = q.encode_token(last)
        return f"{self.base}/{path.strip('/')}?{urlencode(params)}"

    def check_select(self, entity: EntitySet, select: tuple[str, ...] | None) -> None:
        for name in select or ():
            if entity.prop(name) is None and entity.nav(name) is None:
                raise QueryError(f"$select: {entity.name} have no property {name!r}")

    def extra_for(
        self, entity: EntitySet, rows: list[dict[str, Any]], select: tuple[str, ...] | None
    ) -> dict[str, Any]:
        if entity.name != "Datastreams" or not rows:
            return {}
        if select is not None and not {"phenomenonTime", "resultTime"} & set(select):
            return {}
        return {"times": q.datastream_times(self.conn, rows)}

    def render(
        self, entity: EntitySet, rows: list[dict[str, Any]], options: QueryOptions, here: str
    ) -> list[dict[str, Any]]:
        """The rows as entities, with their expands (one statement per relation)."""
        self.check_select(entity, options.select)
        extra = self.extra_for(entity, rows, options.select)
        expanded: list[dict[str, Any]] = [{} for _ in rows]
        for item in _merge(options.expand):
            nav = entity.nav(item.navigation)
            if nav is None:
                raise QueryError(f"{entity.name} have no relation {item.navigation!r}")
            target = SETS[nav.target]
            sub = item.options
            if nav.many:
                top = min(sub.top if sub.top is not None else self.settings.api_sta_page_size,
                          self.settings.api_sta_max_top)  # fmt: skip
                observations_of_streams = target.name == "Observations" and entity.name in (
                    "Datastreams",
                )
                related = q.expand_many(
                    self.conn,
                    target,
                    nav.remote,
                    [r[nav.local] for r in rows],
                    options=sub,
                    top=top,
                    parents=rows if observations_of_streams else None,
                )
                children: list[dict[str, Any]] = []
                spans: list[tuple[int, int]] = []
                for r in rows:
                    found = related.get(r[nav.local])
                    start = len(children)
                    if found is not None:
                        children.extend(found.rows)
                    spans.append((start, len(children)))
                docs = self.render(target, children, sub, here) if children else []
                for i, r in enumerate(rows):
                    start, end = spans[i]
                    found = related.get(r[nav.local])
                    block: dict[str, Any] = {nav.name: docs[start:end]}
                    if found is not None and found.count is not None:
                        block[f"{nav.name}@iot.count"] = found.count
                    if found is not None and found.more:
                        block[f"{nav.name}@iot.nextLink"] = self.nested_next(
                            entity, r, nav.name, item, top
                        )
                    expanded[i].update(block)
            else:
                one = q.expand_one(
                    self.conn, target, nav.remote, [r[nav.local] for r in rows], sub.filter
                )
                unique = list(one.values())
                docs = self.render(target, unique, sub, here) if unique else []
                by_key = {row[nav.remote]: doc for row, doc in zip(unique, docs, strict=True)}
                for i, r in enumerate(rows):
                    expanded[i][nav.name] = by_key.get(r[nav.local])
        return [
            entity_json(
                entity, row, self.links, select=options.select, extra=extra, expanded=expanded[i]
            )
            for i, row in enumerate(rows)
        ]

    def nested_next(
        self, entity: EntitySet, row: dict[str, Any], nav: str, item: Expand, top: int
    ) -> str:
        # The same query for every parent of the page: encoded once.
        key = (id(item), top)
        query = self.nested_queries.get(key)
        if query is None:
            params = {k: v for k, v in item.raw if k not in ("$top", "$skip")}
            params["$top"] = str(top)
            params["$skip"] = str((item.options.skip or 0) + top)
            query = self.nested_queries[key] = urlencode(params)
        return f"{self.links.entity(entity, row['id'])}/{nav}?{query}"

    def data_array(
        self, rows: list[dict[str, Any]], select: tuple[str, ...] | None
    ) -> list[dict[str, Any]]:
        components = list(select) if select else list(DATA_ARRAY_COMPONENTS)
        observations = SETS["Observations"]
        for name in components:
            if observations.prop(name) is None:
                raise QueryError(f"$select: Observations have no property {name!r}")
        groups: dict[int, list[list[Any]]] = {}
        for row in rows:
            props = properties_of(observations, row, {})
            props["id"] = row["id"]
            groups.setdefault(row["datastream_id"], []).append([props.get(c) for c in components])
        return [
            {
                "Datastream@iot.navigationLink": self.links.entity(SETS["Datastreams"], ds),
                "components": components,
                "dataArray@iot.count": len(values),
                "dataArray": values,
            }
            for ds, values in groups.items()
        ]

    def formatted(
        self, entity: EntitySet, rows: list[dict[str, Any]], docs: list[dict[str, Any]]
    ) -> Response:
        if self.result_format == "csv":
            return Response(csv_body(docs), media_type="text/csv; charset=utf-8")
        geometries = [point(r) if "latitude" in r else None for r in rows]
        return Response(geojson_body(docs, geometries), media_type="application/geo+json")
