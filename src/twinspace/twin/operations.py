"""Pure operations on canonical entities (CIM 009 §5.6): replace, merge, append, update,
partial attribute update, attribute deletion, and the diff the temporal store needs.

Each returns a new entity and never mutates its input (unchanged instances are shared, not
copied); kept instances keep their ``createdAt``, touched ones and the entity get ``now`` as
``modifiedAt``. ``twinspace.twin.entity`` re-exports all of them.
"""

from __future__ import annotations

from typing import Any

from twinspace.twin.errors import NgsiError
from twinspace.twin.values import (
    METADATA_MEMBERS,
    NGSI_NULL,
    VALUE_MEMBER,
    Entity,
    Instance,
    bad_request,
    dataset_key,
    is_null,
    validate_geometry,
)

__all__ = [
    "append_attrs",
    "changed_instances",
    "delete_attr",
    "merge_entity",
    "patch_attr",
    "replace_entity",
    "update_attrs",
]

_SYSTEM = ("createdAt", "modifiedAt")


def _index_of(instances: list[Instance], dataset_id: str | None) -> int:
    wanted = dataset_id or ""
    for index, instance in enumerate(instances):
        if instance.get("datasetId", "") == wanted:
            return index
    return -1


def _stamped(instance: Instance, created: str, now: str) -> Instance:
    if instance.get("createdAt") == created and instance.get("modifiedAt") == now:
        return instance
    out = dict(instance)
    out["createdAt"] = created
    out["modifiedAt"] = now
    return out


def _touched(old: Entity, attrs: dict[str, list[Instance]], now: str) -> Entity:
    out = dict(old)
    out["attrs"] = attrs
    out["modifiedAt"] = now
    return out


def replace_entity(old: Entity, new: Entity, now: str) -> Entity:
    """``new`` (a parsed entity) replacing ``old`` whole: the entity's ``createdAt`` and that
    of instances present in both (same attribute and datasetId) are kept."""
    if new["id"] != old["id"]:
        raise bad_request(f"Entity id {new['id']} does not match {old['id']}")
    attrs: dict[str, list[Instance]] = {}
    for iri, instances in new["attrs"].items():
        before = old["attrs"].get(iri) or []
        kept = []
        for instance in instances:
            index = _index_of(before, instance.get("datasetId"))
            created = before[index]["createdAt"] if index >= 0 else now
            kept.append(_stamped(instance, created, now))
        attrs[iri] = kept
    out = dict(new)
    out["createdAt"] = old["createdAt"]
    out["modifiedAt"] = now
    out["attrs"] = attrs
    return out


def _merge_instance(old: Instance, fragment: Instance, now: str, name: str) -> Instance:
    out = dict(old)
    kind = fragment["type"]
    if kind != old["type"]:
        if old["type"] == "GeoProperty" and kind == "Property":
            validate_geometry(fragment["value"], f"Attribute {name!r}")
            kind = "GeoProperty"
        else:
            out.pop(VALUE_MEMBER[old["type"]], None)
    out["type"] = kind
    for key, value in fragment.items():
        if key in _SYSTEM or key == "type" or key == "subAttrs":
            continue
        if value == NGSI_NULL and key in METADATA_MEMBERS:
            out.pop(key, None)
        else:
            out[key] = value
    if "subAttrs" in fragment:
        subs = dict(old.get("subAttrs") or {})
        for iri, sub in fragment["subAttrs"].items():
            if is_null(sub):
                subs.pop(iri, None)
            else:
                subs[iri] = sub
        if subs:
            out["subAttrs"] = subs
        else:
            out.pop("subAttrs", None)
    out["modifiedAt"] = now
    return out


def _clean(instance: Instance, now: str) -> Instance:
    """A new instance from a merge fragment: no Null members, stamped ``now``."""
    out = {key: value for key, value in instance.items() if value != NGSI_NULL}
    if "subAttrs" in out:
        subs = {iri: sub for iri, sub in out["subAttrs"].items() if not is_null(sub)}
        if subs:
            out["subAttrs"] = subs
        else:
            del out["subAttrs"]
    out["createdAt"] = now
    out["modifiedAt"] = now
    return out


def merge_entity(
    old: Entity,
    fragment: dict[str, Any],
    now: str,
    *,
    types: list[str] | None = None,
    scope: list[str] | None = None,
) -> Entity:
    """Merge-patch (§5.6.17). ``fragment`` is either attributes (IRI -> instances, parsed with
    ``allow_null``) or a partial entity ``{"attrs": ..., "type"?: [...], "scope"?: [...]}`` as
    ``parse_fragment`` gives it. Attributes are added, or merged member by member into the
    existing instance (sub-attributes merged by name); NGSI-LD Null deletes. Types are added
    to the entity's; a scope replaces it (``[]`` removes it)."""
    if isinstance(fragment.get("attrs"), dict):
        types = fragment.get("type", types)
        scope = fragment.get("scope", scope)
        fragment = fragment["attrs"]
    attrs = dict(old["attrs"])
    for iri, instances in fragment.items():
        current = list(attrs.get(iri) or [])
        for instance in instances:
            index = _index_of(current, instance.get("datasetId"))
            if is_null(instance):
                if index >= 0:
                    del current[index]
            elif index >= 0:
                current[index] = _merge_instance(current[index], instance, now, iri)
            else:
                current.append(_clean(instance, now))
        if current:
            current.sort(key=dataset_key)
            attrs[iri] = current
        else:
            attrs.pop(iri, None)
    out = _touched(old, attrs, now)
    if types:
        out["type"] = sorted(set(old["type"]) | set(types))
    if scope is not None:
        if scope:
            out["scope"] = list(scope)
        else:
            out.pop("scope", None)
    return out


