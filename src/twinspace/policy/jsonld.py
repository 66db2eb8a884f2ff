"""Full JSON-LD policies: expanded with pyld against bundled contexts only, then read back.

A document with an ``@context`` is expanded with a document loader that serves only the bundled
contexts (the DSP 2025-1 context, its ODRL profile, and the W3C ODRL context, which is served as
the bundled ODRL profile completed with the ODRL 2.2 terms it lacks); any other remote context is
a :class:`PolicyError` at ``@context``. Nothing is ever fetched.

So that no property can be silently dropped by expansion (a dropped ``refinement`` or
``constraint`` would widen a permission), a fallback ``@vocab`` is put *before* the document's own
contexts: a term no context defines expands under it and is read back as the bare term, which the
parser then accepts (an ODRL term) or refuses (an unknown property).

The expanded form is turned back into the compact shape :mod:`.parser` reads: ODRL IRIs become short
names, ``{"@value": v}`` becomes ``v``, single-valued arrays become their value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped,unused-ignore]

from twinspace.protocol.schemas import DSPACE_CONTEXT, ODRL_PROFILE_CONTEXT, context_document

from .errors import PolicyError
from .operands import LEFT_OPERANDS
from .vocabulary import ACTIONS, ODRL_NS, RDF_NS, TWINSPACE_NS, XSD_NS

W3C_ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
#: Where an undefined term expands to (read back as the bare term).
UNDEFINED_NS = "urn:twinspace:policy:undefined:"

_PLAIN = (ODRL_NS, TWINSPACE_NS, UNDEFINED_NS)

#: ODRL 2.2 terms the bundled DSP ODRL profile lacks, added for the W3C ODRL context.
_EXTRA_TERMS: dict[str, Any] = {
    "rdf": RDF_NS,
    "xsd": XSD_NS,
    "dct": "http://purl.org/dc/terms/",
    "twinspace": TWINSPACE_NS,
    "uid": "@id",
    "refinement": {"@id": "odrl:refinement", "@container": "@set"},
    "remedy": {"@id": "odrl:remedy", "@container": "@set"},
    "consequence": {"@id": "odrl:consequence", "@container": "@set"},
    "unit": {"@id": "odrl:unit", "@type": "@vocab"},
    "dataType": {"@id": "odrl:dataType", "@type": "@vocab"},
    "rightOperandReference": {"@id": "odrl:rightOperandReference", "@type": "@id"},
    "conflict": {"@id": "odrl:conflict", "@type": "@vocab"},
    "perm": "odrl:perm",
    "invalid": "odrl:invalid",
    "inheritFrom": {"@id": "odrl:inheritFrom", "@type": "@id"},
    "informedParty": {"@id": "odrl:informedParty", "@type": "@id"},
    "attributedParty": {"@id": "odrl:attributedParty", "@type": "@id"},
    "consentingParty": {"@id": "odrl:consentingParty", "@type": "@id"},
    "trackingParty": {"@id": "odrl:trackingParty", "@type": "@id"},
    "compensatedParty": {"@id": "odrl:compensatedParty", "@type": "@id"},
    "compensatingParty": {"@id": "odrl:compensatingParty", "@type": "@id"},
    "LogicalConstraint": "odrl:LogicalConstraint",
    "Request": "odrl:Request",
    "Ticket": "odrl:Ticket",
    "Privacy": "odrl:Privacy",
    "Party": "odrl:Party",
    "PartyCollection": "odrl:PartyCollection",
    "AssetCollection": "odrl:AssetCollection",
    "Constraint": "odrl:Constraint",
}


@cache
def _w3c_odrl_context() -> dict[str, Any]:
    document = context_document("odrl.jsonld")
    terms: dict[str, Any] = dict(document["@context"])
    for name, definition in _EXTRA_TERMS.items():
        terms.setdefault(name, definition)
    for action in ACTIONS.values():
        terms.setdefault(action.name, action.iri)
    for operand in LEFT_OPERANDS.values():
        terms.setdefault(operand.name, operand.iri)
    return {"@context": terms}


@cache
def bundled_contexts() -> Mapping[str, dict[str, Any]]:
    """Context URL -> the bundled context document served for it."""
    odrl = context_document("odrl.jsonld")
    return {
        DSPACE_CONTEXT: context_document("dspace.jsonld"),
        ODRL_PROFILE_CONTEXT: odrl,
        W3C_ODRL_CONTEXT: _w3c_odrl_context(),
        "https://www.w3.org/ns/odrl.jsonld": _w3c_odrl_context(),
    }


def _loader(refused: list[str]) -> Callable[..., dict[str, Any]]:
    contexts = bundled_contexts()

    def load(url: str, options: Any = None) -> dict[str, Any]:
        document = contexts.get(url)
        if document is None:
            refused.append(url)
            raise jsonld.JsonLdError(
                f"{url} is not bundled", "jsonld.LoadDocumentError", code="loading document failed"
            )
        return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(document)}

    return load


def from_jsonld(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The compact-shape reading of a JSON-LD policy document (with an ``@context``)."""
    context = doc.get("@context")
    parts = context if isinstance(context, list) else [context]
    guarded = {**doc, "@context": [{"@vocab": UNDEFINED_NS}, *parts]}
    refused: list[str] = []
    try:
        expanded = jsonld.expand(guarded, {"documentLoader": _loader(refused), "base": None})
    except jsonld.JsonLdError as exc:
        if refused:
            raise PolicyError(
                "@context",
                f"the remote context {refused[0]} is not bundled (only the DSP 2025-1 and ODRL "
                "contexts are; nothing is fetched)",
            ) from None
        raise PolicyError("@context", f"the document is not valid JSON-LD: {exc}") from None
    nodes = [n for n in expanded if isinstance(n, dict)]
    policies = [n for n in nodes if any(_is_policy_type(t) for t in n.get("@type", []))]
    chosen = policies or nodes
    if len(chosen) != 1:
        raise PolicyError(
            "$", f"expected one policy node in the JSON-LD document, found {len(chosen)}"
        )
    node = _node(chosen[0])
    if not isinstance(node, dict):
        raise PolicyError("$", "the JSON-LD document holds no policy object")
    return node


_POLICY_TYPES = frozenset(
    {"Policy", "Set", "Offer", "Agreement", "Request", "Ticket", "Assertion", "Privacy"}
)


def _is_policy_type(iri: Any) -> bool:
    return isinstance(iri, str) and bare(iri) in _POLICY_TYPES


def bare(iri: str) -> str:
    """ODRL / twinspace / undefined-term IRIs -> short name; ``rdf:value`` kept prefixed."""
    for ns in _PLAIN:
        if iri.startswith(ns) and len(iri) > len(ns):
            return iri[len(ns) :]
    if iri == RDF_NS + "value":
        return "rdf:value"
    return iri


def _values(items: list[Any]) -> Any:
    converted = [_node(item) for item in items]
    return converted[0] if len(converted) == 1 else converted


def _node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if "@value" in node:
        kind = node.get("@type")
        if isinstance(kind, str):
            return {"@value": node["@value"], "@type": bare(kind)}
        return node["@value"]
    if "@list" in node:
        return [_node(item) for item in node["@list"]]
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "@id":
            out["@id"] = bare(value)
        elif key == "@type":
            types = [bare(t) for t in value]
            out["@type"] = types[0] if len(types) == 1 else types
        elif key.startswith("@"):
            continue
        else:
            out[bare(key)] = _values(value) if isinstance(value, list) else _node(value)
    return out
