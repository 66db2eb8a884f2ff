"""Typed values: right operands parsed at definition time, facts coerced at evaluation time.

Right operands are parsed once (a :class:`PolicyError` when they do not fit the left operand's
value type); facts are coerced on each evaluation (:class:`FactTypeError` when they do not fit,
which makes the constraint unknown, never satisfied).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import shapely  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry import Point, shape  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry.base import BaseGeometry  # type: ignore[import-untyped,unused-ignore]

from .errors import PolicyError
from .operands import SECURITY_LEVELS, ValueType
from .vocabulary import xsd_name

_DURATION = re.compile(
    r"^P(?!$)(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
#: Days per year and month in xsd:duration (calendar-free approximation, documented).
_UNIT_DAYS = (365.0, 30.0, 7.0, 1.0)

_DATETIME_TYPES = frozenset({"dateTime", "date", "dateTimeStamp"})
_DURATION_TYPES = frozenset({"duration", "dayTimeDuration", "yearMonthDuration"})
_INTEGER_TYPES = frozenset(
    {"integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger", "unsignedInt"}
)
_NUMBER_TYPES = _INTEGER_TYPES | {"decimal", "double", "float"}
_STRING_TYPES = frozenset({"string", "anyURI", "token", "normalizedString", "NMTOKEN"})
#: Literal datatypes each value type accepts in ``@type`` / ``dataType``.
DATATYPES: Mapping[ValueType, frozenset[str]] = {
    "dateTime": _DATETIME_TYPES,
    "duration": _DURATION_TYPES,
    "count": _INTEGER_TYPES,
    "number": _NUMBER_TYPES,
    "string": _STRING_TYPES,
    "party": _STRING_TYPES,
    "set": _STRING_TYPES,
    "level": _STRING_TYPES,
    "geometry": frozenset(
        {"geoJSONLiteral", "http://www.opengis.net/ont/geosparql#geoJSONLiteral"}
    ),
}


class FactTypeError(ValueError):
    """A fact does not have the value type its left operand needs."""


def parse_duration(text: str) -> timedelta:
    """An xsd:duration (``PT1H``, ``P30D``, ``P1Y2M``; years = 365 days, months = 30 days)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an xsd:duration such as PT1H or P30D")
    years, months, weeks, days, hours, minutes, seconds = (float(g or 0) for g in match.groups())
    total_days = sum(n * d for n, d in zip((years, months, weeks, days), _UNIT_DAYS, strict=True))
    return timedelta(days=total_days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """A timedelta as an xsd:duration (days and seconds)."""
    seconds = value.seconds + value.microseconds / 1e6
    text = f"P{value.days}D" if value.days else "P"
    if seconds or text == "P":
        text += f"T{seconds:g}S"
    return text


def parse_datetime(text: str) -> datetime:
    """An xsd:dateTime or xsd:date as an aware datetime (no zone means UTC; a date is midnight)."""
    parsed = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_geometry(value: Any) -> BaseGeometry:
    """A GeoJSON geometry object, or ``[lon, lat]``, as a shapely geometry."""
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, list | tuple) and len(value) == 2 and all(_is_number(v) for v in value):
        return Point(float(value[0]), float(value[1]))
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        try:
            geometry = shape(dict(value))
        except (
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            shapely.errors.GEOSException,
        ) as exc:
            raise ValueError(f"not a GeoJSON geometry: {exc}") from None
        if geometry.is_empty or not geometry.is_valid:
            raise ValueError("the GeoJSON geometry is empty or invalid")
        return geometry
    raise ValueError("expected a GeoJSON geometry or [lon, lat]")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def literal(raw: Any) -> tuple[Any, str | None]:
    """``{"@value": v, "@type": t}`` -> (v, short xsd type); ``{"@id": iri}`` -> (iri, "@id");
    anything else -> (raw, None)."""
    if isinstance(raw, Mapping):
        if "@value" in raw:
            kind = raw.get("@type")
            return raw["@value"], xsd_name(kind) if isinstance(kind, str) else None
        if set(raw) - {"@type"} == {"@id"} and isinstance(raw["@id"], str):
            return raw["@id"], "@id"
    return raw, None


