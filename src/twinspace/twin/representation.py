"""Rendering canonical entities as NGSI-LD responses (CIM 009 §4.5): normalized, concise,
keyValues (alias "simplified") and GeoJSON (§4.5.16), with ``sysAttrs`` and the ``attrs`` and
``datasetId`` filters applied. Names, types, ``objectType`` and ``vocab`` values are compacted
with the request's term map.

Concise output drops ``type`` wherever concise input parsing (``twin.entity``) reads it back
the same: a Property with nothing but a value becomes the bare value, unless that value would
read as something else (an attribute-like object, a list of them, a geometry under a
GeoProperty name); members of a multi-attribute always stay objects. keyValues renders
LanguageProperty, ListProperty, ListRelationship, VocabProperty and JsonProperty as
``{"languageMap"|"valueList"|"objectList"|"vocab"|"json": ...}`` and a multi-attribute as
``{"dataset": {"@none" | datasetId: value}}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twinspace.twin.context import NGSI_LD, TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.values import (
    VALUE_MEMBER,
    Entity,
    Instance,
    is_geometry,
    looks_like_instance,
)

__all__ = [
    "FORMS",
    "LOCATION",
    "feature_collection",
    "key_values",
    "render_entity",
    "render_geojson",
]

FORMS = {
    "normalized": "normalized",
    "concise": "concise",
    "keyValues": "keyValues",
    "simplified": "keyValues",
}
LOCATION = NGSI_LD + "location"
_META = ("objectType", "valueType", "unitCode", "observedAt", "datasetId")
_WRAPPED = frozenset({"LanguageProperty", "ListProperty", "VocabProperty", "JsonProperty"})


def _form(form: str) -> str:
    kind = FORMS.get(form)
    if kind is None:
        raise NgsiError("BadRequestData", f"Unknown representation format {form!r}")
    return kind


def _compact_names(value: Any, terms: TermMap) -> Any:
    if isinstance(value, list):
        return [terms.compact_type(item) for item in value]
    return terms.compact_type(value)


def _value_of(instance: Instance, terms: TermMap) -> Any:
    kind = instance["type"]
    value = instance[VALUE_MEMBER[kind]]
    if kind == "VocabProperty":
        return _compact_names(value, terms)
    return value


def _bare_ok(value: Any, geo: bool) -> bool:
    if isinstance(value, dict):
        if geo and is_geometry(value):
            return False
        return not looks_like_instance(value)
    if isinstance(value, list):
        return not (value and all(looks_like_instance(item) for item in value))
    return True


def _instance(
    instance: Instance, terms: TermMap, concise: bool, sys_attrs: bool, geo: bool, bare: bool
) -> Any:
    kind = instance["type"]
    member = VALUE_MEMBER[kind]
    value = _value_of(instance, terms)
    subs = instance.get("subAttrs")
    plain = not subs and not (sys_attrs and "createdAt" in instance)
    plain = plain and not any(key in instance for key in _META)
    if concise and bare and plain:
        if kind == "Property" and _bare_ok(value, geo):
            return value
        if kind == "GeoProperty" and geo:
            return value
    out: dict[str, Any] = {}
    # concise input reads {"value": geometry} as a GeoProperty exactly for GeoProperty names
    if not concise or (kind == "GeoProperty") != (geo and is_geometry(value)):
        out["type"] = kind
    if kind == "ListRelationship" and not concise:
        out[member] = [{"object": item} for item in value]
    else:
        out[member] = value
    for key in _META:
        if key in instance:
            item = instance[key]
            out[key] = _compact_names(item, terms) if key == "objectType" else item
    if sys_attrs:
        for key in ("createdAt", "modifiedAt"):
            if key in instance:
                out[key] = instance[key]
    if subs:
        for iri, sub in subs.items():
            out[terms.compact(iri)] = _instance(
                sub, terms, concise, sys_attrs, iri in terms.geo_properties, True
            )
    return out


def _key_value(instance: Instance, terms: TermMap) -> Any:
    kind = instance["type"]
    value = _value_of(instance, terms)
    if kind in _WRAPPED or kind == "ListRelationship":
        return {VALUE_MEMBER[kind]: value}
    return value


def _attributes(
    entity: Entity,
    terms: TermMap,
    kind: str,
    sys_attrs: bool,
    attrs: set[str] | frozenset[str] | None,
    dataset_id: set[str] | frozenset[str] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for iri, instances in entity["attrs"].items():
        if attrs is not None and iri not in attrs:
            continue
        if dataset_id is not None:
            instances = [i for i in instances if i.get("datasetId", "@none") in dataset_id]
            if not instances:
                continue
        name = terms.compact(iri)
        if kind == "keyValues":
            if len(instances) == 1:
                out[name] = _key_value(instances[0], terms)
            else:
                dataset = {i.get("datasetId", "@none"): _key_value(i, terms) for i in instances}
                out[name] = {"dataset": dataset}
            continue
        concise = kind == "concise"
        geo = iri in terms.geo_properties
        single = len(instances) == 1
        rendered = [_instance(i, terms, concise, sys_attrs, geo, single) for i in instances]
        out[name] = rendered[0] if single else rendered
    return out


_BARE_KEY_VALUE = frozenset({"Property", "GeoProperty", "Relationship"})


def key_values(entity: Entity, terms: TermMap) -> dict[str, Any]:
    """The keyValues form of the whole ``entity``, as ``render_entity(form="keyValues")``
    gives it, in one pass (the Smart Data Model check runs it on every write)."""
    out: dict[str, Any] = {"id": entity["id"], "type": _types(entity, terms)}
    scope = entity.get("scope")
    if scope:
        out["scope"] = scope[0] if len(scope) == 1 else list(scope)
    compact = terms.compact
    for iri, instances in entity["attrs"].items():
        if len(instances) == 1:
            instance = instances[0]
            kind = instance["type"]
            if kind in _BARE_KEY_VALUE:
                out[compact(iri)] = instance[VALUE_MEMBER[kind]]
            else:
                out[compact(iri)] = _key_value(instance, terms)
        else:
            dataset = {i.get("datasetId", "@none"): _key_value(i, terms) for i in instances}
            out[compact(iri)] = {"dataset": dataset}
    return out


def _types(entity: Entity, terms: TermMap) -> Any:
    types = [terms.compact_type(t) for t in entity["type"]]
    return types[0] if len(types) == 1 else types


def render_entity(
    entity: Entity,
    terms: TermMap,
    *,
    form: str = "normalized",
    sys_attrs: bool = False,
    attrs: set[str] | frozenset[str] | None = None,
    dataset_id: set[str] | frozenset[str] | None = None,
    geometry_property: str | None = None,
) -> dict[str, Any]:
    """An entity in the requested form. ``attrs``: expanded attribute IRIs to keep (None:
    all); ``dataset_id``: datasetIds to keep (``@none`` = the default instance); a
    ``geometry_property`` (IRI or term) renders a GeoJSON Feature instead."""
    if geometry_property is not None:
        return render_geojson(
            entity,
            terms,
            form=form,
            sys_attrs=sys_attrs,
            attrs=attrs,
            dataset_id=dataset_id,
            geometry_property=geometry_property,
        )
    kind = _form(form)
    out: dict[str, Any] = {"id": entity["id"], "type": _types(entity, terms)}
    scope = entity.get("scope")
    if scope:
        out["scope"] = scope[0] if len(scope) == 1 else list(scope)
    if sys_attrs:
        for key in ("createdAt", "modifiedAt", "deletedAt"):
            if key in entity:
                out[key] = entity[key]
    out.update(
        _attributes(entity, terms, kind, sys_attrs and kind != "keyValues", attrs, dataset_id)
    )
    return out


def render_geojson(
    entity: Entity,
    terms: TermMap,
    *,
    form: str = "normalized",
    sys_attrs: bool = False,
    attrs: set[str] | frozenset[str] | None = None,
    geometry_property: str = LOCATION,
    dataset_id: set[str] | frozenset[str] | None = None,
) -> dict[str, Any]:
    """A GeoJSON Feature: ``geometry`` from ``geometry_property`` (an IRI or a term; its
    default instance, else its first; null when absent), ``properties`` holding ``type``
    and the attributes in the requested form."""
    kind = _form(form)
    iri = geometry_property
    if iri not in entity["attrs"]:
        iri = terms.expand(geometry_property)
    geometry = None
    for instance in entity["attrs"].get(iri) or []:
        if instance["type"] in ("GeoProperty", "Property") and is_geometry(instance.get("value")):
            geometry = instance["value"]
            break
    properties: dict[str, Any] = {"type": _types(entity, terms)}
    scope = entity.get("scope")
    if scope:
        properties["scope"] = scope[0] if len(scope) == 1 else list(scope)
    if sys_attrs:
        for key in ("createdAt", "modifiedAt"):
            if key in entity:
                properties[key] = entity[key]
    properties.update(
        _attributes(entity, terms, kind, sys_attrs and kind != "keyValues", attrs, dataset_id)
    )
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of rendered features."""
    return {"type": "FeatureCollection", "features": list(features)}
