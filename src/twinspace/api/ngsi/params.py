"""Query parameters of the NGSI-LD API turned into the twin's own query and projection types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from twinspace.api.ngsi.request import GEO_JSON, csv, integer, options
from twinspace.twin.context import TermMap
from twinspace.twin.entity import render_entity, render_geojson
from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import parse_geoquery
from twinspace.twin.qlang import parse_q
from twinspace.twin.querying import EntityQuery, parse_type_selector

Entity = dict[str, Any]
_FORMS = {
    "keyValues": "keyValues",
    "simplified": "keyValues",
    "concise": "concise",
    "normalized": "normalized",
}


@dataclass(frozen=True)
class Projection:
    """How entities are shown: form, system attributes, which attributes, which instances."""

    form: str = "normalized"
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None  # expanded attribute IRIs to keep (None: all)
    omit: frozenset[str] = frozenset()  # expanded attribute IRIs to drop
    keep_id: bool = True
    keep_type: bool = True
    dataset_ids: frozenset[str] | None = None
    geometry_property: str = "location"
    geojson: bool = False

    def render(self, entity: Entity, terms: TermMap) -> dict[str, Any]:
        attrs: set[str] | None = None
        if self.attrs is not None or self.omit:
            names = set(self.attrs) if self.attrs is not None else set(entity["attrs"])
            attrs = names - set(self.omit)
        if self.geojson:
            body = render_geojson(
                entity,
                terms,
                form=self.form,
                sys_attrs=self.sys_attrs,
                attrs=attrs,
                geometry_property=terms.expand(self.geometry_property),
            )
            return body
        body = render_entity(
            entity,
            terms,
            form=self.form,
            sys_attrs=self.sys_attrs,
            attrs=attrs,
            dataset_id=set(self.dataset_ids) if self.dataset_ids is not None else None,
        )
        if not self.keep_id:
            body.pop("id", None)
        if not self.keep_type:
            body.pop("type", None)
        return body


def projection(request: Request, terms: TermMap, media: str) -> Projection:
    words = options(request)
    forms = {_FORMS[w] for w in words if w in _FORMS}
    if len(forms) > 1:
        raise NgsiError(
            "BadRequestData", "options keyValues, concise and normalized exclude each other"
        )
    unknown = (
        words
        - set(_FORMS)
        - {
            "sysAttrs",
            "noOverwrite",
            "count",
            "temporalValues",
            "aggregatedValues",
            "noHistory",
            "replace",
            "update",
        }
    )
    if unknown:
        raise NgsiError("BadRequestData", f"unknown options: {', '.join(sorted(unknown))}")
    attrs = csv(request, "attrs")
    pick = csv(request, "pick")
    omit = csv(request, "omit")
    if pick is not None and omit is not None:
        raise NgsiError("BadRequestData", "pick and omit cannot be used together")
    keep: set[str] | None = None
    if attrs is not None:
        keep = {terms.expand(a) for a in attrs}
    keep_id = keep_type = True
    if pick is not None:
        keep_id, keep_type = "id" in pick, "type" in pick
        picked = {terms.expand(a) for a in pick if a not in ("id", "type")}
        keep = picked if keep is None else keep & picked
    dropped: set[str] = set()
    if omit is not None:
        keep_id, keep_type = "id" not in omit, "type" not in omit
        dropped = {terms.expand(a) for a in omit if a not in ("id", "type")}
    dataset = csv(request, "datasetId")
    return Projection(
        form=next(iter(forms), "normalized"),
        sys_attrs="sysAttrs" in words,
        attrs=frozenset(keep) if keep is not None else None,
        omit=frozenset(dropped),
        keep_id=keep_id,
        keep_type=keep_type,
        dataset_ids=frozenset(dataset) if dataset is not None else None,
        geometry_property=request.query_params.get("geometryProperty") or "location",
        geojson=media == GEO_JSON,
    )


def entity_query(
    request: Request, terms: TermMap, *, default_limit: int, max_limit: int
) -> EntityQuery:
    params = request.query_params
    type_text = params.get("type")
    ids = csv(request, "id")
    for eid in ids or []:
        if ":" not in eid:
            raise NgsiError("BadRequestData", f"the id {eid!r} is not a URI")
    q_text = params.get("q")
    georel = params.get("georel")
    geo = None
    if georel is not None or params.get("geometry") is not None:
        if georel is None or params.get("geometry") is None or params.get("coordinates") is None:
            raise NgsiError(
                "BadRequestData", "a geo-query needs georel, geometry and coordinates together"
            )
        geo = parse_geoquery(
            georel, params["geometry"], params["coordinates"], params.get("geoproperty")
        )
    limit, offset, count = paging(request, default_limit=default_limit, max_limit=max_limit)
    attrs = csv(request, "attrs")
    return EntityQuery(
        types=parse_type_selector(type_text, terms) if type_text else None,
        ids=ids,
        id_pattern=params.get("idPattern"),
        attrs=[terms.expand(a) for a in attrs] if attrs else None,
        q=parse_q(q_text) if q_text else None,
        geo=geo,
        limit=limit,
        offset=offset,
        count=count,
    )


def paging(request: Request, *, default_limit: int, max_limit: int) -> tuple[int, int, bool]:
    """``limit``, ``offset`` and ``count`` of a query (clause 6.4.3.2 / 5.5.9): a limit over
    the maximum is TooManyResults; ``limit=0`` only with ``count=true``."""
    limit = integer(request, "limit", default_limit)
    assert limit is not None
    if limit > max_limit:
        raise NgsiError("TooManyResults", f"limit {limit} exceeds the maximum of {max_limit}")
    count = request.query_params.get("count", "").lower() == "true" or "count" in options(request)
    if limit == 0 and not count:
        raise NgsiError("BadRequestData", "limit=0 is only allowed together with count=true")
    return limit, integer(request, "offset", 0) or 0, count
