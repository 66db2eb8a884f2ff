"""Subscriptions (CIM 009 clauses 6.10-6.11): thin routes over ``Subscriptions``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from twinspace.api.ngsi.request import (
    integer,
    negotiate,
    options,
    query_context,
    read_body,
    tenant_of,
)
from twinspace.api.ngsi.respond import ngsi_response
from twinspace.twin.errors import NgsiError
from twinspace.twin.service import Twin
from twinspace.twin.subscription import render_subscription


def router(twin: Twin) -> APIRouter:
    api = APIRouter(prefix="/subscriptions", tags=["ngsi-ld subscriptions"])
    subs = twin.subscriptions
    limit = twin.limits.max_body_bytes

    @api.post("")
    @api.post("/", include_in_schema=False)
    async def create(request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        sub_id = await run_in_threadpool(subs.create, tenant, body.payload, terms, body.context)
        location = f"/ngsi-ld/v1/subscriptions/{quote(sub_id, safe=':')}"
        return Response(status_code=201, headers={"Location": location})

    @api.get("")
    @api.get("/", include_in_schema=False)
    async def listing(request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        size = integer(request, "limit", twin.limits.default_limit) or 0
        if size > twin.limits.max_limit:
            raise NgsiError("TooManyResults", f"limit {size} exceeds {twin.limits.max_limit}")
        offset = integer(request, "offset", 0) or 0
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        found, total = await run_in_threadpool(subs.list, tenant, offset, size)
        sys_attrs = "sysAttrs" in options(request)
        body = [render_subscription(s, terms, st, sys_attrs=sys_attrs) for s, st in found]
        headers = {}
        if request.query_params.get("count", "").lower() == "true":
            headers["NGSILD-Results-Count"] = str(total)
        return ngsi_response(body, media, context, headers=headers)

    @api.get("/{sub_id}")
    async def retrieve(sub_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        sub, status = await run_in_threadpool(subs.get, tenant, sub_id)
        body = render_subscription(sub, terms, status, sys_attrs="sysAttrs" in options(request))
        return ngsi_response(body, media, context)

    @api.patch("/{sub_id}")
    async def update(sub_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_body(request, limit)
        terms = await twin.terms(body.context)
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        await run_in_threadpool(subs.update, tenant, sub_id, body.payload, terms)
        return Response(status_code=204)

    @api.delete("/{sub_id}")
    async def delete(sub_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        await run_in_threadpool(twin.broker.require_tenant, tenant)
        await run_in_threadpool(subs.delete, tenant, sub_id)
        return Response(status_code=204)

    return api
