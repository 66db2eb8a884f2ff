"""``GET /management/v3/twin``: what the twin is doing, under the management API key: the MQTT
ingest (connected, received, applied, rejected, last error, reconnects), the notification outbox
(pending, sent, failed), subscriptions and tenants."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from twinspace.api.management import PREFIX, VERSIONS, authenticate
from twinspace.connector.service import Connector
from twinspace.twin.service import Twin


def router(twin: Twin, connector: Connector) -> APIRouter:
    api = APIRouter(prefix=PREFIX, dependencies=[Depends(authenticate(connector))])

    async def status() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(twin.status))

    for version in VERSIONS:
        api.add_api_route(f"/{version}/twin", status, methods=["GET"], tags=["twin"])

    return api