def parse_scalar(value_type: ValueType, raw: Any, path: str) -> Any:
    """One right-operand value of ``value_type`` (PolicyError when it does not fit)."""
    value, kind = literal(raw)
    if kind not in (None, "@id") and kind not in DATATYPES[value_type]:
        raise PolicyError(path, f"a {kind} literal does not fit a {value_type} left operand")
    try:
        return _convert(value_type, value, kind)
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise PolicyError(path, f"{_show(value)} is not a valid {value_type}: {exc}") from None


def _convert(value_type: ValueType, value: Any, kind: str | None) -> Any:
    if value_type == "dateTime":
        if not isinstance(value, str):
            raise ValueError("expected an xsd:dateTime or xsd:date string")
        return parse_datetime(value)
    if value_type == "duration":
        if not isinstance(value, str):
            raise ValueError("expected an xsd:duration string such as P30D")
        return parse_duration(value)
    if value_type == "count":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("expected an integer")
        number = int(value)
        if number < 0:
            raise ValueError("a count cannot be negative")
        return number
    if value_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError("expected a number")
        result = Decimal(str(value))
        if not result.is_finite():
            raise ValueError("expected a finite number")
        return result
    if value_type == "level":
        if value not in SECURITY_LEVELS:
            raise ValueError(f"expected one of {', '.join(SECURITY_LEVELS)}")
        return value
    if value_type == "geometry":
        return parse_geometry(value)
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string or IRI")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def coerce_fact(value_type: ValueType, value: Any) -> Any:
    """A fact as the value type's Python value (FactTypeError when it does not fit)."""
    try:
        return _coerce(value_type, value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError) as exc:
        if isinstance(exc, FactTypeError):
            raise
        raise FactTypeError(f"{_show(value)} is not a {value_type}: {exc}") from None


def _coerce(value_type: ValueType, value: Any) -> Any:
    if value_type == "dateTime":
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            return parse_datetime(value)
        raise FactTypeError(f"{_show(value)} is not a datetime")
    if value_type == "duration":
        if isinstance(value, timedelta):
            return value
        if _is_number(value):
            return timedelta(seconds=float(value))
        if isinstance(value, str):
            return parse_duration(value)
        raise FactTypeError(f"{_show(value)} is not a duration")
    if value_type == "count":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise FactTypeError(f"{_show(value)} is not a non-negative integer")
    if value_type == "number":
        if isinstance(value, Mapping) and "value" in value:
            unit = value.get("unit")
            return (_coerce("number", value["value"]), unit if isinstance(unit, str) else None)
        if _is_number(value) or isinstance(value, str):
            result = Decimal(str(value))
            if result.is_finite():
                return result
        raise FactTypeError(f"{_show(value)} is not a number")
    if value_type == "set":
        if isinstance(value, str):
            return frozenset({value})
        if isinstance(value, list | tuple | set | frozenset) and all(
            isinstance(v, str) for v in value
        ):
            return frozenset(value)
        raise FactTypeError(f"{_show(value)} is not a set of strings")
    if value_type == "geometry":
        return parse_geometry(value)
    if value_type == "level":
        if value in SECURITY_LEVELS:
            return value
        raise FactTypeError(f"{_show(value)} is not one of {', '.join(SECURITY_LEVELS)}")
    if isinstance(value, str):
        return value
    raise FactTypeError(f"{_show(value)} is not a string")


def to_json(value: Any) -> Any:
    """A fact or operand value as JSON (datetimes ISO, durations xsd, geometries GeoJSON)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseGeometry):
        return shapely.geometry.mapping(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_json(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return repr(value)
