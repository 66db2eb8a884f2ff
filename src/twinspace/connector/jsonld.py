"""EDC-style JSON-LD on the management API, without a JSON-LD processor.

Bodies may be plain JSON (``{"counterPartyAddress": ...}``) or EDC's JSON-LD form: keys written
``edc:counterPartyAddress``, ``https://w3id.org/edc/v0.0.1/ns/counterPartyAddress``,
``odrl:permission``, or with a prefix the body's own ``@context`` defines. ``compact`` turns all of
those into the plain key. ``@context`` is read for prefix definitions only; nothing is ever fetched.
Keys in other vocabularies (``dct:title``) are kept as written.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
ODRL_NS = "http://www.w3.org/ns/odrl/2/"
DSPACE_NS = "https://w3id.org/dspace/2025/1/"
#: Vocabularies whose terms are used by their local name here.
PLAIN_NAMESPACES = (EDC_NS, ODRL_NS, DSPACE_NS, "https://w3id.org/dspace/v0.8/")
KNOWN_PREFIXES = {"edc": EDC_NS, "odrl": ODRL_NS, "dspace": DSPACE_NS}

#: The ``@context`` every management API response carries (as EDC's do).
EDC_CONTEXT: Json = {"@vocab": EDC_NS}

RULE_KEYS = ("permission", "prohibition", "obligation")
LOGICAL = ("and", "or", "xone", "andSequence")


def with_context(doc: Json) -> Json:
    return {"@context": dict(EDC_CONTEXT), **doc}


def prefixes_of(context: Any) -> dict[str, str]:
    """Prefix -> namespace IRI from an inline ``@context`` (strings and lists of them are remote
    contexts: ignored, never fetched)."""
    found = dict(KNOWN_PREFIXES)
    for part in context if isinstance(context, list) else [context]:
        if not isinstance(part, dict):
            continue
        for term, value in part.items():
            iri = value.get("@id") if isinstance(value, dict) else value
            if isinstance(iri, str) and not term.startswith("@") and iri.endswith(("/", "#")):
                found[term] = iri
    return found


def compact_term(term: str, prefixes: dict[str, str]) -> str:
    """``edc:x``, ``<EDC_NS>x`` and ``odrl:x`` -> ``x``; other terms unchanged."""
    iri = term
    head, sep, rest = term.partition(":")
    if sep and head in prefixes and not rest.startswith("//"):
        iri = prefixes[head] + rest
    for ns in PLAIN_NAMESPACES:
        if iri.startswith(ns) and len(iri) > len(ns):
            return iri[len(ns) :]
    return term


def compact(value: Any, prefixes: dict[str, str] | None = None) -> Any:
    """``value`` with every key (and ``@type``) compacted; ``@context`` dropped at any depth;
    ``{"@value": x}`` read as ``x``."""
    if isinstance(value, list):
        return [compact(v, prefixes) for v in value]
    if not isinstance(value, dict):
        return value
    scope = dict(prefixes or KNOWN_PREFIXES)
    if "@context" in value:
        scope.update(prefixes_of(value["@context"]))
    if set(value) - {"@type", "@language"} == {"@value"}:
        return value["@value"]
    if set(value) - {"@type"} == {"@id"} and isinstance(value["@id"], str):
        # a node reference such as {"@id": "odrl:use"}: its IRI is compacted too
        value = {**value, "@id": compact_term(value["@id"], scope)}
    out: Json = {}
    for key, item in value.items():
        if key == "@context":
            continue
        name = key if key.startswith("@") else compact_term(key, scope)
        if key == "@type":
            out[name] = (
                [compact_term(t, scope) if isinstance(t, str) else t for t in item]
                if isinstance(item, list)
                else compact_term(item, scope)
                if isinstance(item, str)
                else item
            )
        else:
            out[name] = compact(item, scope)
    return out


def body_of(raw: Any) -> Json:
    """A request body as a compacted JSON object; ValueError if it is not an object."""
    if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], dict):
        raw = raw[0]  # an expanded JSON-LD document is a one-element array
    if not isinstance(raw, dict):
        raise ValueError("the request body must be a JSON object")
    compacted: Json = compact(raw)
    return compacted


# --- ODRL policies ---------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _iri_value(value: Any) -> Any:
    """An ODRL term given as ``{"@id": "odrl:use"}`` or ``"odrl:use"`` -> ``"use"``."""
    if isinstance(value, dict) and set(value) <= {"@id", "@type"} and "@id" in value:
        value = value["@id"]
    if isinstance(value, str):
        return compact_term(value, KNOWN_PREFIXES)
    return value


def _constraint(c: Any) -> Any:
    if not isinstance(c, dict):
        return c
    out = dict(c)
    for key in LOGICAL:
        if key in out:
            out[key] = [_constraint(x) for x in _listed(out[key])]
    for key in ("leftOperand", "operator"):
        if key in out:
            out[key] = _iri_value(out[key])
    if "rightOperand" in out:
        out["rightOperand"] = _as_text(out["rightOperand"])
    return out


def _as_text(value: Any) -> Any:
    """Numbers as strings: DSP 2025-1 allows only string, object or array right operands (the
    policy engine reads ``"3"`` as 3 for ``count``, a decimal for ``payAmount``...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    return value


def _rule(rule: Any) -> Any:
    if not isinstance(rule, dict):
        return rule
    out = dict(rule)
    if "action" in out:
        action = out["action"]
        if isinstance(action, dict) and "type" in action and "@id" not in action:
            action = action["type"]  # EDC's older {"type": "USE"} form
        action = _iri_value(action)
        out["action"] = action.lower() if isinstance(action, str) and action.isupper() else action
    if "constraint" in out:
        out["constraint"] = [_constraint(x) for x in _listed(out["constraint"])]
    for key in ("duty", "consequence", "remedy"):
        if key in out:
            out[key] = [_rule(x) for x in _listed(out[key])]
    return out


def normalize_policy(policy: Json) -> Json:
    """An ODRL policy in the compact DSP form: rule lists as lists (empty ones dropped), actions
    and operators as plain strings, ``target`` as a plain id."""
    out = dict(policy)
    for key in RULE_KEYS:
        if key in out:
            rules = [_rule(r) for r in _listed(out[key])]
            if rules:
                out[key] = rules
            else:
                del out[key]
    for key in ("target", "assigner", "assignee"):
        if key in out:
            out[key] = _iri_value(out[key]) if isinstance(out[key], dict) else out[key]
    if isinstance(out.get("@type"), str):
        out["@type"] = compact_term(out["@type"], KNOWN_PREFIXES)
    return out


def policy_problems(policy: Json) -> list[str]:
    """Why ``policy`` (normalized) is not an ODRL policy this connector can offer; empty if fine."""
    found = []
    kind = policy.get("@type", "Set")
    if kind not in ("Set", "Policy", "Offer", "Agreement"):
        found.append(f"policy @type {kind!r} is not an ODRL policy (Set, Offer or Agreement)")
    for key in RULE_KEYS:
        if key not in policy:
            continue
        for i, rule in enumerate(policy[key]):
            if not isinstance(rule, dict):
                found.append(f"policy.{key}[{i}] must be an object")
            elif not isinstance(rule.get("action"), str) or not rule["action"]:
                found.append(f"policy.{key}[{i}] needs an action (a string such as 'use')")
            elif not all(isinstance(c, dict) for c in rule.get("constraint", [])):
                found.append(f"policy.{key}[{i}].constraint must hold objects")
    return found
