"""Batch entity operations (CIM 009 clause 6.14-6.18, 6.31, 6.23): create, upsert, update,
delete, merge and query, each answering a BatchOperationResult when not all succeeded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from twinspace.api.ngsi.params import paging, projection
from twinspace.api.ngsi.request import JSON, negotiate, options, read_body, tenant_of
from twinspace.api.ngsi.respond import ngsi_response, plain
from twinspace.twin.broker import BatchResult
from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import parse_geoquery
from twinspace.twin.qlang import parse_q
from twinspace.twin.querying import EntityQuery, parse_type_selector, run_query
from twinspace.twin.service import Twin


def _answer(result: BatchResult, *, created_status: bool) -> Response:
    if result.errors:
        return plain(result.body(), status=207)
    if created_status and result.created:
        return plain(result.created, status=201)
    return Response(status_code=204)


def router(twin: Twin) -> APIRouter:
    api = APIRouter(prefix="/entityOperations", tags=["ngsi-ld batch"])
    limit = twin.limits.max_body_bytes

    async def batch_body(request: Request) -> tuple[str, list[Any], Any]:
        tenant = tenant_of(request)
        body = await read_body(request, limit, expect=list)
        terms = await twin.terms(body.context)
        return tenant, body.payload, terms

    @api.post("/create")
    async def create(request: Request) -> Response:
        tenant, items, terms = await batch_body(request)
        result = await run_in_threadpool(twin.broker.batch_create, tenant, items, terms)
        if result.errors:
            return plain(result.body(), status=207)
        return plain(result.success, status=201)

    @api.post("/upsert")
    async def upsert(request: Request) -> Response:
        tenant, items, terms = await batch_body(request)
        mode = options(request)
        if {"replace", "update"} <= mode:
            raise NgsiError("BadRequestData", "options replace and update exclude each other")
        result = await run_in_threadpool(
            lambda: twin.broker.batch_upsert(tenant, items, terms, update="update" in mode)
        )
        return _answer(result, created_status=True)

    @api.post("/update")
    async def update(request: Request) -> Response:
        tenant, items, terms = await batch_body(request)
        keep = "noOverwrite" in options(request)
        result = await run_in_threadpool(
            lambda: twin.broker.batch_update(tenant, items, terms, no_overwrite=keep)
        )
        return _answer(result, created_status=False)

    @api.post("/merge")
    async def merge(request: Request) -> Response:
        tenant, items, terms = await batch_body(request)
        result = await run_in_threadpool(twin.broker.batch_merge, tenant, items, terms)
        return _answer(result, created_status=False)

    @api.post("/delete")
    async def delete(request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit, expect=list)
        result = await run_in_threadpool(twin.broker.batch_delete, tenant, body.payload)
        return _answer(result, created_status=False)

    @api.post("/query")
    async def query(request: Request) -> Response:
        """Query entities with the query in the body (a ``Query`` object, clause 5.2.23)."""
        tenant = tenant_of(request)
        media = negotiate(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        spec = body.payload
        if spec.get("type") != "Query":
            raise NgsiError("BadRequestData", 'a query body needs "type": "Query"')
        selectors = spec.get("entities") or []
        if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
            raise NgsiError("BadRequestData", "entities must be a list of EntitySelector objects")
        types = [s["type"] for s in selectors if isinstance(s.get("type"), str)]
        ids = [s["id"] for s in selectors if isinstance(s.get("id"), str)]
        patterns = [s["idPattern"] for s in selectors if isinstance(s.get("idPattern"), str)]
        geo_q = spec.get("geoQ")
        geo = None
        if isinstance(geo_q, dict):
            geo = parse_geoquery(
                str(geo_q.get("georel", "")),
                str(geo_q.get("geometry", "")),
                geo_q.get("coordinates") or "",
                geo_q.get("geoproperty"),
            )
        attrs = spec.get("attrs")
        page_size, offset, count = paging(
            request, default_limit=twin.limits.default_limit, max_limit=twin.limits.max_limit
        )
        q = EntityQuery(
            types=parse_type_selector(",".join(types), terms) if types else None,
            ids=ids or None,
            id_pattern="|".join(f"(?:{p})" for p in patterns) if patterns else None,
            attrs=[terms.expand(a) for a in attrs] if isinstance(attrs, list) and attrs else None,
            q=parse_q(spec["q"]) if isinstance(spec.get("q"), str) else None,
            geo=geo,
            limit=page_size,
            offset=offset,
            count=count,
        )
        if q.is_empty():
            raise NgsiError(
                "BadRequestData",
                "a query needs at least one of entities, attrs, q or geoQ",
            )
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        result = await run_in_threadpool(run_query, twin.store, tenant, q, terms)
        shape = projection(request, terms, media)
        items = [shape.render(e, terms) for e in result.entities]
        headers = {} if result.total is None else {"NGSILD-Results-Count": str(result.total)}
        return ngsi_response(items, media if media != JSON else JSON, body.context, headers=headers)

    return api
