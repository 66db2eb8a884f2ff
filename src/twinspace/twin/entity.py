"""NGSI-LD entities in their canonical stored form, parsed and validated (CIM 009 §4.5, §5.2).

Every name is an expanded IRI; every attribute is a list of instances (the default one,
without ``datasetId``, first); sub-attributes (properties of properties) sit under
``subAttrs`` as single instances. Parsing accepts the normalized and the concise input
representations:

* a bare value (or ``{"value": ...}`` without ``type``) is a Property, ``{"object": ...}`` a
  Relationship, ``{"languageMap": ...}`` a LanguageProperty, ``{"valueList": ...}`` a
  ListProperty, ``{"objectList": ...}`` a ListRelationship, ``{"vocab": ...}`` a
  VocabProperty, ``{"json": ...}`` a JsonProperty;
* a GeoJSON geometry as the value of ``location``, ``observationSpace``, ``operationSpace`` or
  a term the @context declares with a GeoJSON ``@type`` is a GeoProperty;
* a list whose members are all attribute instances (objects with an attribute ``type`` or a
  value member) is a multi-attribute; any other list is a Property's value.

``urn:ngsi-ld:null`` (or JSON ``null``) marks deletions, allowed only where ``allow_null`` is
set (merge and partial update); elsewhere it is BadRequestData, as §5.2.1 requires.

The operations (replace, merge, append, update, partial update, delete) are pure: they return
a new entity, never mutate their input, keep ``createdAt`` of kept instances and stamp
``modifiedAt`` on what they touch and on the entity.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.operations import (
    append_attrs,
    changed_instances,
    delete_attr,
    merge_entity,
    replace_entity,
    update_attrs,
)
from twinspace.twin.operations import patch_attr as _patch_attr
from twinspace.twin.representation import feature_collection, render_entity, render_geojson
from twinspace.twin.values import (
    ATTRIBUTE_TYPES,
    MEMBER_TYPE,
    METADATA_MEMBERS,
    NGSI_NULL,
    TYPE_ALIASES,
    VALUE_MEMBER,
    Entity,
    Instance,
    bad_request,
    dataset_key,
    is_geometry,
    is_null,
    is_uri,
    looks_like_instance,
    validate_attribute_name,
    validate_datetime,
    validate_geometry,
    validate_uri,
)

__all__ = [
    "NGSI_NULL",
    "Entity",
    "Instance",
    "append_attrs",
    "changed_instances",
    "delete_attr",
    "feature_collection",
    "is_null",
    "is_uri",
    "merge_entity",
    "parse_attributes",
    "parse_entity",
    "parse_fragment",
    "parse_instance",
    "parse_scope",
    "parse_types",
    "patch_attr",
    "render_entity",
    "render_geojson",
    "replace_entity",
    "update_attrs",
    "validate_geometry",
]

_IGNORED = frozenset(
    {"createdAt", "modifiedAt", "deletedAt", "instanceId", "lang", "subAttrs", "@context"}
) | {"previousValue", "previousObject", "previousLanguageMap", "previousValueList"}
_CORE_MEMBERS = frozenset(MEMBER_TYPE) | METADATA_MEMBERS | _IGNORED | {"type"}
_ENTITY_KEYS = frozenset(
    {"id", "@id", "type", "@type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"}
)
_MAX_NESTING = 8
_PLAIN_PROPERTY = frozenset({"type", "value", "observedAt", "unitCode"})
_SCALARS = frozenset({int, float, str, bool})
_SCOPE = re.compile(r"^/[^/#+\s]+(?:/[^/#+\s]+)*$")
_LANG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def _infer_type(raw: Any, geo: bool) -> str:
    declared = raw.get("type")
    if isinstance(declared, str):
        declared = TYPE_ALIASES.get(declared, declared)
        if declared in ATTRIBUTE_TYPES:
            return declared
        if any(member in raw for member in MEMBER_TYPE):
            raise bad_request(f"unknown attribute type {declared!r}")
    for member, kind in MEMBER_TYPE.items():
        if member in raw:
            if kind == "Property" and geo and is_geometry(raw["value"]):
                return "GeoProperty"
            return kind
    return ""


def parse_instance(
    raw: Any,
    terms: TermMap,
    now: str,
    *,
    name: str,
    geo: bool = False,
    allow_null: bool = False,
    level: int = 0,
) -> Instance:
    """One attribute instance (normalized or concise input) in canonical form; ``name`` is
    the attribute's name as given, for error details; ``geo`` that it is GeoProperty-like."""
    if (
        raw.__class__ is dict
        and not geo
        and not allow_null  # where null deletes, observedAt may be urn:ngsi-ld:null
        and raw.get("type") == "Property"
        and raw.keys() <= _PLAIN_PROPERTY
        and raw.get("value").__class__ in _SCALARS
        and raw["value"] != NGSI_NULL
    ):
        return _plain_property(raw, now, name, level)
    what = f"Attribute {name!r}"
    if raw is None or raw == NGSI_NULL:
        if allow_null:
            return {"type": "Property", "value": NGSI_NULL}
        raise bad_request(f"{what}: null values are not allowed here")
    kind = _infer_type(raw, geo) if isinstance(raw, dict) else ""
    if not kind:
        if geo and is_geometry(raw):
            bare: Instance = {"type": "GeoProperty", "value": validate_geometry(raw, what)}
        else:
            bare = {"type": "Property", "value": raw}
        if level == 0:
            bare["createdAt"] = now
            bare["modifiedAt"] = now
        return bare
    member = VALUE_MEMBER[kind]
    if member not in raw:
        raise bad_request(f"{what}: a {kind} needs a {member!r} member")
    value = raw[member]
    out: Instance = {"type": kind}
    if value is None:
        raise bad_request(f"{what}: {member} must not be null")
    null = value == NGSI_NULL or (
        member == "languageMap" and isinstance(value, dict) and value.get("@none") == NGSI_NULL
    )
    if null:
        if not allow_null:
            raise bad_request(f"{what}: urn:ngsi-ld:null is not allowed here")
        out[member] = value
    else:
        out[member] = _check_value(kind, value, terms, what)
    subs: dict[str, Instance] | None = None
    for key, item in raw.items():
        if key in _CORE_MEMBERS:
            if key in METADATA_MEMBERS:
                _metadata(out, key, item, kind, terms, what, allow_null)
            elif key in MEMBER_TYPE and key != member:
                raise bad_request(f"{what}: a {kind} cannot have a {key!r} member")
            continue
        if level >= _MAX_NESTING:
            raise bad_request(f"{what}: sub-attributes nested deeper than {_MAX_NESTING} levels")
        validate_attribute_name(key, f"Sub-attribute name of {name!r}")
        iri = terms.expand(key)
        if subs is None:
            subs = {}
        elif iri in subs:
            raise bad_request(f"{what}: sub-attribute {key!r} given twice")
        subs[iri] = parse_instance(
            item,
            terms,
            now,
            name=f"{name}.{key}",
            geo=iri in terms.geo_properties,
            allow_null=allow_null,
            level=level + 1,
        )
    if level == 0:
        out["createdAt"] = now
        out["modifiedAt"] = now
    if subs:
        out["subAttrs"] = subs
    return out


