"""The management API, shaped like Eclipse EDC's (v3), for people, the CLI and EDC client libraries.

Every route is served under ``/management/v3`` and again under ``/management/v4alpha``; every one
needs the header ``X-Api-Key`` (the connector's ``api_key``). Bodies are plain JSON or EDC's JSON-LD
form (``jsonld.body_of``). Routes are thin: read the body, call one service function
(``connector.admin``, ``connector.operations``, ``connector.remote``) in a threadpool, answer.
Errors are EDC's list ``[{"message", "type"}]`` (mapped in ``api.errors``). See
docs/management-api.md.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from twinspace.api import credentials, usage
from twinspace.connector import admin, operations, remote
from twinspace.connector.context import Context
from twinspace.connector.errors import ManagementError
from twinspace.connector.jsonld import body_of
from twinspace.connector.query import QuerySpec, parse_query
from twinspace.connector.service import Connector

Json = dict[str, Any]
PREFIX = "/management"
#: EDC's names for the management API versions; both serve the same routes here.
VERSIONS = ("v3", "v4alpha")

API_KEY_HEADER = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="The connector's management API key"
)

#: Definition kinds: path -> (create, get, update, delete, query) in ``connector.admin``.
DEFINITIONS: dict[str, tuple[Callable[..., Any], ...]] = {
    "assets": (
        admin.create_asset,
        admin.get_asset,
        admin.update_asset,
        admin.delete_asset,
        admin.query_assets,
    ),
    "policydefinitions": (
        admin.create_policy,
        admin.get_policy,
        admin.update_policy,
        admin.delete_policy,
        admin.query_policies,
    ),
    "contractdefinitions": (
        admin.create_contract_definition,
        admin.get_contract_definition,
        admin.update_contract_definition,
        admin.delete_contract_definition,
        admin.query_contract_definitions,
    ),
}


def authenticate(connector: Connector) -> Callable[..., Any]:
    expected = (connector.ctx.settings.api_key or "").encode()

    async def check(key: str | None = Depends(API_KEY_HEADER)) -> None:
        if key is None:
            raise ManagementError(401, "the X-Api-Key header is missing", "AuthenticationFailed")
        if not expected or not hmac.compare_digest(key.encode(), expected):
            raise ManagementError(401, "the X-Api-Key is not valid", "AuthenticationFailed")

    return check


async def read_body(request: Request, limit: int, *, required: bool = True) -> Json | None:
    """The request's JSON object, compacted; 400 (EDC error list) when it is not one."""
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > limit:
            raise ManagementError(413, f"the request body exceeds {limit} bytes")
    if not chunks.strip():
        if required:
            raise ManagementError(400, "a JSON object is required as the request body")
        return None
    try:
        raw = json.loads(chunks)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManagementError(400, f"the request body is not valid JSON: {exc}") from exc
    try:
        return body_of(raw)
    except ValueError as exc:
        raise ManagementError(400, str(exc)) from exc


def ok(doc: Any) -> JSONResponse:
    return JSONResponse(doc)


def no_content() -> Response:
    return Response(status_code=204)


