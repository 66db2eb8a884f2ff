"""A twin query published as a data-space asset (data address type ``NgsiLdQuery``): parse it,
and run it on a store transaction with the asset's view applied.

``parse_twin_query`` validates an address and names the bad member; ``current_page`` and
``temporal_page`` read one page of the result (the entities as the consumer may see them,
compacted with the asset's @context) so a large twin is streamed, never loaded whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from twinspace.store import Tx
from twinspace.twin.context import SDM_CONTEXT_URL, TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import GeoQuery, parse_geoquery
from twinspace.twin.qlang import QExpr, parse_q
from twinspace.twin.querying import EntityQuery, TypeSelector, candidate_filter, parse_type_selector
from twinspace.twin.representation import render_entity
from twinspace.twin.temporal import TimeFilter, parse_timerel, render_temporal
from twinspace.twin.view import View, ViewError, parse_view

Entity = dict[str, Any]
TWIN_TYPE = "NgsiLdQuery"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
GEO_MEMBERS = ("georel", "geometry", "coordinates")


class AssetError(ValueError):
    """An ``NgsiLdQuery`` address is invalid; the message names the member."""


@dataclass(frozen=True)
class TwinQuery:
    tenant: str
    context: list[str | dict[str, Any]]
    types: TypeSelector
    attrs: list[str] | None  # expanded
    q_text: str | None
    q: QExpr | None
    geoq: dict[str, Any] | None  # as given (a subscription's geoQ)
    geo: GeoQuery | None
    time: TimeFilter | None
    view: View

    def type_names(self) -> list[str]:
        """Every type the selection mentions (expanded)."""
        return sorted({t for group in self.types.any_of for t in group})

    def entity_query(self) -> EntityQuery:
        return EntityQuery(types=self.types, attrs=self.attrs, q=self.q, geo=self.geo)


def _text(address: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = address.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise AssetError(f"{key} must be a non-empty string (got {value!r})")
    return value.strip()


def asset_context(address: Mapping[str, Any]) -> list[str | dict[str, Any]]:
    """The @context the asset's names are in (default: the Smart Data Models context)."""
    value = address.get("context", SDM_CONTEXT_URL)
    if isinstance(value, str) and value.startswith(("http://", "https://", "urn:")):
        return [value]
    raise AssetError(f"context must be the URL of a JSON-LD context (got {value!r})")


def parse_twin_query(address: Mapping[str, Any], terms: TermMap) -> TwinQuery:
    """The query an ``NgsiLdQuery`` address describes, read with ``terms`` (its context)."""
    tenant = address.get("tenant", "")
    if not isinstance(tenant, str):
        raise AssetError(f"tenant must be a string (got {tenant!r})")
    try:
        types = parse_type_selector(str(_text(address, "entityType", required=True)), terms)
    except NgsiError as exc:
        raise AssetError(f"entityType: {exc.detail}") from None
    attrs = None
    attrs_text = _text(address, "attrs")
    if attrs_text is not None:
        attrs = sorted({terms.expand(a.strip()) for a in attrs_text.split(",") if a.strip()})
    q_text = _text(address, "q")
    q = None
    if q_text is not None:
        try:
            q = parse_q(q_text)
        except NgsiError as exc:
            raise AssetError(f"q: {exc.detail}") from None
    geoq, geo = None, None
    given = [k for k in GEO_MEMBERS if address.get(k) is not None]
    if given:
        missing = [k for k in GEO_MEMBERS if k not in given]
        if missing:
            raise AssetError(f"{', '.join(missing)}: needed with {', '.join(given)} (the area)")
        geoq = {k: address[k] for k in (*GEO_MEMBERS, "geoproperty") if address.get(k)}
        try:
            geo = parse_geoquery(
                str(address["georel"]),
                str(address["geometry"]),
                address["coordinates"],
                address.get("geoproperty"),
            )
        except NgsiError as exc:
            raise AssetError(f"georel/geometry/coordinates: {exc.detail}") from None
    try:
        time = parse_timerel(
            _text(address, "timerel"), _text(address, "timeAt"), _text(address, "endTimeAt")
        )
    except NgsiError as exc:
        raise AssetError(f"timerel/timeAt/endTimeAt: {exc.detail}") from None
    try:
        view = parse_view(address.get("view"), terms.expand)
    except ViewError as exc:
        raise AssetError(str(exc)) from None
    return TwinQuery(tenant, asset_context(address), types, attrs, q_text, q, geoq, geo, time, view)


