"""NGSI-LD subscriptions, pure: parse, merge, render, match changes and shape notifications.

ETSI GS CIM 009 V1.9.1 clauses 5.2.12 (Subscription), 5.2.14 (NotificationParams), 5.8
(subscription operations) and 7.2 (notification behaviour).

The canonical (stored) subscription keeps every attribute and type name **expanded**; ``q`` and
``geoQ`` are kept as given (validated by parsing) and evaluated with the subscription's own
@context (``jsonldContext``, the context list it was created with), which also renders its
notifications. Matching is precompiled per subscription version (:func:`compile_subscription`,
cached by id and ``modifiedAt``) and a change is described once (:func:`describe_change`) however
many subscriptions look at it, so a busy write path stays cheap.

Decisions where the standard is silent or loose:

- creating an entity counts as ``entityCreated`` and ``attributeCreated`` of each of its
  attributes (so the default triggers notify creations); deleting one is ``entityDeleted`` only;
- an attribute changed only in ``createdAt``/``modifiedAt``/``instanceId`` has not changed;
- ``idPattern`` matches from the start of the id (``re.match``);
- periodic subscriptions (``timeInterval``), ``temporalQ``, ``showChanges: true`` and MQTT
  endpoints answer OperationNotSupported; unknown top-level members are ignored;
- an ``application/geo+json`` endpoint gets a FeatureCollection (geometry: ``location``) as
  ``data``; a deleted entity is notified as its id, type and ``deletedAt``;
- PATCH (:func:`merge_subscription`) replaces the members it names, merges ``notification`` one
  level deep, and removes optional members given as ``null``.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from twinspace.twin.context import CORE_CONTEXT_URL, TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import parse_geoquery
from twinspace.twin.qlang import parse_q
from twinspace.twin.representation import feature_collection, render_entity, render_geojson

Entity = dict[str, Any]
Subscription = dict[str, Any]
Context = list[str | dict[str, Any]]

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
CORE_CONTEXT = CORE_CONTEXT_URL
TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
DEFAULT_TRIGGERS = ["attributeCreated", "attributeUpdated"]
FORMATS = {"normalized": "normalized", "concise": "concise", "keyValues": "keyValues"}
ACCEPTS = (JSON, JSON_LD, GEO_JSON)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")
_HEADER = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SCOPE = re.compile(r"^/(?:[^/;,|#+\s]+(?:/[^/;,|#+\s]+)*)?(?:/#|/\+|#)?$")
_TIMESTAMPS = frozenset({"createdAt", "modifiedAt", "instanceId"})


def bad(member: str, detail: str) -> NgsiError:
    return NgsiError("BadRequestData", f"Subscription member {member!r}: {detail}")


def unsupported(detail: str) -> NgsiError:
    return NgsiError("OperationNotSupported", detail)


def to_datetime(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- parsing ------------------------------------------------------------------------------------


def _string(member: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise bad(member, "must be a non-empty string")
    return value


def _uri(member: str, value: Any) -> str:
    text = _string(member, value)
    if not _URI.match(text):
        raise bad(member, f"{text!r} is not an absolute URI")
    return text


def _names(member: str, value: Any, expand: Callable[[str], str]) -> list[str]:
    if not isinstance(value, list) or not value:
        raise bad(member, "must be a non-empty array of attribute names")
    names = [expand(_string(member, v)) for v in value]
    return sorted(set(names))


def _entities(value: Any, terms: TermMap) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise bad("entities", "must be a non-empty array of entity selectors")
    selectors = []
    for item in value:
        if not isinstance(item, dict):
            raise bad("entities", "each item must be an object")
        unknown = set(item) - {"id", "idPattern", "type"}
        if unknown:
            raise bad("entities", f"unknown selector member(s) {sorted(unknown)}")
        if "type" not in item:
            raise bad("entities", "each item needs a 'type'")
        selector = {"type": terms.expand_type(_string("entities.type", item["type"]))}
        if "id" in item:
            selector["id"] = _uri("entities.id", item["id"])
        if "idPattern" in item:
            pattern = _string("entities.idPattern", item["idPattern"])
            try:
                re.compile(pattern)
            except re.error as exc:
                raise bad("entities.idPattern", f"invalid regular expression ({exc})") from exc
            selector["idPattern"] = pattern
        selectors.append(selector)
    return selectors


def _triggers(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise bad("notificationTrigger", "must be a non-empty array")
    for item in value:
        if item not in TRIGGERS:
            raise bad("notificationTrigger", f"{item!r} is not one of {list(TRIGGERS)}")
    return [t for t in TRIGGERS if t in value]


def _q(value: Any) -> str:
    text = _string("q", value)
    parse_q(text)
    return text


def _geoq(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad("geoQ", "must be an object")
    for key in ("geometry", "coordinates", "georel"):
        if key not in value:
            raise bad("geoQ", f"needs {key!r}")
    geoq = {k: value[k] for k in ("geometry", "coordinates", "georel", "geoproperty") if k in value}
    _compile_geoq(geoq)
    return geoq


def _compile_geoq(geoq: Mapping[str, Any]) -> Any:
    coordinates = geoq["coordinates"]
    if not isinstance(coordinates, str | list):
        raise bad("geoQ", "coordinates must be an array or its JSON text")
    return parse_geoquery(
        _string("geoQ.georel", geoq["georel"]),
        _string("geoQ.geometry", geoq["geometry"]),
        coordinates,
        geoq.get("geoproperty"),
    )


def _scopeq(value: Any) -> str:
    text = _string("scopeQ", value)
    for alternative in re.split(r"[,;]", text):
        if not _SCOPE.match(alternative.strip("()")):
            raise bad("scopeQ", f"{alternative!r} is not a scope pattern")
    return text


def _bool(member: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise bad(member, "must be true or false")
    return value


def _expires(value: Any, now: str | datetime) -> str:
    text = _string("expiresAt", value)
    try:
        moment = to_datetime(text)
    except ValueError as exc:
        raise bad("expiresAt", f"{text!r} is not a date-time") from exc
    if moment.tzinfo is None or moment <= to_datetime(now):
        raise bad("expiresAt", "must be in the future")
    return iso(moment)


def _throttling(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise bad("throttling", "must be a number of seconds >= 0")
    return value


def _endpoint(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad("notification.endpoint", "must be an object")
    uri = _uri("notification.endpoint.uri", value.get("uri"))
    scheme = uri.split(":", 1)[0].lower()
    if scheme in ("mqtt", "mqtts"):
        raise unsupported("MQTT notification endpoints are not supported; use http(s)")
    if scheme not in ("http", "https") or not uri.split(":", 1)[1].startswith("//"):
        raise bad("notification.endpoint.uri", f"{uri!r} is not an absolute http(s) URI")
    accept = value.get("accept", JSON)
    if accept not in ACCEPTS:
        raise bad("notification.endpoint.accept", f"must be one of {list(ACCEPTS)}")
    endpoint: dict[str, Any] = {"uri": uri, "accept": accept}
    for member in ("receiverInfo", "notifierInfo"):
        if member in value:
            endpoint[member] = _key_values(f"notification.endpoint.{member}", value[member])
    return endpoint


def _key_values(member: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad(member, "must be an array of {key, value} objects")
    pairs = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"key", "value"}:
            raise bad(member, "each item must be exactly {key, value}")
        key, val = _string(member, item["key"]), item["value"]
        if not _HEADER.match(key) or not isinstance(val, str) or "\n" in val or "\r" in val:
            raise bad(member, f"{key!r} is not a usable header name/value")
        pairs.append({"key": key, "value": val})
    return pairs


def _notification(value: Any, terms: TermMap, old: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad("notification", "must be an object")
    result: dict[str, Any] = dict(old or {})
    for key, val in value.items():
        if val is None and key in ("attributes", "sysAttrs", "format"):
            result.pop(key, None)
        elif key == "attributes":
            result["attributes"] = _names("notification.attributes", val, terms.expand)
        elif key == "format":
            alias = "keyValues" if val == "simplified" else val
            if alias not in FORMATS:
                raise bad("notification.format", f"must be one of {list(FORMATS)}")
            result["format"] = alias
        elif key == "sysAttrs":
            result["sysAttrs"] = _bool("notification.sysAttrs", val)
        elif key == "showChanges":
            if _bool("notification.showChanges", val):
                raise unsupported("notification.showChanges is not supported")
        elif key == "endpoint":
            result["endpoint"] = _endpoint(val)
    if "endpoint" not in result:
        raise bad("notification.endpoint", "is required")
    result.setdefault("format", "normalized")
    return result


_OPTIONAL = frozenset(
    {"subscriptionName", "description", "watchedAttributes", "q", "geoQ", "scopeQ"}
    | {"expiresAt", "throttling", "lang", "entities"}
)


def _apply(
    sub: Subscription, payload: Mapping[str, Any], terms: TermMap, now: str | datetime
) -> None:
    """Parse each known member of ``payload`` into ``sub`` (``null`` removes an optional one)."""
    for key in ("timeInterval", "temporalQ"):
        if payload.get(key) is not None:
            raise unsupported(f"{key} is not supported (periodic/temporal subscriptions)")
    for key, value in payload.items():
        if value is None and key in _OPTIONAL:
            sub.pop(key, None)
        elif key in ("subscriptionName", "description", "lang"):
            sub[key] = _string(key, value)
        elif key == "entities":
            sub[key] = _entities(value, terms)
        elif key == "watchedAttributes":
            sub[key] = _names(key, value, terms.expand)
        elif key == "notificationTrigger":
            sub[key] = _triggers(value)
        elif key == "q":
            sub[key] = _q(value)
        elif key == "geoQ":
            sub[key] = _geoq(value)
        elif key == "scopeQ":
            sub[key] = _scopeq(value)
        elif key == "isActive":
            sub[key] = _bool(key, value)
        elif key == "expiresAt":
            sub[key] = _expires(value, now)
        elif key == "throttling":
            sub[key] = _throttling(value)
        elif key == "jsonldContext":
            sub[key] = [_uri(key, value)]
        elif key == "notification":
            sub[key] = _notification(value, terms, sub.get("notification"))
    if "entities" not in sub and "watchedAttributes" not in sub:
        raise bad("entities", "a subscription needs 'entities' or 'watchedAttributes'")
    if "notification" not in sub:
        raise bad("notification", "is required")


def parse_subscription(
    payload: Any,
    terms: TermMap,
    now: str | datetime,
    *,
    sub_id: str | None = None,
    context: Context | None = None,
) -> Subscription:
    """The canonical subscription from a request body read with ``terms``.

    ``context`` is the @context list of the request (None or [] = core context only); it becomes
    ``jsonldContext`` unless the payload names one. The id is the payload's, else ``sub_id``,
    else a new ``urn:ngsi-ld:Subscription:<uuid4>``.
    """
    if not isinstance(payload, dict):
        raise NgsiError("BadRequestData", "a subscription must be a JSON object")
    if payload.get("type") != "Subscription":
        raise bad("type", "must be 'Subscription'")
    given = payload.get("id")
    stamp = iso(to_datetime(now))
    sub: Subscription = {
        "id": _uri("id", given) if given is not None else sub_id or _new_id(),
        "type": "Subscription",
        "isActive": True,
        "notificationTrigger": list(DEFAULT_TRIGGERS),
        "jsonldContext": list(context or []),
        "createdAt": stamp,
        "modifiedAt": stamp,
    }
    _apply(
        sub, {k: v for k, v in payload.items() if k not in ("id", "type", "@context")}, terms, now
    )
    return sub


def merge_subscription(
    old: Subscription, fragment: Any, terms: TermMap, now: str | datetime
) -> Subscription:
    """``old`` updated by a PATCH ``fragment`` (clause 5.8.2); ``old`` is not changed."""
    if not isinstance(fragment, dict) or not fragment:
        raise NgsiError("BadRequestData", "a subscription fragment must be a non-empty object")
    if "id" in fragment and fragment["id"] != old["id"]:
        raise bad("id", "cannot be changed")
    if "type" in fragment and fragment["type"] != "Subscription":
        raise bad("type", "must be 'Subscription'")
    sub: Subscription = copy.deepcopy(old)
    _apply(
        sub, {k: v for k, v in fragment.items() if k not in ("id", "type", "@context")}, terms, now
    )
    sub["modifiedAt"] = iso(to_datetime(now))
    return sub


def _new_id() -> str:
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


# -- rendering ----------------------------------------------------------------------------------


def subscription_status(sub: Subscription, now: str | datetime) -> str:
    """``active``, ``paused`` (isActive false) or ``expired``."""
    expires = sub.get("expiresAt")
    if expires and to_datetime(expires) <= to_datetime(now):
        return "expired"
    return "active" if sub.get("isActive", True) else "paused"


def render_subscription(
    sub: Subscription, terms: TermMap, status: Mapping[str, Any], *, sys_attrs: bool = False
) -> dict[str, Any]:
    """The subscription as a response body, compacted with ``terms``.

    ``status`` carries ``status`` (active/paused/expired) and ``notification`` (timesSent,
    timesFailed, lastNotification, lastSuccess, lastFailure, status ok/failed): see
    ``Notifier.status``.
    """
    out: dict[str, Any] = {"id": sub["id"], "type": "Subscription"}
    for key in ("subscriptionName", "description"):
        if key in sub:
            out[key] = sub[key]
    if "entities" in sub:
        out["entities"] = [{**s, "type": terms.compact_type(s["type"])} for s in sub["entities"]]
    if "watchedAttributes" in sub:
        out["watchedAttributes"] = [terms.compact(a) for a in sub["watchedAttributes"]]
    for key in ("notificationTrigger", "q", "geoQ", "scopeQ", "isActive", "expiresAt"):
        if key in sub:
            out[key] = sub[key]
    for key in ("throttling", "lang"):
        if key in sub:
            out[key] = sub[key]
    note = dict(sub["notification"])
    if "attributes" in note:
        note["attributes"] = [terms.compact(a) for a in note["attributes"]]
    note.update({k: v for k, v in status.get("notification", {}).items() if v is not None})
    out["notification"] = note
    if "status" in status:
        out["status"] = status["status"]
    context = sub.get("jsonldContext") or []
    if len(context) == 1 and isinstance(context[0], str):
        out["jsonldContext"] = context[0]
    if sys_attrs:
        out["createdAt"], out["modifiedAt"] = sub["createdAt"], sub["modifiedAt"]
    return out


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
        self.geoq = _compile_geoq(sub["geoQ"]) if "geoQ" in sub else None
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
    "DEFAULT_TRIGGERS",
    "TRIGGERS",
    "Change",
    "CompiledSubscription",
    "RenderCache",
    "coalesce",
    "compile_subscription",
    "describe_change",
    "merge_subscription",
    "notification_headers",
    "notification_payload",
    "parse_subscription",
    "render_data",
    "render_subscription",
    "subscription_status",
    "throttle_due",
    "to_datetime",
    "triggers",
]
