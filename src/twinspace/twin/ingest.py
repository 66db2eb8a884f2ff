"""MQTT sensor messages → NGSI-LD entities (pure: no sockets, no asyncio).

Topic and payload scheme (``<prefix>`` defaults to ``twinspace/ngsi-ld`` and may contain ``/``):

``<prefix>/<tenant>/<EntityType>/<entity-id>``
    One entity. ``<tenant>`` is ``default`` for the default tenant (``""``). ``<entity-id>`` is the
    entity id when it is an absolute IRI (``urn:ngsi-ld:AirQualityObserved:ES-Madrid-1``), else it
    is shorthand for ``urn:ngsi-ld:<EntityType>:<entity-id>``; the rest of the topic after the type
    is the id, so an id may contain ``/``. The payload is a JSON object, either

    * **keyValues** (no ``"id"`` member): the entity's attributes as plain values, converted by
      :func:`key_values_entity` (rules below); an optional ``"type"`` must name the topic's type; or
    * a **normalized or concise NGSI-LD entity** (has ``"id"``), passed on unchanged apart from
      ``@context``; its ``id`` (and ``type``, when present) must agree with the topic; a missing
      ``type`` is taken from the topic.

``<prefix>/<tenant>/batch``
    A JSON array of normalized or concise NGSI-LD entities (each with ``id`` and ``type``). They all
    share one ``@context`` (each entity's own ``@context`` member, identical across the array, or
    none).

``<prefix>/<tenant>/errors``
    Output only: the ingest publishes ``{"topic", "reason", "at"}`` here for every rejected message;
    messages received on it are ignored (see :func:`is_errors_topic`).

Any payload may carry an ``"@context"`` (a URL, an object or a list of them); without one the
ingest's default context applies (``IngestBatch.context`` is ``None``).

keyValues conversion rules (:func:`key_values_entity`):

* ``observedAt`` (an ISO 8601 date-time) is not an attribute: it becomes the ``observedAt`` of every
  attribute. Without it, a ``dateObserved`` that is a valid date-time is used instead (and
  ``dateObserved`` stays an attribute too).
* A GeoJSON geometry (``Point``, ``LineString``, ``Polygon``, ``MultiPoint``, ``MultiLineString``,
  ``MultiPolygon`` with a ``coordinates`` array) under any key → ``GeoProperty``. ``location``,
  ``observationSpace`` and ``operationSpace`` must be geometries.
* A key ``ref<Upper>...`` (``refDevice``) whose value is a URN string → ``Relationship``; a non-empty
  list of URN strings → ``ListRelationship`` (``objectList`` of ``{"object": urn}``). Other ``ref*``
  values stay Properties.
* ``scope`` (a string or list of strings) → the entity's scope.
* Any other number, string, boolean, list or object → ``Property``.
* ``null`` values, empty names and the system attributes ``createdAt``/``modifiedAt``/``deletedAt``
  are rejected (metadata such as ``unitCode`` only via the normalized form).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "BATCH_SEGMENT",
    "DEFAULT_PREFIX",
    "DEFAULT_TENANT_SEGMENT",
    "ERRORS_SEGMENT",
    "GEOMETRY_TYPES",
    "IngestBatch",
    "IngestError",
    "is_errors_topic",
    "is_geometry",
    "key_values_entity",
    "parse_message",
    "tenant_segment",
]

DEFAULT_PREFIX = "twinspace/ngsi-ld"
DEFAULT_TENANT_SEGMENT = "default"
BATCH_SEGMENT = "batch"
ERRORS_SEGMENT = "errors"

GEOMETRY_TYPES = frozenset(
    {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}
)
_GEO_ONLY_KEYS = frozenset({"location", "observationSpace", "operationSpace"})
_SYSTEM_ATTRS = frozenset({"createdAt", "modifiedAt", "deletedAt"})
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_URN = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9\-]{0,31}:\S+$", re.IGNORECASE)
_REF_KEY = re.compile(r"^ref[A-Z]")
_TENANT = re.compile(r"^[^\s+#]+$")


class IngestError(Exception):
    """A message that cannot be ingested; ``reason`` says why (published on the errors topic)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IngestBatch:
    """The entities of one message for ``tenant`` (``""`` = default) in NGSI-LD input form."""

    tenant: str
    entities: list[dict[str, Any]] = field(default_factory=list)
    context: list[str | dict[str, Any]] | None = None


