"""NGSI-LD notifications, pure: which changes notify a subscription and what it is sent.

ETSI GS CIM 009 V1.9.1 clauses 5.2.12 (Subscription), 5.3.1 (Notification) and 7.2 (notification
behaviour). A change is described once (:func:`describe_change`) however many subscriptions look
at it, and matching is precompiled per subscription version (:func:`compile_subscription`, cached
by id and ``modifiedAt``), so a busy write path stays cheap.

Decisions where the standard is silent or loose:

- creating an entity counts as ``entityCreated`` and ``attributeCreated`` of each of its
  attributes (so the default triggers notify creations); deleting one is ``entityDeleted`` only;
- an attribute changed only in ``createdAt``/``modifiedAt``/``instanceId`` has not changed;
- ``idPattern`` matches from the start of the id (``re.match``);
- an ``application/geo+json`` endpoint gets a FeatureCollection (geometry: ``location``) as
  ``data``; a deleted entity is notified as its id, type and ``deletedAt``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from twinspace.twin.context import TermMap
from twinspace.twin.qlang import parse_q
from twinspace.twin.representation import feature_collection, render_entity, render_geojson
from twinspace.twin.subscription import (
    CONTEXT_REL,
    CORE_CONTEXT,
    DEFAULT_TRIGGERS,
    GEO_JSON,
    JSON,
    JSON_LD,
    Subscription,
    compile_geoq,
    iso,
    to_datetime,
)

Entity = dict[str, Any]
_TIMESTAMPS = frozenset({"createdAt", "modifiedAt", "instanceId"})


# -- matching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One entity change, described once for every subscription: the entity to match (after the
    change, before it for a deletion) and, per trigger kind, the attributes concerned."""

    entity: Entity
    kinds: Mapping[str, frozenset[str]]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in _TIMESTAMPS}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def describe_change(before: Entity | None, after: Entity | None) -> Change | None:
    """The triggers a write fires (None when nothing but timestamps changed)."""
    if after is None:
        if before is None:
            return None
        return Change(before, {"entityDeleted": frozenset(before.get("attrs", {}))})
    new_attrs: dict[str, Any] = after.get("attrs", {})
    if before is None:
        names = frozenset(new_attrs)
        kinds = {"entityCreated": names}
        if names:
            kinds["attributeCreated"] = names
        return Change(after, kinds)
    old_attrs: dict[str, Any] = before.get("attrs", {})
    created = frozenset(new_attrs.keys() - old_attrs.keys())
    deleted = frozenset(old_attrs.keys() - new_attrs.keys())
    updated = frozenset(
        name
        for name, instances in new_attrs.items()
        if name in old_attrs
        and old_attrs[name] is not instances
        and _plain(old_attrs[name]) != _plain(instances)
    )
    touched = created | deleted | updated
    other = before.get("type") != after.get("type") or before.get("scope") != after.get("scope")
    if not touched and not other:
        return None
    result = {"entityUpdated": touched}
    for kind, names in (
        ("attributeCreated", created),
        ("attributeUpdated", updated),
        ("attributeDeleted", deleted),
    ):
        if names:
            result[kind] = names
    return Change(after, result)


def _scope_matches(pattern: str, scopes: list[str]) -> bool:
    def one(p: str) -> bool:
        p = p.strip("()")
        if p == "/#":
            return bool(scopes)
        if p.endswith("/#"):
            base = p[:-2]
            return any(s == base or s.startswith(base + "/") for s in scopes)
        if p.endswith("/+"):
            base = p[:-2]
            return any(s.startswith(base + "/") and "/" not in s[len(base) + 1 :] for s in scopes)
        return p in scopes

    return any(all(one(p) for p in alt.split(";")) for alt in pattern.split(","))


class CompiledSubscription:
    """A subscription ready to test changes against (selectors, q and geoQ parsed once)."""

    def __init__(self, sub: Subscription, terms: TermMap) -> None:
        self.sub = sub
        self.expand = terms.expand
        self.triggers = frozenset(sub.get("notificationTrigger", DEFAULT_TRIGGERS))
        watched = sub.get("watchedAttributes")
        self.watched = frozenset(watched) if watched else None
        selectors = sub.get("entities")
        self.selectors = (
            None
            if selectors is None
            else [
                (s["type"], s.get("id"), re.compile(s["idPattern"]) if "idPattern" in s else None)
                for s in selectors
            ]
        )
        self.types = None if selectors is None else frozenset(s["type"] for s in selectors)
        self.by_type_only = selectors is not None and all(
            "id" not in s and "idPattern" not in s for s in selectors
        )
        self.q = parse_q(sub["q"]).bind(terms.expand) if "q" in sub else None
        self.geoq = compile_geoq(sub["geoQ"]) if "geoQ" in sub else None
        self.scopeq: str | None = sub.get("scopeQ")
        self.expires = to_datetime(sub["expiresAt"]) if sub.get("expiresAt") else None
        self.active = bool(sub.get("isActive", True))

    def live(self, now: datetime) -> bool:
        return self.active and (self.expires is None or self.expires > now)

    def selects(self, entity: Entity) -> bool:
        if self.selectors is None or self.types is None:
            return True
        types, entity_id = entity.get("type", ()), entity.get("id", "")
        if self.types.isdisjoint(types):
            return False
        if self.by_type_only:
            return True
        for type_, id_, pattern in self.selectors:
            if type_ not in types:
                continue
            if id_ is not None and id_ != entity_id:
                continue
            if pattern is not None and pattern.match(entity_id) is None:
                continue
            return True
        return False

    def fires(self, change: Change) -> bool:
        entity = change.entity
        if not self.selects(entity):
            return False
        for kind, names in change.kinds.items():
            if kind in self.triggers and (
                self.watched is None or not self.watched.isdisjoint(names)
            ):
                break
        else:
            return False
        if self.scopeq is not None and not _scope_matches(self.scopeq, entity.get("scope", [])):
            return False
        if self.q is not None and not self.q(entity):
            return False
        return self.geoq is None or bool(self.geoq.matches_entity(entity, self.expand))

    def matches(self, change: Change, now: datetime) -> bool:
        return self.live(now) and self.fires(change)


