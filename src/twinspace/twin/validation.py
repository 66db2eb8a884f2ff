"""Smart Data Model validation of NGSI-LD entities (keyValues form, short attribute names).

Five self-contained JSON Schemas (draft 2020-12) live in ``twinspace/twin/schemas/``, written for
twinspace from the published FIWARE Smart Data Models; each schema's ``$comment`` records the
published version followed and what was simplified. Validators are compiled once and cached.

Formats are checked by this module (no optional jsonschema extras needed): ``date-time``
(RFC 3339 with a time zone), ``uri`` (an absolute URI: scheme, colon, no whitespace),
``date-time-or-interval`` (a date-time or ``start/end`` of two date-times), ``ipv4``, ``ipv6``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

__all__ = ["MODEL_TYPES", "model_for_type", "model_schema", "validate_entity"]

_SDM = "https://smartdatamodels.org/"
MODEL_TYPES: dict[str, str] = {
    "AirQualityObserved": _SDM + "dataModel.Environment/AirQualityObserved",
    "NoiseLevelObserved": _SDM + "dataModel.Environment/NoiseLevelObserved",
    "TrafficFlowObserved": _SDM + "dataModel.Transportation/TrafficFlowObserved",
    "WeatherObserved": _SDM + "dataModel.Weather/WeatherObserved",
    "Device": _SDM + "dataModel.Device/Device",
}
_BY_TYPE: dict[str, str] = {iri: model for model, iri in MODEL_TYPES.items()} | {
    model: model for model in MODEL_TYPES
}

_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+", re.ASCII)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE_TIME.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.fullmatch(value) is not None


def _is_interval(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = value.split("/")
    return len(parts) <= 2 and all(p and _is_date_time(p) for p in parts)


def _is_ip(version: int) -> Any:
    def check(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_date_time)
    checker.checks("uri")(_is_uri)
    checker.checks("date-time-or-interval")(_is_interval)
    checker.checks("ipv4")(_is_ip(4))
    checker.checks("ipv6")(_is_ip(6))
    return checker


def model_for_type(type_iri: str) -> str | None:
    """The model name for an expanded SDM type IRI (or its short name); None when unknown."""
    return _BY_TYPE.get(type_iri)


@cache
def model_schema(model: str) -> dict[str, Any]:
    """The JSON Schema of ``model`` (one of :data:`MODEL_TYPES`)."""
    if model not in MODEL_TYPES:
        raise ValueError(f"Unknown Smart Data Model {model!r}")
    text = resources.files("twinspace.twin").joinpath("schemas", f"{model}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


_ANNOTATIONS = frozenset({"description", "$comment", "title"})


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local ``#/$defs/x`` references by their (inlined) targets.

    Same meaning (the schemas have no recursive references and a ``$ref``'s siblings never
    overlap its target's keywords except annotations), but about a third faster to validate.
    """
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline(value, defs) for key, value in node.items() if key not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline(defs[ref.removeprefix("#/$defs/")], defs)
        clash = (target.keys() & out.keys()) - _ANNOTATIONS
        if clash:
            raise ValueError(f"$ref {ref} siblings overlap its target: {sorted(clash)}")
        out = {**target, **out}
    elif ref is not None:
        raise ValueError(f"Only local $defs references are supported: {ref!r}")
    return out


@cache
def _validator(model: str) -> Any:
    schema = model_schema(model)
    Draft202012Validator.check_schema(schema)
    flat = _inline(schema, schema.get("$defs", {}))
    return Draft202012Validator(flat, format_checker=_format_checker())


_FAST_FORMATS = {
    "date-time": _is_date_time,
    "uri": _is_uri,
    "date-time-or-interval": _is_interval,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
}


@cache
def _fast(model: str) -> Any:
    """The same schema compiled to Python code (fastjsonschema): ~20 times faster, first error
    only, so it answers "valid?" on the write path and ``jsonschema`` explains a refusal."""
    schema = model_schema(model)
    flat = _inline(schema, schema.get("$defs", {}))
    return fastjsonschema.compile(_draft7(flat), formats=_FAST_FORMATS)


def _draft7(node: Any) -> Any:
    """The draft-07 spelling of a 2020-12 schema: ``prefixItems`` → ``items`` (array form) and
    ``items`` next to it → ``additionalItems`` (the only 2020-12 keywords these schemas use)."""
    if isinstance(node, list):
        return [_draft7(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _draft7(value) for key, value in node.items()}
    if "$schema" in out:
        out["$schema"] = "http://json-schema.org/draft-07/schema#"
    if "prefixItems" in out:
        rest = out.pop("items", None)
        out["items"] = out.pop("prefixItems")
        if rest is not None:
            out["additionalItems"] = rest
    return out


def _path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(error: ValidationError) -> str:
    """``"<path>: <message>"``; for anyOf/oneOf, the error of the branch the value was meant for.

    That is the first branch whose ``type`` matched (no type error at the branch's root); when
    every branch failed on type, the original "not valid under any" error is clearer. Branches that
    only miss required members (TrafficFlowObserved's place) are summarised as "one of ...".
    """
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        if all(e.validator == "required" and not e.relative_path for e in error.context):
            names = ", ".join(repr(m) for e in error.context for m in _missing(e))
            return f"{_path(error.absolute_path)}: one of {names} is required"
        candidates = [
            errs
            for errs in branches.values()
            if not any(e.validator == "type" and not e.relative_path for e in errs)
        ]
        if not candidates:
            break
        best = best_match(candidates[0])
        if best is None:
            break
        error = best
    return f"{_path(error.absolute_path)}: {error.message}"


def _missing(error: ValidationError) -> list[str]:
    required = error.validator_value if isinstance(error.validator_value, list) else []
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [name for name in required if name not in instance]


def validate_entity(key_values: dict[str, Any], model: str) -> list[str]:
    """Violations of ``model`` by an entity in keyValues form: ``"<path>: <message>"``, sorted.

    An empty list means valid. Raises ``ValueError`` for an unknown model.
    """
    try:
        _fast(model)(key_values)
        return []
    except fastjsonschema.JsonSchemaException:
        pass  # invalid (or judged so): the full validator lists every violation, or none
    validator = _validator(model)
    violations: set[str] = set()
    for error in validator.iter_errors(key_values):
        violations.add(_describe(error))
    return sorted(violations)
