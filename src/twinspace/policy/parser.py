"""ODRL 2.2 policies (compact DSP form or full JSON-LD) -> the typed model, failing closed.

Anything the engine would have to guess about is refused with a :class:`PolicyError` naming its
path: an unknown property, left operand, operator or action, a right operand of the wrong type,
``rightOperandReference``, policy inheritance. Properties in other vocabularies (a key with a
``:`` that is not ``odrl:``/``twinspace:``, e.g. ``dct:title``) are annotations and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from .errors import PolicyError, join
from .jsonld import from_jsonld
from .model import (
    AnyConstraint,
    ConflictStrategy,
    Constraint,
    Duty,
    LogicalConstraint,
    Policy,
    Rule,
)
from .operands import LEFT_OPERANDS, OPERATORS_FOR, OperandSpec, ValueType, operand_spec
from .operators import OPERATORS, SET_OPERATORS
from .values import DATATYPES, literal, parse_scalar, to_json
from .vocabulary import ACTIONS, action_name, short_name, xsd_name

POLICY_TYPES = frozenset(
    {"Policy", "Set", "Offer", "Agreement", "Request", "Ticket", "Assertion", "Privacy"}
)
LOGICAL = ("and", "or", "xone", "andSequence")
_PARTY_KEYS = (
    "informedParty",
    "attributedParty",
    "consentingParty",
    "trackingParty",
    "compensatedParty",
    "compensatingParty",
)
_POLICY_KEYS = frozenset(
    {"uid", "permission", "prohibition", "obligation", "assigner", "assignee", "target",
     "conflict", "profile"}
)  # fmt: skip
_RULE_KEYS = frozenset({"uid", "action", "constraint", "target", "assignee", "assigner"})
_DUTY_KEYS = _RULE_KEYS | {"consequence", *_PARTY_KEYS}
_CONSTRAINT_KEYS = frozenset(
    {"uid", "leftOperand", "operator", "rightOperand", "unit", "dataType", "status"}
)
_ACTION_KEYS = frozenset({"uid", "action", "rdf:value", "value", "refinement"})
#: Left operands whose lt/lteq/eq constraints are deadlines on a post duty (delete-after).
DEADLINE_OPERANDS = frozenset({"dateTime", "elapsedTime"})
DEADLINE_OPERATORS = frozenset({"lt", "lteq", "eq"})


def parse_policy(
    doc: Mapping[str, Any], *, operands: Mapping[str, OperandSpec] = LEFT_OPERANDS
) -> Policy:
    """Parse an ODRL policy; PolicyError on anything bad or unsupported.

    ``operands`` is the left-operand registry (an ODRL profile may extend :data:`LEFT_OPERANDS`).
    """
    if not isinstance(doc, Mapping):
        raise PolicyError("$", "a policy must be a JSON object")
    plain = from_jsonld(doc) if "@context" in doc else doc
    return _Parser(operands).policy(plain)


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _keys(obj: Mapping[str, Any], allowed: frozenset[str], path: str) -> dict[str, Any]:
    """``obj`` with keys normalised (``odrl:x`` -> ``x``); unknown ODRL-ish keys refused."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("@id", "@type"):
            out[key] = value
            continue
        if key.startswith("@"):
            continue
        name = short_name(key)
        if name in allowed:
            out[name] = value
        elif key in allowed:
            out[key] = value
        elif ":" in name or "/" in name:
            continue  # an annotation in another vocabulary
        else:
            raise PolicyError(join(path, key), f"unknown or unsupported property {key!r}")
    if "uid" in out and "@id" not in out:
        out["@id"] = out["uid"]
    return out


def _iri(value: Any, path: str) -> str | None:
    """A party/asset/IRI value: a string, ``{"@id": ...}`` or ``{"uid": ...}``."""
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if "refinement" in value or "odrl:refinement" in value:
            raise PolicyError(
                path, "party and asset collections with refinements are not supported"
            )
        ident = value.get("@id", value.get("uid"))
        if isinstance(ident, str):
            return ident
    raise PolicyError(path, "expected an IRI (a string or {'@id': ...})")