def _plain_property(raw: dict[str, Any], now: str, name: str, level: int) -> Instance:
    """The most common instance, parsed without the general machinery: a Property with a
    scalar value and nothing but observedAt and unitCode beside it (same result)."""
    out: Instance = {"type": "Property", "value": raw["value"]}
    for key, item in raw.items():
        if key == "observedAt":
            out[key] = validate_datetime(item, f"Attribute {name!r}: observedAt")
        elif key == "unitCode":
            if item.__class__ is not str or not item:
                raise bad_request(f"Attribute {name!r}: unitCode must be a non-empty string")
            out[key] = item
    if level == 0:
        out["createdAt"] = now
        out["modifiedAt"] = now
    return out


def _check_value(kind: str, value: Any, terms: TermMap, what: str) -> Any:
    if kind == "Property" or kind == "JsonProperty":
        return value
    if kind == "GeoProperty":
        return validate_geometry(value, what)
    if kind == "Relationship":
        if isinstance(value, list):
            if not value:
                raise bad_request(f"{what}: object must not be an empty array")
            return [validate_uri(item, f"{what}: object") for item in value]
        return validate_uri(value, f"{what}: object")
    if kind == "ListProperty":
        if not isinstance(value, list):
            raise bad_request(f"{what}: valueList must be an array")
        return value
    if kind == "ListRelationship":
        if not isinstance(value, list):
            raise bad_request(f"{what}: objectList must be an array")
        return [
            validate_uri(
                item.get("object") if isinstance(item, dict) else item, f"{what}: objectList"
            )
            for item in value
        ]
    if kind == "VocabProperty":
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return [terms.expand_type(item) for item in value]
        if isinstance(value, str) and value:
            return terms.expand_type(value)
        raise bad_request(f"{what}: vocab must be a string or an array of strings")
    # LanguageProperty
    if not isinstance(value, dict) or not value:
        raise bad_request(f"{what}: languageMap must be a non-empty object")
    for tag, text in value.items():
        if tag != "@none" and not _LANG.match(tag):
            raise bad_request(f"{what}: {tag!r} is not a language tag")
        strings = text if isinstance(text, list) else [text]
        if not all(isinstance(item, str) for item in strings):
            raise bad_request(f"{what}: languageMap values must be strings")
    return value


