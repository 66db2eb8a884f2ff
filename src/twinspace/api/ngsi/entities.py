"""Entities and their attributes (CIM 009 clauses 6.4-6.7): thin routes over ``Twin``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from twinspace.api.ngsi.params import entity_query, projection
from twinspace.api.ngsi.request import (
    GEO_JSON,
    EncodedPathRoute,
    negotiate,
    options,
    query_context,
    read_body,
    tenant_of,
)
from twinspace.api.ngsi.respond import ngsi_response, plain
from twinspace.twin.broker import UpdateResult
from twinspace.twin.errors import NgsiError
from twinspace.twin.querying import run_query
from twinspace.twin.service import Twin


def _no_content() -> Response:
    return Response(status_code=204)


def _update_result(result: UpdateResult) -> Response:
    if result.not_updated:
        return plain(result.body(), status=207)
    return _no_content()


def router(twin: Twin) -> APIRouter:
    api = APIRouter(tags=["ngsi-ld entities"], route_class=EncodedPathRoute)
    limit = twin.limits.max_body_bytes

    @api.post("/entities")
    async def create(request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        entity_id = await run_in_threadpool(twin.broker.create, tenant, body.payload, terms)
        headers = {"Location": f"/ngsi-ld/v1/entities/{quote(entity_id, safe=':')}"}
        return Response(status_code=201, headers=headers)

    @api.get("/entities")
    async def query(request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request, geojson=True)
        context = query_context(request)
        terms = await twin.terms(context)
        q = entity_query(
            request, terms, default_limit=twin.limits.default_limit, max_limit=twin.limits.max_limit
        )
        if q.is_empty() and request.query_params.get("local") != "true":
            raise NgsiError(
                "BadRequestData",
                "a query needs at least one of type, id, idPattern, attrs, q or a geo-query",
            )
        shape = projection(request, terms, media)
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        result = await run_in_threadpool(run_query, twin.store, tenant, q, terms)
        items = [shape.render(e, terms) for e in result.entities]
        body: Any = items
        if media == GEO_JSON:
            body = {"type": "FeatureCollection", "features": items}
        headers = {}
        if result.total is not None:
            headers["NGSILD-Results-Count"] = str(result.total)
        return ngsi_response(body, media, context, headers=headers)

    @api.get("/entities/{entity_id}")
    async def retrieve(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request, geojson=True)
        context = query_context(request)
        terms = await twin.terms(context)
        shape = projection(request, terms, media)
        entity = await run_in_threadpool(twin.broker.retrieve, tenant, entity_id)
        if shape.attrs is not None and shape.attrs.isdisjoint(entity["attrs"]) and shape.attrs:
            raise NgsiError(
                "ResourceNotFound", f"the entity {entity_id!r} has none of the requested attributes"
            )
        return ngsi_response(shape.render(entity, terms), media, context)

    @api.put("/entities/{entity_id}")
    async def replace(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        await run_in_threadpool(twin.broker.replace, tenant, entity_id, body.payload, terms)
        return _no_content()

    @api.patch("/entities/{entity_id}")
    async def merge(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit, merge_patch=True)
        terms = await twin.terms(body.context)
        await run_in_threadpool(twin.broker.merge, tenant, entity_id, body.payload, terms)
        return _no_content()

    @api.delete("/entities/{entity_id}")
    async def delete(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        await run_in_threadpool(twin.broker.delete, tenant, entity_id)
        return _no_content()

    @api.post("/entities/{entity_id}/attrs")
    async def append(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        keep = "noOverwrite" in options(request)
        result = await run_in_threadpool(
            lambda: twin.broker.append_attrs(
                tenant, entity_id, body.payload, terms, no_overwrite=keep
            )
        )
        return _update_result(result)

    @api.patch("/entities/{entity_id}/attrs")
    async def update(entity_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        result = await run_in_threadpool(
            twin.broker.update_attrs, tenant, entity_id, body.payload, terms
        )
        return _update_result(result)

    @api.patch("/entities/{entity_id}/attrs/{attr}")
    async def patch_attr(entity_id: str, attr: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        await run_in_threadpool(
            twin.broker.patch_attr, tenant, entity_id, attr, body.payload, terms
        )
        return _no_content()

    @api.put("/entities/{entity_id}/attrs/{attr}")
    async def replace_attr(entity_id: str, attr: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        await run_in_threadpool(
            twin.broker.replace_attr, tenant, entity_id, attr, body.payload, terms
        )
        return _no_content()

    @api.delete("/entities/{entity_id}/attrs/{attr}")
    async def delete_attr(entity_id: str, attr: str, request: Request) -> Response:
        tenant = tenant_of(request)
        terms = await twin.terms(query_context(request))
        dataset_id = request.query_params.get("datasetId")
        delete_all = request.query_params.get("deleteAll", "").lower() == "true"
        await run_in_threadpool(
            lambda: twin.broker.delete_attr(
                tenant, entity_id, attr, terms, dataset_id=dataset_id, delete_all=delete_all
            )
        )
        return _no_content()

    return api