_CACHE: dict[tuple[str, str], CompiledSubscription] = {}
_CACHE_MAX = 4096


def compile_subscription(sub: Subscription, terms: TermMap) -> CompiledSubscription:
    """The compiled form of ``sub``, cached by its id and ``modifiedAt``."""
    key = (sub["id"], sub.get("modifiedAt", ""))
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        found = _CACHE[key] = CompiledSubscription(sub, terms)
    return found


def triggers(
    sub: Subscription,
    before: Entity | None,
    after: Entity | None,
    now: str | datetime,
    *,
    terms: TermMap,
) -> bool:
    """Whether the change ``before`` → ``after`` notifies ``sub`` (``terms``: its context)."""
    change = describe_change(before, after)
    return change is not None and compile_subscription(sub, terms).matches(change, to_datetime(now))


# -- notifications ------------------------------------------------------------------------------


def throttle_due(sub: Subscription, last: datetime | None, now: datetime) -> datetime:
    """When the next notification of ``sub`` may go out (throttling after ``last``)."""
    seconds = sub.get("throttling") or 0
    if not seconds or last is None:
        return now
    return max(now, last + timedelta(seconds=seconds))


def _context_value(sub: Subscription) -> str | list[str | dict[str, Any]]:
    context = list(sub.get("jsonldContext") or [])
    if not context:
        return CORE_CONTEXT
    return context[0] if len(context) == 1 and isinstance(context[0], str) else context


#: Rendered entities shared between the subscriptions of one ``enqueue`` call that ask for the
#: same rendering; keyed by the entity's ``id()``, so its entities must outlive the cache.
RenderCache = dict[tuple[Any, ...], Any]


def render_data(
    sub: Subscription, entities: Iterable[Entity], terms: TermMap, cache: RenderCache | None = None
) -> Any:
    """The ``data`` of a notification: the entities as the subscription asked for them."""
    note = sub["notification"]
    form, sys_attrs = note.get("format", "normalized"), bool(note.get("sysAttrs", False))
    attrs = frozenset(note["attributes"]) if note.get("attributes") else None
    accept = note["endpoint"].get("accept", JSON)
    context = _context_value(sub) if accept == JSON_LD else None
    spec = (terms, form, sys_attrs, attrs, accept, json.dumps(context, sort_keys=True))
    location = terms.expand("location")
    data = []
    for entity in entities:
        key = (*spec, id(entity))
        rendered = None if cache is None else cache.get(key)
        if rendered is None:
            if accept == GEO_JSON:
                rendered = render_geojson(
                    entity,
                    terms,
                    form=form,
                    sys_attrs=sys_attrs,
                    attrs=attrs,
                    geometry_property=location,
                )
            else:
                rendered = render_entity(entity, terms, form=form, sys_attrs=sys_attrs, attrs=attrs)
                if "deletedAt" in entity:
                    rendered["deletedAt"] = entity["deletedAt"]
                if context is not None:
                    rendered["@context"] = context
            if cache is not None:
                cache[key] = rendered
        data.append(rendered)
    return feature_collection(data) if accept == GEO_JSON else data


def notification_payload(
    sub: Subscription,
    entities: Iterable[Entity],
    terms: TermMap,
    notified_at: str | datetime,
    cache: RenderCache | None = None,
) -> dict[str, Any]:
    """The Notification body (clause 5.3.1) for ``entities`` rendered with ``terms``."""
    return {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": sub["id"],
        "notifiedAt": iso(to_datetime(notified_at)),
        "data": render_data(sub, entities, terms, cache),
    }


def notification_headers(sub: Subscription, tenant: str = "") -> dict[str, str]:
    """HTTP headers of a notification: media type, the context Link, receiverInfo, tenant."""
    endpoint = sub["notification"]["endpoint"]
    accept = endpoint.get("accept", JSON)
    headers = {"Content-Type": accept}
    context = _context_value(sub)
    if accept != JSON_LD and isinstance(context, str):
        headers["Link"] = f'<{context}>; rel="{CONTEXT_REL}"; type="{JSON_LD}"'
    for pair in endpoint.get("receiverInfo", []):
        headers[pair["key"]] = pair["value"]
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    return headers


def coalesce(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """One notification for several queued ones of a subscription, oldest first: each entity
    appears once, with its latest state (throttling never loses a change)."""
    first = payloads[0]
    if len(payloads) == 1:
        return first
    if isinstance(first["data"], dict):  # a GeoJSON FeatureCollection
        features = _latest(f for p in payloads for f in p["data"]["features"])
        return {**first, "data": {**first["data"], "features": features}}
    return {**first, "data": _latest(e for p in payloads for e in p["data"])}


def _latest(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for item in items:
        latest.pop(str(item.get("id")), None)
        latest[str(item.get("id"))] = item
    return list(latest.values())


__all__ = [
    "Change",
    "CompiledSubscription",
    "RenderCache",
    "coalesce",
    "compile_subscription",
    "describe_change",
    "notification_headers",
    "notification_payload",
    "render_data",
    "throttle_due",
    "triggers",
]