def routes(connector: Connector) -> APIRouter:
    """The management routes once, without prefix (``router`` mounts them per version)."""
    api = APIRouter()
    ctx: Context = connector.ctx
    limit = ctx.settings.max_body_bytes

    async def body(request: Request) -> Json:
        found = await read_body(request, limit)
        assert found is not None
        return found

    async def query(request: Request) -> QuerySpec:
        return parse_query(await read_body(request, limit, required=False))

    async def run(fn: Callable[..., Any], *args: Any, wake: bool = False) -> Any:
        result = await run_in_threadpool(fn, *args)
        if wake:
            connector.wake()
        return result

    # --- assets, policy definitions, contract definitions ---------------------------------------

    def definition_routes(path: str, fns: tuple[Callable[..., Any], ...]) -> None:
        create, get, update, delete, find = fns

        @api.post(f"/{path}", tags=[path], name=f"create_{path}")
        async def create_route(request: Request) -> Response:
            return ok(await run(create, ctx, await body(request)))

        @api.post(f"/{path}/request", tags=[path], name=f"query_{path}")
        async def query_route(request: Request) -> Response:
            return ok(await run(find, ctx, await query(request)))

        @api.put(f"/{path}", tags=[path], name=f"update_{path}")
        async def update_route(request: Request) -> Response:
            await run(update, ctx, await body(request))
            return no_content()

        @api.get(f"/{path}/{{record_id:path}}", tags=[path], name=f"get_{path}")
        async def get_route(record_id: str) -> Response:
            return ok(await run(get, ctx, record_id))

        @api.delete(f"/{path}/{{record_id:path}}", tags=[path], name=f"delete_{path}")
        async def delete_route(record_id: str) -> Response:
            await run(delete, ctx, record_id)
            return no_content()

    for path, fns in DEFINITIONS.items():
        definition_routes(path, fns)

    # --- catalog of another connector ----------------------------------------------------------

    @api.post("/catalog/request", tags=["catalog"])
    async def catalog_request(request: Request) -> Response:
        return ok(await remote.request_catalog(connector, await body(request)))

    @api.post("/catalog/dataset/request", tags=["catalog"])
    async def dataset_request(request: Request) -> Response:
        return ok(await remote.request_dataset(connector, await body(request)))

    # --- contract negotiations and agreements ---------------------------------------------------

    @api.post("/contractnegotiations", tags=["contractnegotiations"])
    async def start_negotiation(request: Request) -> Response:
        return ok(
            await run(operations.start_negotiation, connector, await body(request), wake=True)
        )

    @api.post("/contractnegotiations/automatic", tags=["contractnegotiations"])
    async def negotiate_automatically(request: Request) -> Response:
        return ok(await remote.negotiate_automatically(connector, await body(request)))

    @api.post("/contractnegotiations/request", tags=["contractnegotiations"])
    async def query_negotiations(request: Request) -> Response:
        return ok(await run(operations.query_negotiations, connector, await query(request)))

    @api.get("/contractnegotiations/{negotiation_id}", tags=["contractnegotiations"])
    async def get_negotiation(negotiation_id: str) -> Response:
        return ok(await run(operations.get_negotiation, connector, negotiation_id))

    @api.get("/contractnegotiations/{negotiation_id}/state", tags=["contractnegotiations"])
    async def negotiation_state(negotiation_id: str) -> Response:
        return ok(await run(operations.negotiation_state, connector, negotiation_id))

    @api.get("/contractnegotiations/{negotiation_id}/agreement", tags=["contractnegotiations"])
    async def negotiation_agreement(negotiation_id: str) -> Response:
        return ok(await run(operations.negotiation_agreement, connector, negotiation_id))

    @api.post("/contractnegotiations/{negotiation_id}/terminate", tags=["contractnegotiations"])
    async def terminate_negotiation(negotiation_id: str, request: Request) -> Response:
        reason = await read_body(request, limit, required=False)
        await run(operations.terminate_negotiation, connector, negotiation_id, reason, wake=True)
        return no_content()

    @api.post("/contractagreements/request", tags=["contractagreements"])
    async def query_agreements(request: Request) -> Response:
        return ok(await run(operations.query_agreements, connector, await query(request)))

    @api.get("/contractagreements/{agreement_id}", tags=["contractagreements"])
    async def get_agreement(agreement_id: str) -> Response:
        return ok(await run(operations.get_agreement, connector, agreement_id))

    @api.get("/contractagreements/{agreement_id}/negotiation", tags=["contractagreements"])
    async def agreement_negotiation(agreement_id: str) -> Response:
        return ok(await run(operations.agreement_negotiation, connector, agreement_id))

    # --- transfer processes and EDRs -------------------------------------------------------------

    @api.post("/transferprocesses", tags=["transferprocesses"])
    async def start_transfer(request: Request) -> Response:
        return ok(await run(operations.start_transfer, connector, await body(request), wake=True))

    @api.post("/transferprocesses/request", tags=["transferprocesses"])
    async def query_transfers(request: Request) -> Response:
        return ok(await run(operations.query_transfers, connector, await query(request)))

    @api.get("/transferprocesses/{transfer_id}", tags=["transferprocesses"])
    async def get_transfer(transfer_id: str) -> Response:
        return ok(await run(operations.get_transfer, connector, transfer_id))

    @api.get("/transferprocesses/{transfer_id}/state", tags=["transferprocesses"])
    async def transfer_state(transfer_id: str) -> Response:
        return ok(await run(operations.transfer_state, connector, transfer_id))

    for action in operations.TRANSFER_ACTIONS:

        def bind_action(action: str = action) -> None:
            @api.post(
                f"/transferprocesses/{{transfer_id}}/{action}",
                tags=["transferprocesses"],
                name=action,
            )
            async def act(transfer_id: str, request: Request) -> Response:
                reason = await read_body(request, limit, required=False)
                await run(
                    operations.act_on_transfer, connector, transfer_id, action, reason, wake=True
                )
                return no_content()

        bind_action()

    @api.post("/edrs/request", tags=["edrs"])
    async def query_edrs(request: Request) -> Response:
        return ok(await run(operations.query_edrs, connector, await query(request)))

    @api.get("/edrs/{transfer_id}/dataaddress", tags=["edrs"])
    async def edr_data_address(transfer_id: str) -> Response:
        return ok(await run(operations.edr_data_address, connector, transfer_id))

    credentials.management_routes(api, connector)
    usage.management_routes(api, connector)
    return api


def router(connector: Connector) -> APIRouter:
    """``/management/v3/...`` and ``/management/v4alpha/...``, behind the API key."""
    outer = APIRouter(prefix=PREFIX, dependencies=[Depends(authenticate(connector))])
    inner = routes(connector)
    for version in VERSIONS:
        outer.include_router(inner, prefix=f"/{version}")
    return outer
