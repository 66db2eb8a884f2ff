"""Parsing: the compact DSP form, the JSON-LD forms equal to it, and failing closed with paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from twinspace.policy import PolicyError, parse_policy
from twinspace.protocol.schemas import DSPACE_CONTEXT, ODRL_PROFILE_CONTEXT

from .helpers import c, offer

ODRL = "http://www.w3.org/ns/odrl/2/"
W3C_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"

COMPACT: dict[str, Any] = {
    "@id": "urn:policy:1",
    "@type": "Offer",
    "assigner": "did:web:provider",
    "target": "urn:asset:1",
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "purpose", "operator": "eq", "rightOperand": "traffic-planning"},
                {
                    "leftOperand": "dateTime",
                    "operator": "lt",
                    "rightOperand": {"@value": "2030-01-01T00:00:00Z", "@type": "xsd:dateTime"},
                },
            ],
            "duty": [
                {
                    "action": "delete",
                    "constraint": [
                        {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"}
                    ],
                }
            ],
        }
    ],
    "prohibition": [{"action": "distribute"}],
}

PREFIXED: dict[str, Any] = {
    "@context": {"odrl": ODRL, "xsd": "http://www.w3.org/2001/XMLSchema#"},
    "@id": "urn:policy:1",
    "@type": "odrl:Offer",
    "odrl:assigner": {"@id": "did:web:provider"},
    "odrl:target": {"@id": "urn:asset:1"},
    "odrl:permission": [
        {
            "odrl:action": {"@id": "odrl:use"},
            "odrl:constraint": [
                {"odrl:leftOperand": {"@id": "odrl:purpose"}, "odrl:operator": {"@id": "odrl:eq"},
                 "odrl:rightOperand": "traffic-planning"},
                {"odrl:leftOperand": {"@id": "odrl:dateTime"}, "odrl:operator": {"@id": "odrl:lt"},
                 "odrl:rightOperand": {"@value": "2030-01-01T00:00:00Z", "@type": "xsd:dateTime"}},
            ],
            "odrl:duty": {"odrl:action": {"@id": "odrl:delete"}, "odrl:constraint": {
                "odrl:leftOperand": {"@id": "odrl:elapsedTime"}, "odrl:operator": {"@id": "odrl:lteq"},
                "odrl:rightOperand": "P30D"}},
        }
    ],
    "odrl:prohibition": {"odrl:action": {"@id": "odrl:distribute"}},
}  # fmt: skip


def _expanded() -> dict[str, Any]:
    """PREFIXED written with full IRIs and an empty context."""

    def expand(value: Any) -> Any:
        if isinstance(value, list):
            return [expand(v) for v in value]
        if isinstance(value, dict):
            return {k.replace("odrl:", ODRL): expand(v) for k, v in value.items()}
        if isinstance(value, str) and value.startswith("odrl:"):
            return ODRL + value[5:]
        return value

    doc: dict[str, Any] = expand(copy.deepcopy(PREFIXED))
    doc["@context"] = {}
    doc["@type"] = ODRL + "Offer"
    return doc


def _with(context: Any) -> dict[str, Any]:
    return {"@context": context, **{k: v for k, v in COMPACT.items()}}


@pytest.mark.parametrize(
    "doc",
    [PREFIXED, _expanded(), _with(W3C_CONTEXT), _with([W3C_CONTEXT]), _with(ODRL_PROFILE_CONTEXT),
     _with(DSPACE_CONTEXT), _with([DSPACE_CONTEXT, {"ex": "https://example.org/"}])],
    ids=["prefixed", "expanded", "w3c-odrl", "w3c-odrl-list", "dsp-odrl-profile", "dsp", "dsp+inline"],
)  # fmt: skip
def test_json_ld_forms_equal_the_compact_form(doc: dict[str, Any]) -> None:
    assert parse_policy(doc) == parse_policy(COMPACT)


def test_compact_with_prefixed_terms_and_no_context() -> None:
    doc = {"@type": "odrl:Set", "odrl:permission": [{"odrl:action": "odrl:use"}]}
    assert parse_policy(doc).permissions[0].action == "use"


def test_w3c_context_reads_uid_rdf_value_and_refinements() -> None:
    doc = {"@context": W3C_CONTEXT, "@type": "Set", "uid": "urn:p", "permission": [{
        "action": [{"rdf:value": {"@id": "odrl:print"},
                    "refinement": [c("resolution", "lteq", 1200, unit="urn:dpi")]}]}]}  # fmt: skip
    policy = parse_policy(doc)
    assert policy.id == "urn:p"
    (refinement,) = policy.permissions[0].refinements
    assert (refinement.left_operand, refinement.unit) == ("resolution", "urn:dpi")


def test_remote_context_not_bundled_is_refused() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy({"@context": "https://example.org/context.jsonld", "@type": "Set"})
    assert err.value.path == "@context" and "not bundled" in err.value.message


BAD: list[tuple[dict[str, Any], str, str]] = [
    (
        offer(c("colour", "eq", "red")),
        "permission[0].constraint[0].leftOperand",
        "unknown left operand",
    ),
    (offer(c("purpose", "like", "x")), "permission[0].constraint[0].operator", "unknown operator"),
    (offer(c("purpose", "lt", "x")), "permission[0].constraint[0].operator", "not meaningful"),
    (offer(c("count", "isPartOf", [1])), "permission[0].constraint[0].operator", "not meaningful"),
    (offer(action="teleport"), "permission[0].action", "unknown or unsupported action"),
    (
        offer(c("dateTime", "lt", "soon")),
        "permission[0].constraint[0].rightOperand",
        "not a valid dateTime",
    ),
    (
        offer(c("dateTime", "lt", 5)),
        "permission[0].constraint[0].rightOperand",
        "not a valid dateTime",
    ),
    (
        offer(c("count", "lteq", "many")),
        "permission[0].constraint[0].rightOperand",
        "not a valid count",
    ),
    (
        offer(c("count", "lteq", -1)),
        "permission[0].constraint[0].rightOperand",
        "cannot be negative",
    ),
    (
        offer(c("count", "lteq", True)),
        "permission[0].constraint[0].rightOperand",
        "not a valid count",
    ),
    (
        offer(c("elapsedTime", "lt", "1 hour")),
        "permission[0].constraint[0].rightOperand",
        "xsd:duration",
    ),
    (
        offer(c("payAmount", "eq", "lots")),
        "permission[0].constraint[0].rightOperand",
        "not a valid number",
    ),
    (
        offer(c("securityLevel", "gteq", "top")),
        "permission[0].constraint[0].rightOperand",
        "base, trust",
    ),
    (
        offer(c("spatial", "isPartOf", "Berlin")),
        "permission[0].constraint[0].rightOperand",
        "GeoJSON",
    ),
    (
        offer(c("spatial", "isPartOf", {"type": "Polygon", "coordinates": []})),
        "permission[0].constraint[0].rightOperand",
        "GeoJSON",
    ),
    (
        offer(c("purpose", "eq", ["a", "b"])),
        "permission[0].constraint[0].rightOperand",
        "single value",
    ),
    (offer(c("purpose", "isAnyOf", [])), "permission[0].constraint[0].rightOperand", "empty"),
    (
        offer(c("purpose", "isAnyOf", ["a", 3])),
        "permission[0].constraint[0].rightOperand[1]",
        "string",
    ),
    (
        offer(c("dateTime", "lt", {"@value": "5", "@type": "xsd:integer"})),
        "permission[0].constraint[0].rightOperand",
        "integer literal does not fit",
    ),
    (
        offer(c("purpose", "eq", "x", dataType="xsd:integer")),
        "permission[0].constraint[0].dataType",
        "does not fit",
    ),
    (
        offer(c("purpose", "eq", "x", unit="EUR")),
        "permission[0].constraint[0].unit",
        "not meaningful",
    ),
    (
        offer({"leftOperand": "purpose", "operator": "eq", "rightOperandReference": "urn:x"}),
        "permission[0].constraint[0].rightOperandReference",
        "not supported",
    ),
    (
        offer({"leftOperand": "purpose", "operator": "eq"}),
        "permission[0].constraint[0].rightOperand",
        "needs",
    ),
    (offer({"@id": "urn:constraint:elsewhere"}), "permission[0].constraint[0]", "references"),
    (offer({"or": [c("purpose", "eq", "x")]}), "permission[0].constraint[0].or", "at least two"),
    (
        offer({"or": [c("purpose", "eq", "x"), c("colour", "eq", "red")]}),
        "permission[0].constraint[0].or[1].leftOperand",
        "unknown left operand",
    ),
    (
        offer({"and": [c("purpose", "eq", "x")], "or": [c("purpose", "eq", "x")]}),
        "permission[0].constraint[0]",
        "exactly one",
    ),
    (
        offer(c("purpose", "eq", "x"), constraints=[]),
        "constraints",
        "unknown or unsupported property",
    ),
    (
        {"@type": "Offer", "permission": [{"action": "use", "constraints": []}]},
        "permission[0].constraints",
        "unknown or unsupported property",
    ),
    (
        {"@type": "Offer", "permission": [{"action": ["use", "read"]}]},
        "permission[0].action",
        "exactly one",
    ),
    ({"@type": "Offer", "permission": [{}]}, "permission[0].action", "needs an action"),
    (
        {"@type": "Offer", "permission": [{"action": "use", "remedy": []}]},
        "permission[0].remedy",
        "unknown",
    ),
    (
        {"@type": "Offer", "prohibition": [{"action": "use", "duty": []}]},
        "prohibition[0].duty",
        "unknown",
    ),
    (
        {"@type": "Offer", "permission": [{"action": "use", "duty": [{"action": "fly"}]}]},
        "permission[0].duty[0].action",
        "unknown or unsupported action",
    ),
    ({"@type": "Contract"}, "@type", "not an ODRL policy type"),
    ({"@type": "Set", "conflict": "maybe"}, "conflict", "unknown conflict strategy"),
    ({"@type": "Set", "inheritFrom": "urn:parent"}, "inheritFrom", "not supported"),
    (
        {
            "@type": "Set",
            "permission": [
                {"action": "use", "assignee": {"@type": "PartyCollection", "refinement": []}}
            ],
        },
        "permission[0].assignee",
        "not supported",
    ),
]


@pytest.mark.parametrize(("doc", "path", "message"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_fails_closed_with_the_error_path(doc: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(doc)
    assert err.value.path == path
    assert message in err.value.message
    assert str(err.value) == f"{path}: {err.value.message}"


def test_annotations_in_other_vocabularies_are_ignored() -> None:
    doc = offer(**{"dct:title": "Traffic counts", "https://example.org/note": "x"})
    assert parse_policy(doc).type == "Offer"


def test_missing_type_is_a_set_and_conflict_defaults_to_invalid() -> None:
    policy = parse_policy({"permission": [{"action": "use"}]})
    assert (policy.type, policy.conflict) == ("Set", "invalid")
