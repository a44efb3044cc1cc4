"""One row of an inventory file -> one pole's registry entry, or the reasons why not.

The file's columns (CSV header, GeoJSON property keys) are matched to the
registry catalogue (`models.catalogue.registry`) by name, ignoring case, or
through the `--map field=COLUMN` mapping. A column the file leaves out is not
touched on an existing pole; an empty cell clears the field. Unknown columns
are kept as internal properties (never published), and the report says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from inventory import values
from inventory.geo import CityArea, CoordinateSystem, check_degrees
from inventory.sources import NO_GEOMETRY, RawRow
from models.catalogue import registry as catalogue
from models.catalogue.registry import (
    INTERNAL_PROPERTY_PREFIX,
    PUBLIC_PROPERTY_PREFIX,
    RegistryField,
)
from models.topics import POLE_ID_PATTERN
from models.vocabulary import Capability, PlugType
from storage.inventory import ENTRY_FIELDS

FIELDS_BY_NAME: dict[str, RegistryField] = {
    f.name: f for f in (*catalogue.REGISTRY_FIELDS, *catalogue.PROJECTED_POSITION_FIELDS)
}
EV_FIELD_NAMES = frozenset(f.name for f in catalogue.EV_FIELDS)
POSITION_FIELD_NAMES = frozenset(("latitude", "longitude", "x", "y"))
ID_SEPARATORS = re.compile(r"[,;|\s]+")
PER_CONNECTOR_SEPARATOR = re.compile(r"\|")
MAX_REASONS_SHOWN = 5


class MappingError(ValueError):
    """The --map option or the file's columns cannot be understood (file-level)."""


def parse_mapping(specs: Iterable[str]) -> dict[str, str]:
    """`name=BEZEICHNUNG,district=STADTTEIL` (repeatable) -> {field: column}."""
    mapping: dict[str, str] = {}
    for spec in specs:
        for part in spec.split(","):
            if not part.strip():
                continue
            target, sep, column = part.partition("=")
            target, column = target.strip(), column.strip()
            if not sep or not target or not column:
                raise MappingError(f"--map takes field=COLUMN pairs, got {part.strip()[:60]!r}")
            target = _target_name(target)
            if target in mapping:
                raise MappingError(f"--map names {target} twice")
            if column in mapping.values():
                raise MappingError(f"--map maps column {column!r} twice")
            mapping[target] = column
    return mapping


def _target_name(name: str) -> str:
    for prefix in (PUBLIC_PROPERTY_PREFIX, INTERNAL_PROPERTY_PREFIX):
        if name.lower().startswith(prefix) and len(name) > len(prefix):
            return prefix + name[len(prefix) :]
    if name.lower() in FIELDS_BY_NAME:
        return name.lower()
    known = ", ".join(FIELDS_BY_NAME)
    raise MappingError(
        f"--map: unknown field {name[:60]!r} (fields: {known}, or public.KEY / internal.KEY)"
    )


@dataclass(frozen=True, slots=True)
class Resolved:
    """Which file key feeds which target (a field name, or public./internal. KEY)."""

    targets: dict[str, str]  # file key -> target
    unknown: tuple[str, ...]  # file keys kept as internal properties


