"""NGSI-LD geo-queries (ETSI GS CIM 009 V1.9.1 §4.10): ``georel`` + ``geometry`` + ``coordinates``.

Georels: ``near;maxDistance==N`` and/or ``near;minDistance==N`` (metres), ``within`` (the entity's
geometry lies within the reference geometry), ``contains`` (it contains the reference), ``intersects``,
``disjoint``, ``equals``, ``overlaps``. Reference geometries: Point, LineString, Polygon, MultiPoint,
MultiLineString, MultiPolygon, ``[lon, lat]`` WGS84, validated (nesting, counts, ranges, closed and
valid rings). Topological predicates are planar on lon/lat (as brokers do), on a prepared shapely
geometry. Distances are in metres: haversine between points; otherwise both geometries projected
to a spherical azimuthal-equidistant plane centred on the reference geometry (exact for distances
from that centre, well under 0.5 % off at city scale). Matching never raises: an entity geometry
that is not valid GeoJSON simply does not match.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote

import numpy as np
import shapely  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry import shape  # type: ignore[import-untyped,unused-ignore]

from twinspace.twin.errors import NgsiError

__all__ = [
    "EARTH_RADIUS_M",
    "GEOMETRY_TYPES",
    "GEORELS",
    "GeoQuery",
    "geometry_bbox",
    "haversine_m",
    "parse_geometry",
    "parse_geoquery",
]

EARTH_RADIUS_M: Final = 6_371_008.8
GEORELS: Final = ("near", "within", "contains", "intersects", "disjoint", "equals", "overlaps")
GEOMETRY_TYPES: Final = (
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
)
_CANONICAL: Final = {name.lower(): name for name in GEOMETRY_TYPES}
#: Nesting depth of ``coordinates`` below the position level, per geometry type.
_DEPTH: Final = {
    "Point": 0,
    "LineString": 1,
    "MultiPoint": 1,
    "Polygon": 2,
    "MultiLineString": 2,
    "MultiPolygon": 3,
}
Bbox = tuple[float, float, float, float]


def _bad(detail: str) -> NgsiError:
    return NgsiError("BadRequestData", detail)


def _position(value: Any, where: str) -> list[float]:
    if (
        type(value) is not list
        or len(value) not in (2, 3)
        or not all(type(v) in (int, float) and math.isfinite(v) for v in value)
    ):
        raise _bad(f"Invalid coordinates: {where} must be [longitude, latitude], got {value!r}")
    if not (-180.0 <= value[0] <= 180.0 and -90.0 <= value[1] <= 90.0):
        raise _bad(f"Invalid coordinates: {where} {value!r} is out of range (lon ±180, lat ±90)")
    return [float(v) for v in value]


def _walk(value: Any, depth: int, where: str) -> Any:
    if depth == 0:
        return _position(value, where)
    if type(value) is not list or not value:
        raise _bad(f"Invalid coordinates: {where} must be a non-empty array, got {value!r}")
    return [_walk(v, depth - 1, f"{where}[{i}]") for i, v in enumerate(value)]


def _check_line(line: list[list[float]], where: str) -> None:
    if len(line) < 2:
        raise _bad(f"Invalid coordinates: the LineString {where} needs at least 2 positions")


def _check_polygon(rings: list[list[list[float]]], where: str) -> None:
    for i, ring in enumerate(rings):
        if len(ring) < 4 or ring[0][:2] != ring[-1][:2]:
            raise _bad(
                f"Invalid coordinates: ring {where}[{i}] must be closed (first == last) "
                "with at least 4 positions"
            )


def _validated(kind: str, coordinates: Any) -> dict[str, Any]:
    coords = _walk(coordinates, _DEPTH[kind], "coordinates")
    if kind == "LineString":
        _check_line(coords, "coordinates")
    elif kind == "MultiLineString":
        for i, line in enumerate(coords):
            _check_line(line, f"coordinates[{i}]")
    elif kind == "Polygon":
        _check_polygon(coords, "coordinates")
    elif kind == "MultiPolygon":
        for i, rings in enumerate(coords):
            _check_polygon(rings, f"coordinates[{i}]")
    return {"type": kind, "coordinates": coords}


def parse_geometry(geometry: str, coordinates: str | list[Any]) -> dict[str, Any]:
    """The validated GeoJSON geometry of a ``geometry`` name and its ``coordinates``.

    ``coordinates`` is the JSON text of the query string (percent-encoded brackets are decoded) or
    an already parsed list. Raises NgsiError BadRequestData, naming what is wrong.
    """
    kind = _CANONICAL.get(str(geometry).strip().lower())
    if kind is None:
        raise _bad(f"Invalid geometry {geometry!r}: expected one of {', '.join(GEOMETRY_TYPES)}")
    if isinstance(coordinates, str):
        text = unquote(coordinates) if "%" in coordinates else coordinates
        try:
            coordinates = json.loads(text)
        except ValueError:
            raise _bad(f"Invalid coordinates: not a JSON array: {text!r}") from None
    result = _validated(kind, coordinates)
    if kind in ("Polygon", "MultiPolygon"):
        geom = shape(result)
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            raise _bad(f"Invalid coordinates: the {kind} is not valid ({reason})")
    return result


def _coords_iter(coords: Any) -> Any:
    if coords and type(coords[0]) in (int, float):
        yield coords
        return
    for c in coords:
        yield from _coords_iter(c)


def geometry_bbox(geometry: dict[str, Any]) -> Bbox:
    """``(min_lon, min_lat, max_lon, max_lat)`` of a GeoJSON geometry (NgsiError when malformed)."""
    try:
        coords = geometry["coordinates"]
        xs, ys = zip(*((float(p[0]), float(p[1])) for p in _coords_iter(coords)), strict=True)
    except (KeyError, TypeError, ValueError, IndexError):
        raise _bad(f"Invalid GeoJSON geometry: {geometry!r}") from None
    return (min(xs), min(ys), max(xs), max(ys))


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres on the mean-radius sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def _aeqd(lon0: float, lat0: float) -> Callable[[Any], Any]:
    """A vectorised spherical azimuthal-equidistant projection centred on ``(lon0, lat0)``."""
    phi0 = math.radians(lat0)
    sin0, cos0 = math.sin(phi0), math.cos(phi0)

    def project(coords: Any) -> Any:
        lam = np.radians(coords[:, 0] - lon0)
        phi = np.radians(coords[:, 1])
        sin_p, cos_p = np.sin(phi), np.cos(phi)
        a = np.sin((phi - phi0) / 2) ** 2 + cos0 * cos_p * np.sin(lam / 2) ** 2
        c = 2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        sin_c = np.sin(c)
        k = np.ones_like(c)
        mask = sin_c > 1e-15
        k[mask] = c[mask] / sin_c[mask]
        x = EARTH_RADIUS_M * k * cos_p * np.sin(lam)
        y = EARTH_RADIUS_M * k * (cos0 * sin_p - sin0 * cos_p * np.cos(lam))
        return np.column_stack([x, y])

    return project


_XY_RELS: Final = frozenset({"within", "intersects", "disjoint"})


def _xy(point: dict[str, Any]) -> tuple[float, float] | None:
    try:
        coords = point["coordinates"]
        return float(coords[0]), float(coords[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return None


def _shape(geometry: Any) -> Any:
    """A shapely geometry of a GeoJSON dict, or None when it is not one we accept."""
    if type(geometry) is not dict or geometry.get("type") not in _DEPTH:
        return None
    coords: Any = geometry.get("coordinates")
    try:
        if geometry["type"] == "Point":
            return shapely.Point(float(coords[0]), float(coords[1]))
        geom = shape(geometry)
    except (
        TypeError,
        ValueError,
        IndexError,
        KeyError,
        AttributeError,
        shapely.errors.ShapelyError,
    ):
        return None
    return None if geom.is_empty else geom


class GeoQuery:
    """A parsed geo-query; the reference geometry is prepared once for many matches."""

    __slots__ = (
        "_center",
        "_point",
        "_project",
        "_projected",
        "_shape",
        "geometry",
        "georel",
        "max_distance",
        "min_distance",
        "property",
    )

    def __init__(
        self,
        georel: str,
        geometry: dict[str, Any],
        *,
        max_distance: float | None = None,
        min_distance: float | None = None,
        geoproperty: str | None = None,
    ) -> None:
        self.georel = georel
        self.geometry = geometry
        self.max_distance = max_distance
        self.min_distance = min_distance
        self.property = geoproperty or "location"
        self._shape = shape(geometry)
        shapely.prepare(self._shape)
        minx, miny, maxx, maxy = geometry_bbox(geometry)
        self._center = ((minx + maxx) / 2, (miny + maxy) / 2)
        if geometry["type"] == "Point":
            self._center = (geometry["coordinates"][0], geometry["coordinates"][1])
        self._point = geometry["type"] == "Point"
        self._project = _aeqd(*self._center)
        self._projected = shapely.transform(self._shape, self._project)
        shapely.prepare(self._projected)

    def __repr__(self) -> str:
        return f"GeoQuery({self.georel_text()!r}, {self.geometry!r}, {self.property!r})"

    def georel_text(self) -> str:
        """The ``georel`` as written in a query string."""
        parts = [self.georel]
        if self.max_distance is not None:
            parts.append(f"maxDistance=={self.max_distance:g}")
        if self.min_distance is not None:
            parts.append(f"minDistance=={self.min_distance:g}")
        return ";".join(parts)

    def distance(self, geometry: Any) -> float | None:
        """Metres between the reference geometry and ``geometry`` (None when not a geometry)."""
        if self._point and type(geometry) is dict and geometry.get("type") == "Point":
            xy = _xy(geometry)
            return None if xy is None else haversine_m(*self._center, *xy)
        geom = _shape(geometry)
        if geom is None:
            return None
        return float(shapely.distance(self._projected, shapely.transform(geom, self._project)))

    def matches(self, geometry: Any) -> bool:
        """Whether an entity's GeoJSON geometry satisfies the query."""
        if self.georel == "near":
            dist = self.distance(geometry)
            if dist is None:
                return False
            if self.max_distance is not None and dist > self.max_distance:
                return False
            return self.min_distance is None or dist >= self.min_distance
        ref, rel = self._shape, self.georel
        if rel in _XY_RELS and type(geometry) is dict and geometry.get("type") == "Point":
            xy = _xy(geometry)
            if xy is None:
                return False
            if rel == "within":
                return bool(shapely.contains_xy(ref, *xy))
            return bool(shapely.intersects_xy(ref, *xy)) is (rel == "intersects")
        geom = _shape(geometry)
        if geom is None:
            return False
        try:
            if rel == "within":
                return bool(shapely.contains(ref, geom))
            if rel == "contains":
                return bool(shapely.within(ref, geom))
            if rel == "intersects":
                return bool(shapely.intersects(ref, geom))
            if rel == "disjoint":
                return bool(shapely.disjoint(ref, geom))
            if rel == "overlaps":
                return bool(shapely.overlaps(ref, geom))
            return bool(shapely.equals(ref, geom))
        except shapely.errors.ShapelyError:
            return False

    def matches_entity(self, entity: dict[str, Any], expand: Callable[[str], str]) -> bool:
        """Whether any instance of the entity's geoproperty (canonical form) matches."""
        instances = (entity.get("attrs") or {}).get(expand(self.property)) or ()
        return any(self.matches(inst.get("value")) for inst in instances if type(inst) is dict)

    def bbox(self) -> Bbox | None:
        """A lon/lat box every matching geometry intersects (None when unbounded)."""
        if self.georel == "disjoint" or (self.georel == "near" and self.max_distance is None):
            return None
        minx, miny, maxx, maxy = geometry_bbox(self.geometry)
        if self.georel != "near" or self.max_distance is None:
            return (minx, miny, maxx, maxy)
        delta = self.max_distance / EARTH_RADIUS_M * 1.001 + 1e-9  # radians, with a margin
        dlat = math.degrees(delta)
        miny, maxy = miny - dlat, maxy + dlat
        if miny <= -90.0 or maxy >= 90.0:
            return (-180.0, max(miny, -90.0), 180.0, min(maxy, 90.0))
        ratio = math.sin(delta) / math.cos(math.radians(max(abs(miny), abs(maxy))))
        if ratio >= 1.0:
            return (-180.0, miny, 180.0, maxy)
        dlon = math.degrees(math.asin(ratio)) * 1.001
        if minx - dlon < -180.0 or maxx + dlon > 180.0:
            return (-180.0, miny, 180.0, maxy)
        return (minx - dlon, miny, maxx + dlon, maxy)