def tenant_segment(tenant: str) -> str:
    """The topic segment naming ``tenant`` (``default`` for the default tenant ``""``)."""
    return tenant or DEFAULT_TENANT_SEGMENT


def is_errors_topic(topic: str, prefix: str) -> bool:
    """Whether ``topic`` is ``<prefix>/<tenant>/errors`` (the ingest's own output)."""
    parts = _relative(topic, prefix)
    return parts is not None and len(parts) == 2 and parts[1] == ERRORS_SEGMENT


def parse_message(topic: str, payload: bytes, prefix: str) -> IngestBatch:
    """Parse one MQTT message into the entities to upsert; :class:`IngestError` when it can't."""
    parts = _relative(topic, prefix)
    if parts is None:
        raise IngestError(f"topic {topic!r} is not under the prefix {prefix!r}")
    if len(parts) < 2 or any(not part for part in parts):
        raise IngestError(
            f"topic {topic!r} must be {prefix}/<tenant>/<EntityType>/<entity-id> "
            f"or {prefix}/<tenant>/batch"
        )
    tenant = _tenant(parts[0])
    if len(parts) == 2:
        if parts[1] == BATCH_SEGMENT:
            return _batch(tenant, _json(payload))
        if parts[1] == ERRORS_SEGMENT:
            raise IngestError(f"topic {topic!r} is the errors topic (output only)")
        raise IngestError(f"topic {topic!r} lacks the entity id: use {prefix}/<tenant>/<type>/<id>")
    entity_type = parts[1]
    entity_id = "/".join(parts[2:])
    if not _IRI.match(entity_id):
        entity_id = f"urn:ngsi-ld:{entity_type}:{entity_id}"
    document = _json(payload)
    if not isinstance(document, dict):
        raise IngestError("payload must be a JSON object (one entity) on an entity topic")
    context = _context(document)
    if "id" in document:
        entity = _entity_for_topic(document, entity_type, entity_id)
    else:
        entity = key_values_entity(document, entity_type, entity_id)
    return IngestBatch(tenant=tenant, entities=[entity], context=context)


def key_values_entity(attrs: dict[str, Any], entity_type: str, entity_id: str) -> dict[str, Any]:
    """A keyValues attribute object → a normalized NGSI-LD entity (see the module rules)."""
    declared = attrs.get("type")
    if declared is not None and not _type_matches(declared, entity_type):
        raise IngestError(
            f"payload type {declared!r} does not match the topic type {entity_type!r}"
        )
    observed_at = _observed_at(attrs)
    entity: dict[str, Any] = {"id": entity_id, "type": entity_type}
    for name, value in attrs.items():
        if name in ("type", "@context", "observedAt"):
            continue
        if name == "scope":
            entity["scope"] = _scope(value)
            continue
        entity[name] = _attribute(name, value, observed_at)
    return entity


def is_geometry(value: object) -> bool:
    """Whether ``value`` looks like a GeoJSON geometry (a known type with a coordinates array)."""
    return (
        isinstance(value, dict)
        and value.get("type") in GEOMETRY_TYPES
        and isinstance(value.get("coordinates"), list)
    )


def _relative(topic: str, prefix: str) -> list[str] | None:
    stem = prefix.strip("/")
    if stem and not topic.startswith(stem + "/"):
        return None
    rest = topic[len(stem) + 1 :] if stem else topic
    return rest.split("/")


def _tenant(segment: str) -> str:
    if segment == DEFAULT_TENANT_SEGMENT:
        return ""
    if not _TENANT.match(segment):
        raise IngestError(f"invalid tenant {segment!r} in topic")
    return segment


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise IngestError("payload is empty")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"payload is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:
        raise IngestError(f"payload is not valid JSON: {exc}") from None


def _context(document: dict[str, Any]) -> list[str | dict[str, Any]] | None:
    if "@context" not in document:
        return None
    value = document["@context"]
    items = value if isinstance(value, list) else [value]
    if not items:
        raise IngestError("@context must not be empty")
    context: list[str | dict[str, Any]] = []
    for item in items:
        if not isinstance(item, str | dict) or (isinstance(item, str) and not item):
            raise IngestError("@context must be a URL, an object or a list of them")
        context.append(item)
    return context


