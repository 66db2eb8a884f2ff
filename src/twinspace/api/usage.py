"""Management routes of usage control (mounted by ``api.management`` under the API key):

``POST /policydefinitions/validate``  problems of a policy (errors, contradictions)
``POST /policies/explain``            a decision with its reasons for a described request
``GET  /agreements/{id}/usage``       uses, duties and the usage log of an agreement
``POST /transferprocesses/{id}/received``  where the consumer keeps a pulled copy (delete duties)
``POST|GET /signals``, ``DELETE /signals/{name}``
                                      events and states for the facts ``event``, ``state``
``POST|GET /acceptancerules``, ``DELETE /acceptancerules/{id}``
                                      the consumer's acceptance profile
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from twinspace.connector.errors import ManagementError
from twinspace.connector.service import Connector
from twinspace.identity import IdentityError
from twinspace.ledger import LedgerError
from twinspace.usage import admin


async def _body(request: Request, limit: int) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > limit:
        raise ManagementError(413, f"the request body exceeds {limit} bytes")
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManagementError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ManagementError(400, "the request body must be a JSON object")
    return body


def management_routes(api: APIRouter, connector: Connector) -> None:
    ctx = connector.ctx
    limit = ctx.settings.max_body_bytes

    @api.post("/policydefinitions/validate", tags=["policydefinitions"])
    async def validate(request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(admin.validate, await _body(request, limit)))

    @api.post("/policies/explain", tags=["usage"])
    async def explain(request: Request) -> JSONResponse:
        body = await _body(request, limit)
        return JSONResponse(await run_in_threadpool(admin.explain, ctx, body))

    @api.get("/agreements/{agreement_id}/usage", tags=["usage"])
    async def usage(agreement_id: str) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(admin.usage_of, ctx, agreement_id))

    @api.post("/transferprocesses/{transfer_id}/received", tags=["transferprocesses"])
    async def received(transfer_id: str, request: Request) -> JSONResponse:
        body = await _body(request, limit)
        return JSONResponse(await run_in_threadpool(admin.record_received, ctx, transfer_id, body))

    @api.get("/transparency", tags=["transparency"])
    async def transparency() -> JSONResponse:
        """This participant's view of the transparency log (for ``twinspace audit``)."""
        if connector.ledger is None:
            raise ManagementError(
                409, "no transparency log is configured (auth=dcp and an authority)", "NotSupported"
            )
        try:
            return JSONResponse(await connector.ledger.view())
        except IdentityError as exc:
            raise ManagementError(502, f"the log cannot be reached: {exc.message}") from None

    @api.get("/agreements/{agreement_id}/trail", tags=["transparency"])
    async def trail(agreement_id: str) -> JSONResponse:
        """Everything the log holds about an agreement, each entry's inclusion proof verified
        here against the log's signed checkpoint."""
        if connector.ledger is None:
            raise ManagementError(409, "no transparency log is configured", "NotSupported")
        try:
            return JSONResponse(await connector.ledger.trail(agreement_id))
        except (IdentityError, LedgerError, OSError, ValueError) as exc:
            raise ManagementError(502, f"the trail cannot be checked: {exc}") from None

    @api.post("/signals", tags=["usage"])
    async def put_signal(request: Request) -> JSONResponse:
        body = await _body(request, limit)
        return JSONResponse(await run_in_threadpool(admin.put_signal, ctx, body))

    @api.get("/signals", tags=["usage"])
    async def list_signals() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(admin.list_signals, ctx))

    @api.delete("/signals/{name}", tags=["usage"])
    async def delete_signal(name: str) -> Response:
        await run_in_threadpool(admin.delete_signal, ctx, name)
        return Response(status_code=204)

    @api.post("/acceptancerules", tags=["usage"])
    async def create_rule(request: Request) -> JSONResponse:
        body = await _body(request, limit)
        return JSONResponse(await run_in_threadpool(admin.create_rule, ctx, body))

    @api.get("/acceptancerules", tags=["usage"])
    async def list_rules() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(admin.list_rules, ctx))

    @api.delete("/acceptancerules/{rule_id}", tags=["usage"])
    async def delete_rule(rule_id: str) -> Response:
        await run_in_threadpool(admin.delete_rule, ctx, rule_id)
        return Response(status_code=204)
