"""NGSI-LD subscriptions, pure: parse, merge and render (``twin.notification`` matches changes
and shapes notifications).

ETSI GS CIM 009 V1.9.1 clauses 5.2.12 (Subscription), 5.2.14 (NotificationParams), 5.8
(subscription operations) and 7.2 (notification behaviour).

The canonical (stored) subscription keeps every attribute and type name **expanded**; ``q`` and
``geoQ`` are kept as given (validated by parsing) and evaluated with the subscription's own
@context (``jsonldContext``, the context list it was created with), which also renders its
notifications.

Decisions where the standard is silent or loose:

- periodic subscriptions (``timeInterval``), ``temporalQ``, ``showChanges: true`` and MQTT
  endpoints answer OperationNotSupported; unknown top-level members are ignored;
- PATCH (:func:`merge_subscription`) replaces the members it names, merges ``notification`` one
  level deep, and removes optional members given as ``null``.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from twinspace.twin.context import CORE_CONTEXT_URL, TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import parse_geoquery
from twinspace.twin.qlang import parse_q

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
    compile_geoq(geoq)
    return geoq


def compile_geoq(geoq: Mapping[str, Any]) -> Any:
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


def _periodic(sub: Subscription, payload: Mapping[str, Any]) -> None:
    """``timeInterval`` is checked as clause 5.8.1 says (a positive number, never with
    ``watchedAttributes`` or ``throttling``: BadRequestData) before it is refused as unsupported."""
    interval = payload.get("timeInterval")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise bad("timeInterval", "must be a number of seconds > 0")
        for other in ("watchedAttributes", "throttling"):
            if payload.get(other, sub.get(other)) is not None:
                raise bad("timeInterval", f"cannot be combined with {other!r}")
        raise unsupported("timeInterval is not supported (periodic notifications)")
    if payload.get("temporalQ") is not None:
        raise unsupported("temporalQ is not supported")


def _apply(
    sub: Subscription, payload: Mapping[str, Any], terms: TermMap, now: str | datetime
) -> None:
    """Parse each known member of ``payload`` into ``sub`` (``null`` removes an optional one)."""
    _periodic(sub, payload)
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


__all__ = [
    "ACCEPTS",
    "CONTEXT_REL",
    "CORE_CONTEXT",
    "DEFAULT_TRIGGERS",
    "GEO_JSON",
    "JSON",
    "JSON_LD",
    "TRIGGERS",
    "Subscription",
    "compile_geoq",
    "iso",
    "merge_subscription",
    "parse_subscription",
    "render_subscription",
    "subscription_status",
    "to_datetime",
]