class Columns:
    """The file's keys matched to registry fields (cached per distinct key set)."""

    def __init__(self, mapping: Mapping[str, str], *, geojson: bool) -> None:
        self.mapping = dict(mapping)
        self.geojson = geojson
        self._by_column = {column: target for target, column in self.mapping.items()}
        self._cache: dict[tuple[str, ...], Resolved] = {}
        self.seen_columns: set[str] = set()
        self.unknown: dict[str, None] = {}
        self.ignored: dict[str, None] = {}

    def resolve(self, keys: Iterable[str]) -> Resolved:
        key_tuple = tuple(keys)
        cached = self._cache.get(key_tuple)
        if cached is not None:
            return cached
        targets: dict[str, str] = {}
        unknown: list[str] = []
        given_by: dict[str, str] = {}
        for key in key_tuple:
            target = self._by_column.get(key)
            if target is None and key.lower() in FIELDS_BY_NAME:
                target = key.lower()
                if target in self.mapping:  # mapped to another column: this one is just data
                    target = None
            if target is None:
                for prefix in (PUBLIC_PROPERTY_PREFIX, INTERNAL_PROPERTY_PREFIX):
                    if key.lower().startswith(prefix) and len(key) > len(prefix):
                        target = prefix + key[len(prefix) :]
            if target is None:
                unknown.append(key)
                target = INTERNAL_PROPERTY_PREFIX + key
            if self.geojson and target in POSITION_FIELD_NAMES:
                self.ignored[key] = None  # the geometry gives the position
                continue
            if target in given_by:
                raise MappingError(
                    f"both {given_by[target]!r} and {key!r} give {target}; map one with --map"
                )
            given_by[target] = key
            targets[key] = target
        self.seen_columns.update(key_tuple)
        self.unknown.update(dict.fromkeys(unknown))
        resolved = Resolved(targets, tuple(unknown))
        if len(self._cache) < 1000:
            self._cache[key_tuple] = resolved
        return resolved

    def unmapped_columns(self) -> list[str]:
        """--map columns no row had."""
        return [c for c in self.mapping.values() if c not in self.seen_columns]


@dataclass(slots=True)
class PoleEntry:
    """A pole's registry entry as one row gives it; `provided` are the fields the
    row sets (the others stay as they are on an existing pole)."""

    seq: int
    line: int
    pole_id: str
    provided: set[str] = field(default_factory=set)
    values: dict[str, Any] = field(default_factory=dict)
    # The district still to be found from the position (EntryParser.finish), with
    # the one the row gives, if any.
    district_pending: bool = False
    district_given: str | None = None

    def stage_row(self) -> tuple[Any, ...]:
        """The row for storage.inventory.ImportSession.stage (STAGE_COLUMNS order)."""
        return (
            self.seq,
            self.line,
            self.pole_id,
            sorted(self.provided),
            *(self.values.get(name) for name in ENTRY_FIELDS),
        )


@dataclass(frozen=True, slots=True)
class Rejected:
    seq: int
    line: int
    pole_id: str | None
    pole_id_valid: bool
    reason: str