def _metadata(
    out: Instance, key: str, item: Any, kind: str, terms: TermMap, what: str, allow_null: bool
) -> None:
    if allow_null and item == NGSI_NULL and key != "datasetId":
        out[key] = NGSI_NULL
    elif key == "observedAt":
        out[key] = validate_datetime(item, f"{what}: observedAt")
    elif key == "unitCode":
        if not isinstance(item, str) or not item:
            raise bad_request(f"{what}: unitCode must be a non-empty string")
        out[key] = item
    elif key == "datasetId":
        out[key] = validate_uri(item, f"{what}: datasetId")
    elif key == "objectType":
        if kind not in ("Relationship", "ListRelationship"):
            raise bad_request(f"{what}: objectType only belongs to relationships")
        names = item if isinstance(item, list) else [item]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise bad_request(f"{what}: objectType must be a type name or an array of them")
        expanded = [terms.expand_type(validate_attribute_name(n, "objectType")) for n in names]
        out[key] = expanded if isinstance(item, list) else expanded[0]
    else:  # valueType
        if not isinstance(item, str) or not item:
            raise bad_request(f"{what}: valueType must be a non-empty string")
        out[key] = item


def _parse_attribute(
    name: Any, raw: Any, terms: TermMap, now: str, allow_null: bool
) -> tuple[str, list[Instance]]:
    validate_attribute_name(name)
    iri = terms.expand(name)
    if iri.startswith("@"):
        raise bad_request(f"Attribute name {name!r} is a JSON-LD keyword alias")
    geo = iri in terms.geo_properties
    if isinstance(raw, list) and raw and all(looks_like_instance(item) for item in raw):
        instances = [
            parse_instance(item, terms, now, name=name, geo=geo, allow_null=allow_null)
            for item in raw
        ]
        instances.sort(key=dataset_key)
        for before, after in itertools.pairwise(instances):
            if dataset_key(before) == dataset_key(after):
                which = after.get("datasetId") or "the default instance"
                raise bad_request(f"Attribute {name!r}: datasetId {which} appears more than once")
        return iri, instances
    return iri, [parse_instance(raw, terms, now, name=name, geo=geo, allow_null=allow_null)]


# ----------------------------------------------------------------------------- entities


def parse_types(value: Any, terms: TermMap) -> list[str]:
    """Entity type name(s) (a string or a non-empty array) expanded, sorted and unique."""
    names = value if isinstance(value, list) else [value]
    if value is None or not names:
        raise bad_request("An entity needs a type")
    expanded = {terms.expand_type(validate_attribute_name(name, "Entity type")) for name in names}
    return sorted(expanded)


def parse_scope(value: Any, *, allow_null: bool = False) -> list[str]:
    """Scope(s) (``/a/b`` paths, a string or an array); NGSI-LD Null gives ``[]`` if allowed."""
    if allow_null and value in (None, NGSI_NULL):
        return []
    scopes = value if isinstance(value, list) else [value]
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise bad_request(f"Invalid scope {scope!r}: expected /segment(/segment)*")
    return list(dict.fromkeys(scopes))