#: Shapes (or hides: None) an entity the way the consumer may see it.
Shaper = Callable[[Entity], Entity | None]


def shaper(query: TwinQuery, secret: bytes, scope: str) -> Shaper:
    view = query.view

    def shape(entity: Entity) -> Entity | None:
        if not query.types.matches(entity.get("type") or []) or not view.admits(entity):
            return None
        return view.shape(entity, secret, scope)

    return shape


def current_page(
    tx: Tx,
    query: TwinQuery,
    terms: TermMap,
    shape: Shaper,
    *,
    after: str | None,
    size: int,
    render: bool = True,
) -> tuple[list[Entity], str | None]:
    """Up to ``size`` matching entities after id ``after``, shaped (and rendered normalized
    unless ``render`` is False); with the id to continue after (None: the end)."""
    keep = candidate_filter(query.entity_query(), terms)
    bbox = None
    if query.geo is not None and terms.expand(query.geo.property) == LOCATION:
        bbox = query.geo.bbox()
    out: list[Entity] = []
    last = after
    raw = 0
    for entity in tx.twin_entities.query(
        query.tenant,
        types=query.type_names(),
        bbox=bbox,
        attrs_any=query.attrs,
        after_id=after,
        limit=size,
    ):
        raw += 1
        last = str(entity["id"])
        shaped = shape(entity) if keep(entity) else None
        if shaped is None:
            continue
        if render:
            attrs = frozenset(query.attrs) if query.attrs else None
            shaped = render_entity(shaped, terms, form="normalized", attrs=attrs)
        out.append(shaped)
    return out, (last if raw >= size else None)


def time_property(query: TwinQuery) -> Literal["observedAt", "modifiedAt"]:
    if query.time is not None and query.time.time_property != "observedAt":
        return "modifiedAt"
    return "observedAt"


def temporal_ids(tx: Tx, query: TwinQuery, terms: TermMap) -> list[tuple[str, list[str]]]:
    """The entities with a history in the time range that the query and view select."""
    start = query.time.start if query.time else None
    end = query.time.end if query.time else None
    prop = time_property(query)
    ids = tx.twin_instances.entity_ids(
        query.tenant, types=query.type_names(), start=start, end=end, time_property=prop
    )
    ids = [(i, t) for i, t in ids if query.types.matches(t)]
    if query.q is not None or query.geo is not None or query.view.within is not None:
        current = tx.twin_entities.get_many(query.tenant, [i for i, _t in ids])
        keep = candidate_filter(EntityQuery(q=query.q, geo=query.geo), terms)
        ids = [
            (i, t)
            for i, t in ids
            if i in current and keep(current[i]) and query.view.admits(current[i])
        ]
    return ids


def temporal_page(
    tx: Tx,
    query: TwinQuery,
    terms: TermMap,
    ids: list[tuple[str, list[str]]],
    secret: bytes,
    scope: str,
) -> list[Entity]:
    """The temporal evolution of ``ids`` (raw, or aggregated when the view says so)."""
    if not ids:
        return []
    start = query.time.start if query.time else None
    end = query.time.end if query.time else None
    prop = time_property(query)
    rows = tx.twin_instances.query(
        query.tenant,
        entity_ids=[i for i, _t in ids],
        attrs=query.attrs,
        start=start,
        end=end,
        time_property=prop,
    )
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        grouped[row.entity_id][row.attr].append(row.instance)
    aggregation = query.view.aggregate
    out = []
    for entity_id, types in ids:
        shaped = query.view.shape(
            {"id": entity_id, "type": types, "attrs": dict(grouped.get(entity_id, {}))},
            secret,
            scope,
        )
        out.append(
            render_temporal(
                shaped["id"],
                types,
                shaped["attrs"],
                terms,
                form="aggregated" if aggregation is not None else "normalized",
                aggregation=aggregation,
                time_filter=query.time,
                time_property=prop,
            )
        )
    return out


__all__ = [
    "TWIN_TYPE",
    "AssetError",
    "Shaper",
    "TwinQuery",
    "asset_context",
    "current_page",
    "parse_twin_query",
    "shaper",
    "temporal_ids",
    "temporal_page",
]