class EntryParser:
    """Turns raw rows into entries, with the file's CRS, the city's area and districts."""

    def __init__(self, columns: Columns, crs: CoordinateSystem, area: CityArea) -> None:
        self.columns = columns
        self.crs = crs
        self.area = area

    def parse(self, raw: RawRow) -> PoleEntry | Rejected:
        pole_id_text = _pole_id_text(raw, self.columns)
        valid_id = bool(pole_id_text and POLE_ID_PATTERN.fullmatch(pole_id_text))
        shown_id = pole_id_text[:80] if pole_id_text else None
        if raw.problem:
            return Rejected(raw.number, raw.line, shown_id, valid_id, raw.problem)
        try:
            resolved = self.columns.resolve(raw.values)
        except MappingError as exc:
            return Rejected(raw.number, raw.line, shown_id, valid_id, str(exc))
        reasons: list[str] = []
        entry = PoleEntry(raw.number, raw.line, pole_id_text or "")
        try:
            entry.pole_id = self._pole_id(raw, resolved)
        except ValueError as exc:
            reasons.append(str(exc))
        by_target = {target: raw.values[key] for key, target in resolved.targets.items()}
        for step in (self._scalars, self._capabilities, self._connectors, self._properties):
            try:
                step(by_target, entry)
            except ValueError as exc:
                reasons.append(str(exc))
        try:
            self._position_and_district(raw, by_target, entry)
        except ValueError as exc:
            reasons.append(str(exc))
        if not reasons:
            try:
                _check_ev_consistency(entry)
            except ValueError as exc:
                reasons.append(str(exc))
        if reasons:
            shown = reasons[:MAX_REASONS_SHOWN]
            if len(reasons) > MAX_REASONS_SHOWN:
                shown.append(f"and {len(reasons) - MAX_REASONS_SHOWN} more")
            return Rejected(raw.number, raw.line, shown_id, valid_id, "; ".join(shown))
        return entry

    def finish(self, parsed: list[PoleEntry | Rejected]) -> list[PoleEntry | Rejected]:
        """Find the districts of a batch of parsed rows from their positions (one
        vectorised point-in-polygon query); a contradiction rejects the row."""
        pending = [p for p in parsed if isinstance(p, PoleEntry) and p.district_pending]
        if not pending or self.area.districts is None:
            return parsed
        lons = [e.values["longitude"] for e in pending]
        lats = [e.values["latitude"] for e in pending]
        rejected: dict[int, Rejected] = {}
        for entry, found in zip(
            pending, self.area.districts.containing_each(lons, lats), strict=True
        ):
            lon, lat = entry.values["longitude"], entry.values["latitude"]
            try:
                entry.values["district"] = self.area.choose_district(
                    found, entry.district_given, lon, lat
                )
            except ValueError as exc:
                rejected[id(entry)] = Rejected(entry.seq, entry.line, entry.pole_id, True, str(exc))
            entry.district_pending = False
        return [rejected.get(id(p), p) for p in parsed]

    def _pole_id(self, raw: RawRow, resolved: Resolved) -> str:
        key = next((k for k, t in resolved.targets.items() if t == "pole_id"), None)
        given = raw.values.get(key) if key is not None else None
        if isinstance(given, str):
            given = given.strip()
        feature_id = raw.feature_id
        if values.is_empty(given) and feature_id is not None:
            given = feature_id
        elif feature_id is not None and not values.is_empty(given) and given != feature_id:
            raise ValueError(f"pole_id {given!r} and the feature id {feature_id!r} differ")
        if values.is_empty(given):
            raise ValueError("no pole_id (map the column holding it with --map pole_id=COLUMN)")
        if not isinstance(given, str) or not POLE_ID_PATTERN.fullmatch(given):
            raise ValueError(
                f"invalid pole id {str(given)[:80]!r}: 1-64 characters of A-Z a-z 0-9 _ -, "
                "starting with a letter or digit (the city's own number belongs in asset_id)"
            )
        return given

    def _scalars(self, by_target: dict[str, Any], entry: PoleEntry) -> None:
        problems: list[str] = []
        for name, parse in _SCALAR_PARSERS:
            if name in by_target:
                try:
                    entry.values[name] = parse(by_target[name])
                    entry.provided.add(name)
                except ValueError as exc:
                    problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))

    def _capabilities(self, by_target: dict[str, Any], entry: PoleEntry) -> None:
        if "capabilities" not in by_target:
            return
        listed = values.items(by_target["capabilities"], catalogue.CAPABILITIES, ID_SEPARATORS)
        found = {
            values.vocabulary(item, catalogue.CAPABILITIES, Capability)
            for item in listed
            if not values.is_empty(item)
        }
        entry.values["capabilities"] = sorted(found)
        entry.provided.add("capabilities")

    def _connectors(self, by_target: dict[str, Any], entry: PoleEntry) -> None:
        if not EV_FIELD_NAMES & by_target.keys():
            return
        count = values.integer(by_target.get("ev_connectors"), catalogue.EV_CONNECTORS)
        ids_given = values.items(
            by_target.get("ev_connector_ids"), catalogue.EV_CONNECTOR_IDS, ID_SEPARATORS
        )
        ids = [
            values.integer(i, catalogue.EV_CONNECTOR_IDS)
            for i in ids_given
            if not values.is_empty(i)
        ]
        powers = _per_connector(by_target.get("ev_max_power_kw"), catalogue.EV_MAX_POWER_KW)
        plugs = _per_connector(by_target.get("ev_plug_type"), catalogue.EV_PLUG_TYPE)
        if ids and count is not None and count != len(ids):
            raise ValueError(f"ev_connectors says {count} but ev_connector_ids lists {len(ids)}")
        if not ids:
            if count is None and (powers or plugs):
                raise ValueError("ev_max_power_kw / ev_plug_type need ev_connectors (how many)")
            ids = list(range(1, (count or 0) + 1))
        if len(set(ids)) != len(ids):
            raise ValueError("ev_connector_ids lists a connector twice")
        n = len(ids)
        for name, listed in (("ev_max_power_kw", powers), ("ev_plug_type", plugs)):
            if len(listed) not in (0, 1, n):
                raise ValueError(f"{name} gives {len(listed)} values for {n} connectors")
        connectors = []
        for index, connector_id in enumerate(sorted(i for i in ids if i is not None)):
            power = powers[0] if len(powers) == 1 else (powers[index] if powers else None)
            plug = plugs[0] if len(plugs) == 1 else (plugs[index] if plugs else None)
            connectors.append(
                {
                    "connector_id": connector_id,
                    "max_power_kw": None if power is None else values.number(
                        power, catalogue.EV_MAX_POWER_KW
                    ),
                    "plug_type": None if plug is None else values.vocabulary(
                        plug, catalogue.EV_PLUG_TYPE, PlugType
                    ),
                }
            )  # fmt: skip
        entry.values["connectors"] = connectors
        entry.provided.add("connectors")

    def _properties(self, by_target: dict[str, Any], entry: PoleEntry) -> None:
        for prefix, name in (
            (PUBLIC_PROPERTY_PREFIX, "properties"),
            (INTERNAL_PROPERTY_PREFIX, "internal_properties"),
        ):
            keys = [t for t in by_target if t.startswith(prefix)]
            if not keys:
                continue
            props: dict[str, Any] = {}
            for target in keys:
                key = target[len(prefix) :]
                value = by_target[target]
                if values.is_empty(value):
                    continue
                values.check_text(key, f"{target} (name)", catalogue.PROPERTY_KEY_MAX_LENGTH)
                _check_property_value(value, target)
                props[key] = value.strip() if isinstance(value, str) else value
            if len(orjson.dumps(props)) > catalogue.PROPERTIES_MAX_BYTES:
                raise ValueError(
                    f"{name} are larger than {catalogue.PROPERTIES_MAX_BYTES // 1024} KiB as JSON"
                )
            entry.values[name] = props
            entry.provided.add(name)

    def _position_and_district(
        self, raw: RawRow, by_target: dict[str, Any], entry: PoleEntry
    ) -> None:
        position = self._position(raw, by_target)
        if position is not None:
            entry.provided.update(("latitude", "longitude"))
            if position != (None, None):
                lon, lat = position
                assert lon is not None and lat is not None
                entry.values["longitude"], entry.values["latitude"] = round(lon, 9), round(lat, 9)
        given = None
        if "district" in by_target:
            given = values.text(by_target["district"], catalogue.DISTRICT)
            entry.values["district"] = given
            entry.provided.add("district")
        districts = self.area.districts
        if districts is None:
            return
        lon, lat = entry.values.get("longitude"), entry.values.get("latitude")
        if lon is not None and lat is not None:
            entry.district_pending, entry.district_given = True, given
            entry.provided.add("district")
        elif given is not None and given not in districts.names:
            raise ValueError(f"district {given!r} is not in the district boundaries")

    def _position(
        self, raw: RawRow, by_target: dict[str, Any]
    ) -> tuple[float | None, float | None] | None:
        """(lon, lat) in WGS 84, (None, None) to clear it, None when not given."""
        if raw.geometry is not NO_GEOMETRY:
            east_north = _point(raw.geometry)
        else:
            east_name, north_name = self.crs.axis_fields
            given = POSITION_FIELD_NAMES & by_target.keys()
            if not given:
                return None
            if given - {east_name, north_name}:
                wrong = ", ".join(sorted(given - {east_name, north_name}))
                if self.crs.projected:
                    raise ValueError(
                        f"with --crs {self.crs.name} the position is in columns x and y "
                        f"(easting, northing), not {wrong}"
                    )
                raise ValueError(
                    f"columns {wrong} need --crs (the CRS of the coordinates, e.g. "
                    "--crs EPSG:25832); without it, give longitude and latitude"
                )
            east_field, north_field = FIELDS_BY_NAME[east_name], FIELDS_BY_NAME[north_name]
            east = _coordinate(by_target.get(east_name), east_field)
            north = _coordinate(by_target.get(north_name), north_field)
            if (east is None) != (north is None):
                raise ValueError(f"{east_name} and {north_name} go together: give both or neither")
            east_north = None if east is None or north is None else (east, north)
        if east_north is None:
            return (None, None)
        if self.crs.wgs84:
            lon, lat = east_north
            check_degrees(lon, lat)
        else:
            lon, lat = self.crs.to_wgs84(*east_north)
        self.area.check(lon, lat)
        return lon, lat