def _parse_members(
    payload: dict[str, Any], terms: TermMap, now: str, allow_null: bool
) -> dict[str, list[Instance]]:
    attrs: dict[str, list[Instance]] = {}
    for name, raw in payload.items():
        if name in _ENTITY_KEYS:
            continue
        iri, instances = _parse_attribute(name, raw, terms, now, allow_null)
        if iri in attrs:
            raise bad_request(f"Attribute {name!r} is given twice (as {iri})")
        attrs[iri] = instances
    return attrs


def parse_entity(payload: Any, terms: TermMap, now: str) -> Entity:
    """An NGSI-LD entity (normalized or concise input) in canonical form, stamped ``now``."""
    if not isinstance(payload, dict):
        raise bad_request("An entity must be a JSON object")
    entity_id = payload.get("id", payload.get("@id"))
    if entity_id is None:
        raise bad_request("An entity needs an id")
    entity: Entity = {
        "id": validate_uri(entity_id, "Entity id"),
        "type": parse_types(payload.get("type", payload.get("@type")), terms),
    }
    if "scope" in payload:
        entity["scope"] = parse_scope(payload["scope"])
    entity["createdAt"] = now
    entity["modifiedAt"] = now
    entity["attrs"] = _parse_members(payload, terms, now, False)
    return entity


def parse_attributes(
    payload: Any, terms: TermMap, now: str, *, allow_null: bool = False
) -> dict[str, list[Instance]]:
    """The attributes of an entity fragment (``id``, ``type``, ``scope``, ``@context`` and
    system attributes are skipped: read them with :func:`parse_types`/:func:`parse_scope`)."""
    if not isinstance(payload, dict):
        raise bad_request("An entity fragment must be a JSON object")
    return _parse_members(payload, terms, now, allow_null)


def parse_fragment(payload: Any, terms: TermMap, now: str) -> dict[str, Any]:
    """A merge fragment as a partial entity: ``{"attrs": ...}`` (NGSI-LD Null allowed), plus
    ``"type"`` and ``"scope"`` when given (scope ``[]`` when Null), for :func:`merge_entity`."""
    attrs = parse_attributes(payload, terms, now, allow_null=True)
    fragment: dict[str, Any] = {"attrs": attrs}
    declared = payload.get("type", payload.get("@type"))
    if declared is not None:
        fragment["type"] = parse_types(declared, terms)
    if "scope" in payload:
        fragment["scope"] = parse_scope(payload["scope"], allow_null=True)
    return fragment


def patch_attr(
    old: Entity,
    attr_iri: str,
    fragment: Any,
    now: str,
    dataset_id: str | None = None,
    terms: TermMap | None = None,
) -> Entity:
    """Partial Attribute update (§5.6.4) of one instance (``dataset_id``, else the fragment's
    datasetId, else the default one). ``fragment`` is an instance already parsed, or, with
    ``terms``, the request body (members absent from it are kept; Null deletes)."""
    if terms is not None:
        fragment = _parse_patch(old, attr_iri, fragment, terms, now, dataset_id)
    return _patch_attr(old, attr_iri, fragment, now, dataset_id)


def _parse_patch(
    old: Entity, attr_iri: str, raw: Any, terms: TermMap, now: str, dataset_id: str | None
) -> Instance:
    name = terms.compact(attr_iri)
    current = old["attrs"].get(attr_iri)
    if not isinstance(raw, dict):
        if raw is None or raw == NGSI_NULL:
            return {"type": "Property", "value": NGSI_NULL}
        raise bad_request(f"Attribute {name!r}: a partial update must be a JSON object")
    if current is None:
        raise NgsiError("ResourceNotFound", f"Entity {old['id']} has no attribute {attr_iri}")
    geo = attr_iri in terms.geo_properties or current[0]["type"] == "GeoProperty"
    if "type" not in raw and not any(member in raw for member in MEMBER_TYPE):
        # metadata or sub-attributes only: keep the current value
        wanted = dataset_id if dataset_id is not None else raw.get("datasetId")
        base = next((i for i in current if i.get("datasetId") == wanted), current[0])
        member = VALUE_MEMBER[base["type"]]
        probe = {"type": base["type"], member: _raw_value(base, member), **raw}
        return parse_instance(probe, terms, now, name=name, geo=geo, allow_null=True)
    return parse_instance(raw, terms, now, name=name, geo=geo, allow_null=True)


def _raw_value(instance: Instance, member: str) -> Any:
    value = instance[member]
    if member == "objectList":
        return list(value)
    return value