def _type_names(declared: object) -> list[str]:
    names = declared if isinstance(declared, list) else [declared]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise IngestError(
            f"entity type must be a non-empty string or list of strings, got {declared!r}"
        )
    return [str(name) for name in names]


def _type_matches(declared: object, topic_type: str) -> bool:
    names = _type_names(declared)
    return any(
        name == topic_type or name.endswith(("/" + topic_type, "#" + topic_type)) for name in names
    )


def _entity_for_topic(document: dict[str, Any], entity_type: str, entity_id: str) -> dict[str, Any]:
    entity = _plain_entity(document, where="payload")
    if entity["id"] != entity_id:
        raise IngestError(f"payload id {entity['id']!r} does not match the topic id {entity_id!r}")
    if "type" not in entity:
        entity["type"] = entity_type
    elif not _type_matches(entity["type"], entity_type):
        raise IngestError(
            f"payload type {entity['type']!r} does not match the topic type {entity_type!r}"
        )
    return entity


def _plain_entity(document: dict[str, Any], *, where: str) -> dict[str, Any]:
    entity_id = document.get("id")
    if not isinstance(entity_id, str) or not _IRI.match(entity_id):
        raise IngestError(f"{where}: entity id must be an absolute URI, got {entity_id!r}")
    return {key: value for key, value in document.items() if key != "@context"}


def _batch(tenant: str, document: Any) -> IngestBatch:
    if not isinstance(document, list):
        raise IngestError("payload on the batch topic must be a JSON array of entities")
    if not document:
        raise IngestError("batch payload is an empty array")
    entities: list[dict[str, Any]] = []
    contexts: list[list[str | dict[str, Any]] | None] = []
    for index, item in enumerate(document):
        where = f"batch entity {index}"
        if not isinstance(item, dict):
            raise IngestError(f"{where} is not a JSON object")
        entity = _plain_entity(item, where=where)
        if "type" not in entity:
            raise IngestError(f"{where} ({entity['id']}) has no type")
        _type_names(entity["type"])
        entities.append(entity)
        contexts.append(_context(item))
    if any(context != contexts[0] for context in contexts[1:]):
        raise IngestError("all entities of one batch message must share one @context")
    return IngestBatch(tenant=tenant, entities=entities, context=contexts[0])


def _datetime(text: object) -> bool:
    if not isinstance(text, str) or "T" not in text:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _observed_at(attrs: dict[str, Any]) -> str | None:
    if "observedAt" in attrs:
        value = attrs["observedAt"]
        if not _datetime(value):
            raise IngestError(f"observedAt must be an ISO 8601 date-time, got {value!r}")
        return str(value)
    fallback = attrs.get("dateObserved")
    return fallback if isinstance(fallback, str) and _datetime(fallback) else None


def _scope(value: object) -> str | list[str]:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return list(value)
    raise IngestError("scope must be a non-empty string or list of strings")


def _attribute(name: str, value: Any, observed_at: str | None) -> dict[str, Any]:
    if not name:
        raise IngestError("attribute names must not be empty")
    if name in _SYSTEM_ATTRS:
        raise IngestError(f"{name} is a system attribute and cannot be sent")
    if value is None:
        raise IngestError(f"attribute {name!r} is null")
    instance: dict[str, Any]
    if is_geometry(value):
        instance = {"type": "GeoProperty", "value": value}
    elif name in _GEO_ONLY_KEYS:
        raise IngestError(f"{name} must be a GeoJSON geometry, got {value!r}")
    elif _REF_KEY.match(name) and isinstance(value, str) and _URN.match(value):
        instance = {"type": "Relationship", "object": value}
    elif (
        _REF_KEY.match(name)
        and isinstance(value, list)
        and value
        and all(isinstance(item, str) and _URN.match(item) for item in value)
    ):
        instance = {"type": "ListRelationship", "objectList": [{"object": v} for v in value]}
    else:
        instance = {"type": "Property", "value": value}
    if observed_at is not None:
        instance["observedAt"] = observed_at
    return instance