_SCALAR_PARSERS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("asset_id", lambda v: values.text(v, catalogue.ASSET_ID)),
    ("name", lambda v: values.text(v, catalogue.NAME)),
    ("notes", lambda v: values.text(v, catalogue.NOTES, multiline=True)),
    ("lamp_rated_power_w", lambda v: values.number(v, catalogue.LAMP_RATED_POWER_W)),
    ("commissioned_on", lambda v: values.calendar_date(v, catalogue.COMMISSIONED_ON)),
)


def _pole_id_text(raw: RawRow, columns: Columns) -> str | None:
    """The pole id as written (for the report), before any check."""
    key = columns.mapping.get("pole_id")
    if key is None:
        key = next((k for k in raw.values if k.lower() == "pole_id"), None)
    value = raw.values.get(key) if key is not None else None
    if values.is_empty(value):
        value = raw.feature_id
    return None if value is None else str(value).strip()


def _coordinate(value: Any, spec: RegistryField) -> float | None:
    if values.is_empty(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{spec.name}: expected a number")
    if isinstance(value, str):
        return values.parse_decimal(value, spec.name)
    return values.finite(value, spec.name)


def _point(geometry: Any) -> tuple[float, float] | None:
    if geometry is None:
        return None
    if not isinstance(geometry, dict):
        raise ValueError("geometry must be a GeoJSON Point or null")
    if geometry.get("type") != "Point":
        raise ValueError(f"geometry must be a Point, not {str(geometry.get('type'))[:40]}")
    coords = geometry.get("coordinates")
    if (
        not isinstance(coords, list)
        or len(coords) not in (2, 3)
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
    ):
        raise ValueError("a Point's coordinates must be [x, y] (or [x, y, z]) numbers")
    return values.finite(coords[0], "x"), values.finite(coords[1], "y")


def _per_connector(value: Any, spec: RegistryField) -> list[Any]:
    """One value for all connectors, or one per connector (empty: not known)."""
    listed = values.items(value, spec, PER_CONNECTOR_SEPARATOR)
    result = [None if values.is_empty(v) else v for v in listed]
    return [] if all(v is None for v in result) else result


def _check_property_value(value: Any, name: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name}: not a finite number")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError(f"{name}: the number is too large")
    if isinstance(value, str):
        values.check_text(value, name, catalogue.PROPERTY_TEXT_MAX_LENGTH, multiline=True)
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise ValueError(f"{name}: contains NUL characters")
            _check_property_value(item, name)
    elif isinstance(value, list):
        for item in value:
            _check_property_value(item, name)


def _check_ev_consistency(entry: PoleEntry) -> None:
    connectors = entry.values.get("connectors") or []
    capabilities = entry.values.get("capabilities")
    if connectors and "capabilities" in entry.provided and "ev" not in (capabilities or []):
        raise ValueError("charging connectors are listed, but the capabilities lack ev")
