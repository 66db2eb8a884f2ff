"""The temporal API (CIM 009 clauses 6.18-6.22, 6.24): thin routes over ``History``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from twinspace.api.ngsi.params import entity_query
from twinspace.api.ngsi.request import (
    csv,
    negotiate,
    options,
    query_context,
    read_body,
    tenant_of,
)
from twinspace.api.ngsi.respond import ngsi_response
from twinspace.twin.aggregate import parse_aggregation
from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.history import History, TemporalQuery
from twinspace.twin.querying import EntityQuery
from twinspace.twin.service import Twin
from twinspace.twin.temporal import parse_last_n, parse_timeproperty, parse_timerel


def temporal_query(request: Request, terms: TermMap, twin: Twin, *, listing: bool) -> TemporalQuery:
    params = request.query_params
    words = options(request)
    if listing:
        entities = entity_query(
            request,
            terms,
            default_limit=twin.limits.default_limit,
            max_limit=twin.limits.max_limit,
        )
    else:
        attrs = csv(request, "attrs")
        entities = EntityQuery(attrs=[terms.expand(a) for a in attrs] if attrs else None)
    time = parse_timerel(
        params.get("timerel"),
        params.get("timeAt"),
        params.get("endTimeAt"),
        timeproperty=params.get("timeproperty"),
    )
    aggregated = "aggregatedValues" in words or params.get("format") == "aggregatedValues"
    temporal_values = "temporalValues" in words or params.get("format") == "temporalValues"
    if aggregated and temporal_values:
        raise NgsiError("BadRequestData", "temporalValues and aggregatedValues exclude each other")
    aggregation = None
    if aggregated:
        aggregation = parse_aggregation(params.get("aggrMethods"), params.get("aggrPeriodDuration"))
    return TemporalQuery(
        entities=entities,
        time=time,
        last_n=parse_last_n(params.get("lastN")),
        form="aggregated" if aggregated else "temporalValues" if temporal_values else "normalized",
        aggregation=aggregation,
        sys_attrs="sysAttrs" in words,
        timeproperty=parse_timeproperty(params.get("timeproperty")),
    )


def router(twin: Twin) -> APIRouter:
    api = APIRouter(prefix="/temporal", tags=["ngsi-ld temporal"])
    history = History(twin.store, twin.clock)
    limit = twin.limits.max_body_bytes

    @api.get("/entities")
    async def query(request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        tq = temporal_query(request, terms, twin, listing=True)
        if tq.entities.is_empty():
            raise NgsiError(
                "BadRequestData",
                "a temporal query needs at least one of type, id, idPattern, attrs, q or geo-query",
            )
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        result = await run_in_threadpool(history.query, tenant, tq, terms)
        headers = {} if result.total is None else {"NGSILD-Results-Count": str(result.total)}
        return ngsi_response(result.entities, media, context, headers=headers)

    @api.get("/entities/{entity_id}")
    async def retrieve(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        tq = temporal_query(request, terms, twin, listing=False)
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        body = await run_in_threadpool(history.entity, tenant, entity_id, tq, terms)
        return ngsi_response(body, media, context)

    @api.post("/entities")
    async def upsert(request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        created = await run_in_threadpool(history.upsert, tenant, body.payload, terms)
        if created:
            location = f"/ngsi-ld/v1/temporal/entities/{quote(body.payload['id'], safe=':')}"
            return Response(status_code=201, headers={"Location": location})
        return Response(status_code=204)

    @api.delete("/entities/{entity_id}")
    async def delete(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        await run_in_threadpool(history.delete, tenant, entity_id)
        return Response(status_code=204)

    @api.post("/entities/{entity_id}/attrs")
    async def add_attrs(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        await run_in_threadpool(history.add_attrs, tenant, entity_id, body.payload, terms)
        return Response(status_code=204)

    @api.delete("/entities/{entity_id}/attrs/{attr}")
    async def delete_attr(entity_id: str, attr: str, request: Request) -> Response:
        tenant = tenant_of(request)
        terms = await twin.terms(query_context(request))
        params = request.query_params
        delete_all = params.get("deleteAll", "").lower() == "true"
        iri = terms.expand(attr)
        await run_in_threadpool(
            lambda: history.delete_attr(
                tenant, entity_id, iri, dataset_id=params.get("datasetId"), delete_all=delete_all
            )
        )
        return Response(status_code=204)

    @api.patch("/entities/{entity_id}/attrs/{attr}/{instance_id}")
    async def patch_instance(
        entity_id: str, attr: str, instance_id: str, request: Request
    ) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        payload: Any = body.payload
        value = payload.get(attr, payload) if isinstance(payload, dict) else payload
        await run_in_threadpool(
            history.replace_instance,
            tenant,
            entity_id,
            terms.expand(attr),
            instance_id,
            value,
            terms,
        )
        return Response(status_code=204)

    @api.delete("/entities/{entity_id}/attrs/{attr}/{instance_id}")
    async def delete_instance(
        entity_id: str, attr: str, instance_id: str, request: Request
    ) -> Response:
        tenant = tenant_of(request)
        terms = await twin.terms(query_context(request))
        await run_in_threadpool(
            history.delete_instance, tenant, entity_id, terms.expand(attr), instance_id
        )
        return Response(status_code=204)

    return api
