"""A twin asset's view: the provider's sharing policy, applied to every entity it hands over.

Pure (no I/O): :func:`parse_view` reads the ``view`` member of an ``NgsiLdQuery`` data address,
:meth:`View.admits` decides whether an entity may be shown at all and :meth:`View.shape` returns
what the consumer may see of it. Both work on the canonical (expanded) entity form, and
``shape`` also on the shape ``{"id", "type", "attrs": {iri: [instances]}}`` that a temporal
evolution is grouped into, so pulls, temporal pulls and pushed notifications share one rule set.

Members (all optional):

``omitAttrs``
    attribute names (in the asset's @context) that are never shown.
``pseudonymize``
    ``true``: every entity id becomes ``urn:ngsi-ld:<Type>:anon-<hex16>``, where ``hex16`` is an
    HMAC-SHA256 of the asset id and the entity id under a secret of the provider, so a pseudonym
    is stable across pulls and notifications of one asset but not linkable across assets.
    Everything that may identify a device or point at another entity goes: every
    ``Relationship``/``ListRelationship`` attribute and sub-attribute, and every attribute or
    sub-attribute whose local name starts with ``ref`` (``refDevice``, ``refPointOfInterest``)
    or is a device identifier (:data:`DEVICE_NAMES`, e.g. ``deviceId``, ``serialNumber``,
    ``macAddress``). Values that merely mention an id in free text are not rewritten.
``within``
    ``{"geometry": "Polygon", "coordinates": [...]}``: only entities whose ``location`` lies within
    the area are shown (an entity without a location is not).
``aggregate``
    ``{"methods": "avg,max", "period": "PT1H"}``: aggregated values only. A pull returns the
    temporal aggregates of each entity instead of raw values; streaming (``NgsiLd-PUSH``) is
    refused for such an asset.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from twinspace.twin.aggregate import AGGREGATION_METHODS, Aggregation, parse_aggregation
from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import GeoQuery, parse_geoquery

Entity = dict[str, Any]
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
RELATIONSHIPS = frozenset({"Relationship", "ListRelationship"})
#: Local attribute names (lower case) that identify a device, dropped when pseudonymizing.
DEVICE_NAMES = frozenset(
    {"deviceid", "device", "serialnumber", "macaddress", "imei", "ipaddress", "sensorid"}
)
VIEW_MEMBERS = ("omitAttrs", "pseudonymize", "within", "aggregate")
_LOCAL = re.compile(r"[^/#:]+$")


class ViewError(ValueError):
    """The view is not valid; ``member`` names the offending member (``view.within`` ...)."""

    def __init__(self, member: str, detail: str) -> None:
        super().__init__(f"{member}: {detail}")
        self.member = member
        self.detail = detail


def local_name(iri: str) -> str:
    """The last segment of an IRI (``https://x/dataModel.Environment/NO2`` -> ``NO2``)."""
    found = _LOCAL.search(iri)
    return found.group(0) if found else iri


def identifying(iri: str) -> bool:
    """Whether an attribute name may identify a device or another entity (dropped by
    ``pseudonymize``)."""
    name = local_name(iri)
    return name.startswith("ref") or name.lower() in DEVICE_NAMES


def pseudonym(secret: bytes, scope: str, entity_id: str, entity_type: str) -> str:
    """A stable keyed pseudonym of ``entity_id`` within ``scope`` (the asset id)."""
    digest = hmac.new(secret, f"{scope}\n{entity_id}".encode(), hashlib.sha256).hexdigest()
    return f"urn:ngsi-ld:{local_name(entity_type) or 'Entity'}:anon-{digest[:16]}"


@dataclass(frozen=True)
class View:
    omit: frozenset[str] = frozenset()  # expanded attribute names
    pseudonymize: bool = False
    within: GeoQuery | None = None
    aggregate: Aggregation | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_open(self) -> bool:
        """Nothing is filtered."""
        return not (self.omit or self.pseudonymize or self.within or self.aggregate)

    def admits(self, entity: Entity) -> bool:
        """Whether ``entity`` (canonical, current state) may be shown at all."""
        if self.within is None:
            return True
        instances = (entity.get("attrs") or {}).get(LOCATION) or ()
        return any(self.within.matches(i.get("value")) for i in instances if isinstance(i, dict))

    def shape(self, entity: Entity, secret: bytes, scope: str) -> Entity:
        """What the consumer sees of ``entity`` (a new dict; ``entity`` is not changed)."""
        attrs: dict[str, list[dict[str, Any]]] = {}
        for name, instances in (entity.get("attrs") or {}).items():
            if name in self.omit:
                continue
            if self.pseudonymize and identifying(name):
                continue
            kept = [self._instance(i) for i in instances if self._keeps(i)]
            if kept:
                attrs[name] = kept
        shaped = {**entity, "attrs": attrs}
        if self.pseudonymize:
            types = entity.get("type") or ["Entity"]
            shaped["id"] = pseudonym(secret, scope, str(entity["id"]), str(types[0]))
        return shaped

    def _keeps(self, instance: Any) -> bool:
        if not isinstance(instance, dict):
            return False
        return not (self.pseudonymize and instance.get("type") in RELATIONSHIPS)

    def _instance(self, instance: dict[str, Any]) -> dict[str, Any]:
        subs = instance.get("subAttrs")
        if not self.pseudonymize or not subs:
            return instance
        kept = {
            name: sub
            for name, sub in subs.items()
            if not identifying(name)
            and not (isinstance(sub, dict) and sub.get("type") in RELATIONSHIPS)
        }
        out = {k: v for k, v in instance.items() if k != "subAttrs"}
        if kept:
            out["subAttrs"] = kept
        return out


def _within(value: Any) -> GeoQuery:
    if not isinstance(value, dict):
        raise ViewError("view.within", "must be an object {geometry, coordinates}")
    geometry, coordinates = value.get("geometry"), value.get("coordinates")
    if not isinstance(geometry, str) or geometry not in ("Polygon", "MultiPolygon"):
        raise ViewError("view.within", "geometry must be 'Polygon' or 'MultiPolygon'")
    if not isinstance(coordinates, str | list):
        raise ViewError("view.within", "coordinates must be an array (or its JSON text)")
    try:
        return parse_geoquery("within", geometry, coordinates)
    except NgsiError as exc:
        raise ViewError("view.within", exc.detail) from None


def _aggregate(value: Any) -> Aggregation:
    if not isinstance(value, dict) or set(value) - {"methods", "period"}:
        raise ViewError("view.aggregate", "must be an object {methods, period}")
    methods, period = value.get("methods"), value.get("period")
    if isinstance(methods, list):
        methods = ",".join(str(m) for m in methods)
    if not isinstance(methods, str) or not methods.strip():
        raise ViewError(
            "view.aggregate.methods", f"required, some of {', '.join(AGGREGATION_METHODS)}"
        )
    if period is not None and not isinstance(period, str):
        raise ViewError("view.aggregate.period", "must be an ISO 8601 duration such as PT1H")
    try:
        return parse_aggregation(methods, period)
    except NgsiError as exc:
        raise ViewError("view.aggregate", exc.detail) from None


def parse_view(value: Any, expand: Any) -> View:
    """The view of an asset (``expand``: its context's term expansion); ViewError if invalid."""
    if value is None:
        return View()
    if not isinstance(value, dict):
        raise ViewError("view", "must be an object")
    unknown = sorted(set(value) - set(VIEW_MEMBERS))
    if unknown:
        raise ViewError("view", f"unknown member(s) {unknown}; allowed: {list(VIEW_MEMBERS)}")
    omit: frozenset[str] = frozenset()
    if "omitAttrs" in value:
        names = value["omitAttrs"]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ViewError("view.omitAttrs", "must be an array of attribute names")
        omit = frozenset(expand(n) for n in names)
    pseudo = value.get("pseudonymize", False)
    if not isinstance(pseudo, bool):
        raise ViewError("view.pseudonymize", "must be true or false")
    within = _within(value["within"]) if value.get("within") is not None else None
    aggregate = _aggregate(value["aggregate"]) if value.get("aggregate") is not None else None
    return View(omit, pseudo, within, aggregate, dict(value))


__all__ = [
    "DEVICE_NAMES",
    "View",
    "ViewError",
    "identifying",
    "local_name",
    "parse_view",
    "pseudonym",
]