def append_attrs(
    old: Entity, attrs: dict[str, list[Instance]], now: str, *, no_overwrite: bool
) -> tuple[Entity, list[str], list[dict[str, str]]]:
    """Append Entity Attributes (§5.6.3): adds instances, overwriting existing ones unless
    ``no_overwrite``. Returns the entity, the updated attribute IRIs and NotUpdatedDetails."""
    result = dict(old["attrs"])
    updated: list[str] = []
    not_updated: list[dict[str, str]] = []
    for iri, instances in attrs.items():
        current = list(result.get(iri) or [])
        changed = False
        for instance in instances:
            index = _index_of(current, instance.get("datasetId"))
            if index >= 0 and no_overwrite:
                reason = "the attribute exists and noOverwrite is set"
                not_updated.append({"attributeName": iri, "reason": reason})
                continue
            if index >= 0:
                current[index] = _stamped(instance, current[index]["createdAt"], now)
            else:
                current.append(_stamped(instance, now, now))
            changed = True
        if changed:
            current.sort(key=dataset_key)
            result[iri] = current
            updated.append(iri)
    return _touched(old, result, now), updated, not_updated


def update_attrs(
    old: Entity, attrs: dict[str, list[Instance]], now: str
) -> tuple[Entity, list[str], list[dict[str, str]]]:
    """Update Entity Attributes (§5.6.2): replaces only instances that exist (same attribute
    and datasetId); the others are reported in NotUpdatedDetails."""
    result = dict(old["attrs"])
    updated: list[str] = []
    not_updated: list[dict[str, str]] = []
    for iri, instances in attrs.items():
        current = list(result.get(iri) or [])
        changed = False
        for instance in instances:
            dataset_id = instance.get("datasetId")
            index = _index_of(current, dataset_id)
            if index < 0:
                reason = "the attribute does not exist"
                if current and dataset_id:
                    reason = f"the attribute has no instance with datasetId {dataset_id}"
                elif current:
                    reason = "the attribute has no default instance"
                not_updated.append({"attributeName": iri, "reason": reason})
                continue
            current[index] = _stamped(instance, current[index]["createdAt"], now)
            changed = True
        if changed:
            result[iri] = current
            updated.append(iri)
    return _touched(old, result, now), updated, not_updated


def patch_attr(
    old: Entity, attr_iri: str, instance_fragment: Instance, now: str, dataset_id: str | None = None
) -> Entity:
    """Partial Attribute update (§5.6.4): merges the fragment into one existing instance
    (``dataset_id``, else the fragment's datasetId, else the default); Null deletes it."""
    current = old["attrs"].get(attr_iri)
    if current is None:
        raise NgsiError("ResourceNotFound", f"Entity {old['id']} has no attribute {attr_iri}")
    wanted = dataset_id if dataset_id is not None else instance_fragment.get("datasetId")
    index = _index_of(current, wanted)
    if index < 0:
        raise NgsiError(
            "ResourceNotFound",
            f"Attribute {attr_iri} of {old['id']} has no instance with datasetId {wanted or '@none'}",
        )
    instances = list(current)
    if is_null(instance_fragment):
        del instances[index]
    else:
        instances[index] = _merge_instance(instances[index], instance_fragment, now, attr_iri)
    attrs = dict(old["attrs"])
    if instances:
        attrs[attr_iri] = instances
    else:
        del attrs[attr_iri]
    return _touched(old, attrs, now)


def delete_attr(
    old: Entity,
    attr_iri: str,
    now: str | None = None,
    *,
    dataset_id: str | None = None,
    delete_all: bool = False,
) -> Entity:
    """Delete Entity Attribute (§5.6.5): one instance (``dataset_id``; None or ``@none`` is the
    default) or all of them; ResourceNotFound if absent. ``now`` stamps ``modifiedAt``."""
    current = old["attrs"].get(attr_iri)
    if current is None:
        raise NgsiError("ResourceNotFound", f"Entity {old['id']} has no attribute {attr_iri}")
    attrs = dict(old["attrs"])
    if delete_all:
        del attrs[attr_iri]
    else:
        wanted = None if dataset_id == "@none" else dataset_id
        index = _index_of(current, wanted)
        if index < 0:
            raise NgsiError(
                "ResourceNotFound",
                f"Attribute {attr_iri} of {old['id']} has no instance with datasetId "
                f"{wanted or '@none'}",
            )
        instances = current[:index] + current[index + 1 :]
        if instances:
            attrs[attr_iri] = instances
        else:
            del attrs[attr_iri]
    out = dict(old)
    out["attrs"] = attrs
    if now is not None:
        out["modifiedAt"] = now
    return out


def _same_content(a: Instance, b: Instance) -> bool:
    """Whether two instances hold the same content, system timestamps aside (without copying
    them: the update hot path)."""
    count = 0
    for key, value in a.items():
        if key in _SYSTEM:
            continue
        count += 1
        if key not in b or b[key] != value:
            return False
    return count == sum(1 for key in b if key not in _SYSTEM)


def changed_instances(old: Entity | None, new: Entity) -> list[tuple[str, Instance]]:
    """(attribute IRI, instance) for every instance of ``new`` that ``old`` lacks or that
    differs from it (system timestamps aside), for the temporal store and subscriptions."""
    changes: list[tuple[str, Instance]] = []
    before_attrs: dict[str, list[Instance]] = old["attrs"] if old is not None else {}
    for iri, instances in new["attrs"].items():
        before = before_attrs.get(iri)
        for instance in instances:
            if before is None:
                changes.append((iri, instance))
                continue
            index = _index_of(before, instance.get("datasetId"))
            if index < 0 or (
                before[index] is not instance and not _same_content(before[index], instance)
            ):
                changes.append((iri, instance))
    return changes