def _distance_value(text: str, georel: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise _bad(f"Invalid georel {georel!r}: a distance must be a number of metres >= 0")
    return value


def parse_geoquery(
    georel: str, geometry: str, coordinates: str | list[Any], geoproperty: str | None = None
) -> GeoQuery:
    """Parse the ``georel``/``geometry``/``coordinates``/``geoproperty`` parameters."""
    if not georel:
        raise _bad("Invalid georel: empty (expected one of " + ", ".join(GEORELS) + ")")
    rel, *mods = [part.strip() for part in georel.split(";")]
    if rel not in GEORELS:
        raise _bad(f"Invalid georel {georel!r}: expected one of {', '.join(GEORELS)}")
    distances: dict[str, float] = {}
    for mod in mods:
        name, sep, value = mod.partition("==")
        if rel != "near" or not sep or name not in ("maxDistance", "minDistance"):
            expected = "maxDistance==N or minDistance==N" if rel == "near" else "nothing"
            raise _bad(f"Invalid georel {georel!r}: after {rel!r} expected {expected}")
        if name in distances:
            raise _bad(f"Invalid georel {georel!r}: {name} given twice")
        distances[name] = _distance_value(value, georel)
    if rel == "near" and not distances:
        raise _bad(f"Invalid georel {georel!r}: near needs maxDistance==N or minDistance==N")
    if geoproperty is not None and not geoproperty.strip():
        raise _bad("Invalid geoproperty: empty")
    return GeoQuery(
        rel,
        parse_geometry(geometry, coordinates),
        max_distance=distances.get("maxDistance"),
        min_distance=distances.get("minDistance"),
        geoproperty=geoproperty,
    )