def _term(value: Any, path: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping) and isinstance(value.get("@id"), str):
        value = value["@id"]
    if not isinstance(value, str):
        raise PolicyError(path, "expected a term (a string or {'@id': ...})")
    return value


class _Parser:
    def __init__(self, operands: Mapping[str, OperandSpec]) -> None:
        self.operands = operands

    def policy(self, doc: Mapping[str, Any]) -> Policy:
        if "inheritFrom" in doc or "odrl:inheritFrom" in doc:
            raise PolicyError("inheritFrom", "policy inheritance is not supported")
        obj = _keys(doc, _POLICY_KEYS, "")
        kind = short_name(_term(obj.get("@type", "Set"), "@type"))
        if kind not in POLICY_TYPES:
            raise PolicyError("@type", f"{kind!r} is not an ODRL policy type")
        ident = obj.get("@id")
        conflict = short_name(_term(obj.get("conflict", "invalid"), "conflict"))
        if conflict not in ("perm", "prohibit", "invalid"):
            raise PolicyError("conflict", f"unknown conflict strategy {conflict!r}")
        permissions = tuple(
            self.rule(item, f"permission[{i}]", "permission")
            for i, item in enumerate(_items(obj.get("permission")))
        )
        prohibitions = tuple(
            self.rule(item, f"prohibition[{i}]", "prohibition")
            for i, item in enumerate(_items(obj.get("prohibition")))
        )
        obligations = tuple(
            self.duty(item, f"obligation[{i}]", "obligation")
            for i, item in enumerate(_items(obj.get("obligation")))
        )
        return Policy(
            id=ident if isinstance(ident, str) else None,
            type=kind,
            permissions=permissions,
            prohibitions=prohibitions,
            obligations=obligations,
            conflict=cast(ConflictStrategy, conflict),
            target=_iri(obj.get("target"), "target"),
            assigner=_iri(obj.get("assigner"), "assigner"),
            assignee=_iri(obj.get("assignee"), "assignee"),
            profile=tuple(_term(p, "profile") for p in _items(obj.get("profile"))),
        )

    def rule(self, raw: Any, path: str, kind: str) -> Rule:
        if not isinstance(raw, Mapping):
            raise PolicyError(path, "a rule must be a JSON object")
        extra = "duty" if kind == "permission" else "remedy"
        obj = _keys(raw, _RULE_KEYS | {extra}, path)
        action, refinements = self.action(obj.get("action"), join(path, "action"))
        duties = tuple(
            self.duty(item, join(path, f"{extra}[{i}]"), "duty" if extra == "duty" else "remedy")
            for i, item in enumerate(_items(obj.get(extra)))
        )
        ident = obj.get("@id")
        return Rule(
            path=path,
            kind=cast(Any, kind),
            action=action,
            refinements=refinements,
            constraints=self.constraints(obj.get("constraint"), join(path, "constraint")),
            duties=duties if extra == "duty" else (),
            remedies=duties if extra == "remedy" else (),
            target=_iri(obj.get("target"), join(path, "target")),
            assignee=_iri(obj.get("assignee"), join(path, "assignee")),
            assigner=_iri(obj.get("assigner"), join(path, "assigner")),
            id=ident if isinstance(ident, str) else None,
        )

    def action(self, raw: Any, path: str) -> tuple[str, tuple[AnyConstraint, ...]]:
        if raw is None:
            raise PolicyError(path, "a rule needs an action")
        items = _items(raw)
        if len(items) != 1:
            raise PolicyError(path, "a rule has exactly one action")
        item = items[0]
        refinements: tuple[AnyConstraint, ...] = ()
        if isinstance(item, Mapping) and set(item) - {"@id", "@type"}:
            obj = _keys(item, _ACTION_KEYS, path)
            name = obj.get("action", obj.get("rdf:value", obj.get("value", obj.get("@id"))))
            refinements = self.constraints(obj.get("refinement"), join(path, "refinement"))
            item = name
        term = _term(item, path)
        name = action_name(term)
        if name is None:
            raise PolicyError(path, f"unknown or unsupported action {term!r}")
        return name, refinements

    def duty(self, raw: Any, path: str, kind: str) -> Duty:
        if not isinstance(raw, Mapping):
            raise PolicyError(path, "a duty must be a JSON object")
        obj = _keys(raw, _DUTY_KEYS, path)
        action, refinements = self.action(obj.get("action"), join(path, "action"))
        constraints = self.constraints(obj.get("constraint"), join(path, "constraint"))
        consequences = tuple(
            self.duty(item, join(path, f"consequence[{i}]"), "consequence")
            for i, item in enumerate(_items(obj.get("consequence")))
        )
        parameters: dict[str, Any] = {}
        for key in ("target", "assignee", "assigner", *_PARTY_KEYS):
            if key in obj:
                parameters[key] = _iri(obj[key], join(path, key))
        if action == "nextPolicy" and "target" in parameters:
            parameters["policy"] = parameters["target"]
        parameters.update(_refinement_parameters(refinements))
        if ACTIONS[action].duty == "post":
            parameters.update(_deadlines(constraints))
        ident = obj.get("@id")
        return Duty(
            action=action,
            constraints=constraints,
            parameters=parameters,
            refinements=refinements,
            consequences=consequences,
            path=path,
            id=ident if isinstance(ident, str) else None,
            kind=cast(Any, kind),
        )

    def constraints(self, raw: Any, path: str) -> tuple[AnyConstraint, ...]:
        return tuple(self.constraint(item, f"{path}[{i}]") for i, item in enumerate(_items(raw)))

    def constraint(self, raw: Any, path: str) -> AnyConstraint:
        if not isinstance(raw, Mapping):
            raise PolicyError(path, "a constraint must be a JSON object")
        logical = [key for key in raw if short_name(key) in LOGICAL]
        if logical:
            return self.logical(raw, logical, path)
        if "rightOperandReference" in raw or "odrl:rightOperandReference" in raw:
            raise PolicyError(
                join(path, "rightOperandReference"), "rightOperandReference is not supported"
            )
        obj = _keys(raw, _CONSTRAINT_KEYS, path)
        if set(obj) <= {"@id", "@type", "uid"}:
            raise PolicyError(path, "constraint references (by @id) are not supported")
        for key in ("leftOperand", "operator", "rightOperand"):
            if key not in obj:
                raise PolicyError(join(path, key), f"a constraint needs {key}")
        left = _term(obj["leftOperand"], join(path, "leftOperand"))
        spec = operand_spec(left, self.operands)
        if spec is None:
            raise PolicyError(join(path, "leftOperand"), f"unknown left operand {left!r}")
        operator = short_name(_term(obj["operator"], join(path, "operator")))
        if operator not in OPERATORS:
            raise PolicyError(join(path, "operator"), f"unknown operator {operator!r}")
        if operator not in OPERATORS_FOR[spec.value_type]:
            raise PolicyError(
                join(path, "operator"),
                f"{operator} is not meaningful for {spec.name} (a {spec.value_type})",
            )
        data_type = None
        if "dataType" in obj:
            data_type = xsd_name(_term(obj["dataType"], join(path, "dataType")))
            if data_type not in DATATYPES[spec.value_type]:
                raise PolicyError(
                    join(path, "dataType"),
                    f"{data_type} does not fit {spec.name} ({spec.value_type})",
                )
        unit = None
        if "unit" in obj:
            if spec.value_type != "number":
                raise PolicyError(join(path, "unit"), f"a unit is not meaningful for {spec.name}")
            unit = _term(obj["unit"], join(path, "unit"))
        right = _right(spec.value_type, operator, obj["rightOperand"], join(path, "rightOperand"))
        ident = obj.get("@id")
        return Constraint(
            path=path,
            left_operand=spec.name,
            operator=operator,
            right_operand=right,
            value_type=spec.value_type,
            moments=spec.moments,
            right_raw=to_json(right),
            unit=unit,
            data_type=data_type,
            id=ident if isinstance(ident, str) else None,
        )

    def logical(self, raw: Mapping[str, Any], keys: list[str], path: str) -> LogicalConstraint:
        if len(keys) != 1:
            raise PolicyError(
                path, "a logical constraint has exactly one of and/or/xone/andSequence"
            )
        key = keys[0]
        operator = short_name(key)
        for other in raw:
            if other not in (key, "@id", "@type", "uid") and not other.startswith("@"):
                raise PolicyError(
                    join(path, other), f"unexpected {other!r} in a logical constraint"
                )
        members = raw[key]
        if isinstance(members, Mapping) and "@list" in members:
            members = members["@list"]
        items = _items(members)
        if len(items) < 2 and operator != "and":
            raise PolicyError(join(path, operator), f"{operator} needs at least two constraints")
        inner = tuple(
            self.constraint(item, join(path, f"{operator}[{i}]")) for i, item in enumerate(items)
        )
        if not inner:
            raise PolicyError(join(path, operator), f"{operator} needs constraints")
        ident = raw.get("@id", raw.get("uid"))
        return LogicalConstraint(
            path=path,
            operator=cast(Any, operator),
            constraints=inner,
            id=ident if isinstance(ident, str) else None,
        )


