"""What the twin holds (CIM 009 clauses 6.25-6.28: /types, /attributes) and the @context
documents it keeps (clause 6.29: /jsonldContexts)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from twinspace.api.ngsi.request import (
    EncodedPathRoute,
    negotiate,
    query_context,
    read_body,
    tenant_of,
)
from twinspace.api.ngsi.respond import ngsi_response, plain
from twinspace.twin.errors import NgsiError
from twinspace.twin.service import Twin


def _list_id(kind: str) -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4()}"


def _details(request: Request) -> bool:
    return request.query_params.get("details", "").lower() == "true"


def router(twin: Twin) -> APIRouter:
    api = APIRouter(tags=["ngsi-ld types and attributes"], route_class=EncodedPathRoute)

    def read(fn: Any, tenant: str, *args: Any) -> Any:
        twin.broker.require_tenant(tenant)
        with twin.store.transaction() as tx:
            return fn(tx)(tenant, *args)

    @api.get("/types")
    async def types(request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        found = await run_in_threadpool(read, lambda tx: tx.twin_entities.types, tenant)
        if not _details(request):
            body: Any = {
                "id": _list_id("EntityTypeList"),
                "type": "EntityTypeList",
                "typeList": sorted(terms.compact_type(t) for t, _n in found),
            }
            return ngsi_response(body, media, context)
        attributes = await run_in_threadpool(read, lambda tx: tx.twin_entities.attributes, tenant)
        items = []
        for type_iri, _count in found:
            names = sorted(terms.compact(a) for a, _at, types in attributes if type_iri in types)
            items.append(
                {
                    "id": type_iri,
                    "type": "EntityType",
                    "typeName": terms.compact_type(type_iri),
                    "attributeNames": names,
                }
            )
        return ngsi_response(items, media, context)

    @api.get("/types/{type_name}")
    async def type_info(type_name: str, request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        type_iri = terms.expand_type(type_name)
        counts = dict(await run_in_threadpool(read, lambda tx: tx.twin_entities.types, tenant))
        if type_iri not in counts:
            raise NgsiError("ResourceNotFound", f"no entity of type {type_name!r}")
        attributes = await run_in_threadpool(read, lambda tx: tx.twin_entities.attributes, tenant)
        details = [
            {
                "id": attr,
                "type": "Attribute",
                "attributeName": terms.compact(attr),
                "attributeTypes": sorted(attr_types),
            }
            for attr, attr_types, types in attributes
            if type_iri in types
        ]
        body = {
            "id": type_iri,
            "type": "EntityTypeInfo",
            "typeName": terms.compact_type(type_iri),
            "entityCount": counts[type_iri],
            "attributeDetails": details,
        }
        return ngsi_response(body, media, context)

    @api.get("/attributes")
    async def attributes(request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        found = await run_in_threadpool(read, lambda tx: tx.twin_entities.attributes, tenant)
        if not _details(request):
            body: Any = {
                "id": _list_id("AttributeList"),
                "type": "AttributeList",
                "attributeList": sorted(terms.compact(a) for a, _at, _types in found),
            }
            return ngsi_response(body, media, context)
        items = [
            {
                "id": attr,
                "type": "Attribute",
                "attributeName": terms.compact(attr),
                "typeNames": sorted(terms.compact_type(t) for t in types),
            }
            for attr, _attr_types, types in found
        ]
        return ngsi_response(items, media, context)

    @api.get("/attributes/{attr}")
    async def attribute_info(attr: str, request: Request) -> Response:
        tenant = tenant_of(request)
        media = negotiate(request)
        context = query_context(request)
        terms = await twin.terms(context)
        iri = terms.expand(attr)
        found = await run_in_threadpool(read, lambda tx: tx.twin_entities.attributes, tenant)
        for name, attr_types, types in found:
            if name == iri:
                body = {
                    "id": iri,
                    "type": "Attribute",
                    "attributeName": terms.compact(iri),
                    "attributeTypes": sorted(attr_types),
                    "typeNames": sorted(terms.compact_type(t) for t in types),
                }
                return ngsi_response(body, media, context)
        raise NgsiError("ResourceNotFound", f"no attribute {attr!r}")

    @api.get("/jsonldContexts")
    async def contexts(request: Request) -> Response:
        kind = request.query_params.get("kind")
        entries = [e for e in twin.contexts.entries() if kind is None or e.kind == kind]
        if _details(request):
            return plain([e.info() for e in entries])
        return plain([e.url for e in entries])

    @api.get("/jsonldContexts/{context_id:path}")
    async def context(context_id: str, request: Request) -> Response:
        entry = twin.contexts.get(context_id)
        if entry is None:
            raise NgsiError("ResourceNotFound", f"no @context {context_id!r}")
        if _details(request):
            return plain(entry.info())
        return plain({"@context": entry.document})

    @api.post("/jsonldContexts")
    async def add_context(request: Request) -> Response:
        body = await read_body(request, twin.limits.max_body_bytes, contextual=False)
        document = body.payload.get("@context")
        if not isinstance(document, dict | list):
            raise NgsiError(
                "BadRequestData", "a hosted @context is a JSON object with an @context member"
            )
        entry = twin.contexts.add(document)
        return Response(status_code=201, headers={"Location": entry.url})

    @api.delete("/jsonldContexts/{context_id:path}")
    async def delete_context(context_id: str, request: Request) -> Response:
        reload = request.query_params.get("reload", "").lower() == "true"
        if not twin.contexts.delete(context_id, reload=reload):
            raise NgsiError("ResourceNotFound", f"no @context {context_id!r}")
        return Response(status_code=204)

    return api
