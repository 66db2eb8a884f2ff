"""NGSI-LD value checks and attribute-type constants shared by parsing and operations.

Absolute URIs, attribute names (no character that CIM 009 §4.6.2 forbids), ISO 8601
DateTimes and GeoJSON geometries (the six types of §4.7, WGS84 ``[lon, lat]`` in range);
each failed check is an ``NgsiError`` BadRequestData whose detail says where and why.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from twinspace.twin.errors import NgsiError

__all__ = [
    "ATTRIBUTE_TYPES",
    "MEMBER_TYPE",
    "METADATA_MEMBERS",
    "NGSI_NULL",
    "TYPE_ALIASES",
    "VALUE_MEMBER",
    "Entity",
    "Instance",
    "bad_request",
    "dataset_key",
    "is_geometry",
    "is_null",
    "is_uri",
    "looks_like_instance",
    "validate_attribute_name",
    "validate_datetime",
    "validate_geometry",
    "validate_uri",
]

Entity = dict[str, Any]
Instance = dict[str, Any]

NGSI_NULL = "urn:ngsi-ld:null"

# attribute type -> the member holding its value
VALUE_MEMBER: dict[str, str] = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
}
ATTRIBUTE_TYPES = frozenset(VALUE_MEMBER)
TYPE_ALIASES = {"VocabularyProperty": "VocabProperty"}
MEMBER_TYPE = {
    "value": "Property",
    "object": "Relationship",
    "languageMap": "LanguageProperty",
    "valueList": "ListProperty",
    "objectList": "ListRelationship",
    "vocab": "VocabProperty",
    "json": "JsonProperty",
}
METADATA_MEMBERS = frozenset({"observedAt", "unitCode", "datasetId", "objectType", "valueType"})
_GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
)
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2}
_DEPTH["MultiPolygon"] = 3

_FORBIDDEN = re.compile(r"[<>\"'=;()\s\x00-\x1f\x7f]")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)


def bad_request(detail: str) -> NgsiError:
    return NgsiError("BadRequestData", detail)


# ----------------------------------------------------------------------------- scalar checks


def is_uri(value: Any) -> bool:
    """Whether ``value`` is an absolute URI (a scheme, a colon, no spaces or ``<>"{}|\\^```)."""
    return isinstance(value, str) and _URI.match(value) is not None


def validate_uri(value: Any, what: str) -> str:
    """``value`` if it is an absolute URI, else BadRequestData naming ``what``."""
    if not isinstance(value, str) or not _URI.match(value):
        raise bad_request(f"{what} must be an absolute URI, got {value!r}")
    return value


#: Names and DateTimes already found valid (a batch repeats the same few thousand texts):
#: checking them again is skipped. Bounded: cleared when full.
_VALID_NAMES: set[str] = set()
_VALID_DATETIMES: set[str] = set()
_REMEMBER = 65_536


def _remember(known: set[str], text: str) -> None:
    if len(known) >= _REMEMBER:
        known.clear()
    known.add(text)


def validate_attribute_name(name: Any, what: str = "Attribute name") -> str:
    """``name`` if it is a non-empty string without the characters §4.6.2 forbids."""
    if name.__class__ is str and name in _VALID_NAMES:
        return str(name)
    if not isinstance(name, str) or not name:
        raise bad_request(f"{what} must be a non-empty string")
    found = _FORBIDDEN.search(name)
    if found:
        raise bad_request(f"{what} {name!r} contains the forbidden character {found.group()!r}")
    _remember(_VALID_NAMES, name)
    return name


def validate_datetime(value: Any, what: str) -> str:
    """``value`` if it is an ISO 8601 DateTime (date, ``T``, time, optional zone)."""
    if value.__class__ is str and value in _VALID_DATETIMES:
        return str(value)
    match = _DATETIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise bad_request(f"{what} must be an ISO 8601 DateTime, got {value!r}")
    year, month, day, hour, minute, second = match.groups()
    try:
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError as exc:
        raise bad_request(f"{what} is not a valid DateTime ({exc}): {value!r}") from None
    text: str = value
    _remember(_VALID_DATETIMES, text)
    return text


def _position(position: Any, where: str) -> None:
    if not isinstance(position, list) or not 2 <= len(position) <= 3:
        raise bad_request(f"{where}: a position must be an array [longitude, latitude(, altitude)]")
    for number in position:
        if isinstance(number, bool) or not isinstance(number, int | float) or number != number:
            raise bad_request(f"{where}: coordinates must be numbers, got {number!r}")
    lon, lat = position[0], position[1]
    if not -180.0 <= lon <= 180.0:
        raise bad_request(f"{where}: longitude {lon} out of range [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise bad_request(f"{where}: latitude {lat} out of range [-90, 90]")


def _coordinates(value: Any, depth: int, kind: str, where: str) -> None:
    if depth == 0:
        _position(value, where)
        return
    if not isinstance(value, list) or not value:
        raise bad_request(f"{where}: expected a non-empty array nested {depth} more level(s)")
    for index, item in enumerate(value):
        _coordinates(item, depth - 1, kind, f"{where}[{index}]")
    if kind == "line" and depth == 1 and len(value) < 2:
        raise bad_request(f"{where}: a LineString needs at least 2 positions")
    if kind == "ring" and depth == 1:
        if len(value) < 4:
            raise bad_request(f"{where}: a linear ring needs at least 4 positions")
        if value[0] != value[-1]:
            raise bad_request(
                f"{where}: a linear ring must be closed (first and last positions equal)"
            )


def validate_geometry(geometry: Any, what: str) -> dict[str, Any]:
    """``geometry`` if it is a valid GeoJSON geometry (the six types, WGS84 lon/lat)."""
    if not isinstance(geometry, dict):
        raise bad_request(f"{what}: a GeoJSON geometry must be an object")
    kind = geometry.get("type")
    depth = _DEPTH.get(kind) if isinstance(kind, str) else None
    if depth is None:
        expected = ", ".join(_GEOMETRY_TYPES)
        raise bad_request(f"{what}: unsupported GeoJSON geometry type {kind!r} (one of {expected})")
    if "coordinates" not in geometry:
        raise bad_request(f"{what}: the {kind} has no coordinates")
    shape = "ring" if kind in ("Polygon", "MultiPolygon") else "line"
    if kind in ("Point", "MultiPoint"):
        shape = "point"
    _coordinates(geometry["coordinates"], depth, shape, f"{what}: {kind} coordinates")
    return geometry


def is_geometry(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in _DEPTH and "coordinates" in value


def looks_like_instance(item: Any) -> bool:
    """Whether a JSON value reads as an attribute instance in concise input (an object with
    a ``type`` or a value member), which makes a list of them a multi-attribute."""
    return isinstance(item, dict) and ("type" in item or any(m in item for m in MEMBER_TYPE))


def is_null(instance: Instance) -> bool:
    """Whether an instance is an NGSI-LD Null (a deletion marker)."""
    member = VALUE_MEMBER.get(instance.get("type", ""), "value")
    value = instance.get(member)
    if value == NGSI_NULL:
        return True
    if member == "languageMap" and isinstance(value, dict):
        return value.get("@none") == NGSI_NULL
    return isinstance(value, list) and value == [NGSI_NULL]


def dataset_key(instance: Instance) -> str:
    dataset: str = instance.get("datasetId", "")
    return dataset