def _right(value_type: ValueType, operator: str, raw: Any, path: str) -> Any:
    """The typed right operand: one value, or a frozenset/tuple for set-valued operators."""
    if isinstance(raw, Mapping) and "@list" in raw:
        raw = raw["@list"]
    if value_type == "geometry":
        return _geometry(operator, raw, path)
    wants_set = (
        operator in SET_OPERATORS
        or value_type == "set"
        or (value_type == "string" and operator in ("isPartOf", "hasPart"))
        or (value_type == "party" and operator == "isPartOf")
    )
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise PolicyError(path, "the right operand is empty")
    if not wants_set:
        if len(values) != 1:
            raise PolicyError(path, f"{operator} compares with a single value, not a list")
        return parse_scalar(value_type, values[0], path)
    scalar_type: ValueType = "string" if value_type == "set" else value_type
    return frozenset(
        parse_scalar(scalar_type, item, f"{path}[{i}]") for i, item in enumerate(values)
    )


def _geometry(operator: str, raw: Any, path: str) -> Any:
    value, _ = literal(raw)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise PolicyError(path, "spatial needs a GeoJSON geometry, not a name") from None
    if operator in ("isAnyOf", "isNoneOf"):
        if not isinstance(value, list) or not value:
            raise PolicyError(path, f"{operator} needs a list of GeoJSON geometries")
        return tuple(parse_scalar("geometry", item, f"{path}[{i}]") for i, item in enumerate(value))
    return parse_scalar("geometry", value, path)


def _refinement_parameters(refinements: tuple[AnyConstraint, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in refinements:
        if isinstance(item, Constraint) and item.operator == "eq":
            params[item.left_operand] = item.right_operand
            if item.unit is not None:
                params["unit"] = item.unit
    return params


def is_deadline(item: AnyConstraint) -> bool:
    """A dateTime/elapsedTime lt/lteq/eq constraint: a deadline on a post duty, not a condition."""
    return (
        isinstance(item, Constraint)
        and item.left_operand in DEADLINE_OPERANDS
        and item.operator in DEADLINE_OPERATORS
    )


def _deadlines(constraints: tuple[AnyConstraint, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in constraints:
        if not is_deadline(item):
            continue
        assert isinstance(item, Constraint)
        value = item.right_operand
        if isinstance(value, timedelta):
            params["within"] = min(value, params.get("within", value))
        elif isinstance(value, datetime):
            params["by"] = min(value, params.get("by", value))
    return params
