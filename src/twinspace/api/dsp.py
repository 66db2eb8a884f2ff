"""The DSP 2025-1 HTTPS binding: catalog, negotiation and transfer endpoints for both roles."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from twinspace.api.body import json_body
from twinspace.connector.errors import ProtocolError, bad_request, not_found
from twinspace.connector.processes import Reply
from twinspace.connector.service import Connector
from twinspace.identity import IdentityError
from twinspace.protocol.machine import Role
from twinspace.protocol.schemas import DSPACE_CONTEXT, SchemaViolation, validate
from twinspace.usage.claims import snapshot

log = logging.getLogger("twinspace.trust")


def _reply(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status)


def caller_of(request: Request) -> str | None:
    """The calling participant (unauthenticated profile: the Authorization header's value)."""
    value = request.headers.get("authorization")
    return value.strip() or None if value else None


#: The DCP profile advertised in ``/.well-known/dspace-version`` (DCP 1.0 §4.1: VC DM 2.0
#: credentials secured with JOSE, Bitstring Status List revocation).
AUTH_PROFILE = {"protocol": "DCP", "version": "1.0", "profile": ["vc20-bssl/jwt"]}


def router(connector: Connector) -> APIRouter:
    api = APIRouter()
    limit = connector.ctx.settings.max_body_bytes
    trust = connector.trust

    async def caller(request: Request, area: str) -> str | None:
        """The authenticated caller (its DID) under DCP, else the unauthenticated header value.

        A caller that cannot be authenticated gets 404, as the DSP binding requires (nothing about
        why is sent; the reason is logged)."""
        if trust is None:
            return caller_of(request)
        try:
            claims = await trust.authenticate(request.headers.get("authorization"))
        except IdentityError as exc:
            log.warning("refused a DSP call to %s: %s: %s", request.url.path, exc.code, exc.message)
            raise ProtocolError(area, 404, "NOT_FOUND", "not found") from None
        request.state.claims = claims
        return claims.did

    def claims_of(request: Request, who: str | None) -> dict[str, Any] | None:
        """The snapshot of what was verified about the caller (for the policy checks)."""
        return snapshot(getattr(request.state, "claims", None), who)

    def bound(who: str | None) -> str | None:
        """Under DCP a caller only sees its own processes."""
        return who if trust is not None else None

    async def call(fn: Callable[..., Reply], *args: Any) -> JSONResponse:
        reply = await run_in_threadpool(fn, *args)
        connector.wake()
        return _reply(reply)

    # --- catalog --------------------------------------------------------------------------------

    @api.post("/catalog/request")
    async def catalog_request(
        request: Request, offset: int = 0, limit_: int | None = None
    ) -> Response:
        who = await caller(request, "catalog")
        body = await json_body(request, "catalog", limit)
        try:
            validate(body, "CatalogRequestMessage")
        except SchemaViolation as exc:
            raise ProtocolError("catalog", 400, "INVALID_MESSAGE", str(exc)) from exc
        if body.get("filter"):
            raise ProtocolError(
                "catalog",
                400,
                "UNSUPPORTED_FILTER",
                "catalog filters are not supported; send an empty filter",
            )
        size = connector.ctx.settings.catalog_page_size
        page = min(size, limit_) if limit_ and limit_ > 0 else size
        if offset < 0:
            raise ProtocolError("catalog", 400, "INVALID_PAGE", "offset must not be negative")
        datasets, total = await run_in_threadpool(
            connector.catalog_page, offset, page, claims_of(request, who)
        )
        links = []
        base = str(request.url.remove_query_params(["offset", "limit_"]))
        if offset + page < total:
            links.append(f'<{base}?offset={offset + page}&limit_={page}>; rel="next"')
        if offset > 0:
            links.append(f'<{base}?offset={max(0, offset - page)}&limit_={page}>; rel="previous"')
        headers = {"Link": ", ".join(links)} if links else {}
        return JSONResponse(connector.ctx.catalog.catalog(datasets), headers=headers)

    @api.get("/catalog/datasets/{dataset_id:path}")
    async def dataset(dataset_id: str, request: Request) -> Response:
        who = await caller(request, "catalog")
        found = await run_in_threadpool(connector.dataset, dataset_id, claims_of(request, who))
        if found is None:
            raise ProtocolError("catalog", 404, "NOT_FOUND", f"dataset {dataset_id!r} not found")
        return JSONResponse({"@context": [DSPACE_CONTEXT], **found})

    # --- negotiation ----------------------------------------------------------------------------

    neg = connector.negotiations

    async def role_for(
        request: Request, pid: str, area: str, svc: Any, only: Role | None = None
    ) -> Role:
        who = bound(await caller(request, area))
        role: Role | None = await run_in_threadpool(svc.role_of, pid, who)
        pids = {"provider_pid": pid} if (role or only) is Role.PROVIDER else {"consumer_pid": pid}
        if role is None:
            raise not_found(area, "process", **pids)
        if only is not None and role is not only:
            raise bad_request(
                area,
                f"this endpoint is for the {only.value.lower()} of a process",
                code="WRONG_ROLE",
                **pids,
            )
        return role

    @api.get("/negotiations/{pid}")
    async def get_negotiation(pid: str, request: Request) -> Response:
        role = await role_for(request, pid, "negotiation", neg)
        return await call(neg.get, role, pid)

    @api.post("/negotiations/request", status_code=201)
    async def negotiation_request_initial(request: Request) -> Response:
        who = await caller(request, "negotiation")
        body = await json_body(request, "negotiation", limit)
        return await call(neg.request_initial, body, who, claims_of(request, who))

    @api.post("/negotiations/offers", status_code=201)
    async def negotiation_offer_initial(request: Request) -> Response:
        who = await caller(request, "negotiation")
        body = await json_body(request, "negotiation", limit)
        return await call(neg.offer_initial, body, who)

    def negotiation_endpoint(suffix: str, message_type: str, only: Role | None) -> None:
        async def endpoint(pid: str, request: Request) -> Response:
            role = await role_for(request, pid, "negotiation", neg, only)
            body = await json_body(request, "negotiation", limit)
            return await call(neg.inbound, role, pid, message_type, body)

        endpoint.__name__ = f"negotiation_{suffix.replace('/', '_')}"
        api.post(f"/negotiations/{{pid}}/{suffix}")(endpoint)

    negotiation_endpoint("request", "ContractRequestMessage", Role.PROVIDER)
    negotiation_endpoint("events", "ContractNegotiationEventMessage", None)
    negotiation_endpoint(
        "agreement/verification", "ContractAgreementVerificationMessage", Role.PROVIDER
    )
    negotiation_endpoint("termination", "ContractNegotiationTerminationMessage", None)
    negotiation_endpoint("offers", "ContractOfferMessage", Role.CONSUMER)
    negotiation_endpoint("agreement", "ContractAgreementMessage", Role.CONSUMER)

    # --- transfer -------------------------------------------------------------------------------

    tps = connector.transfers

    @api.get("/transfers/{pid}")
    async def get_transfer(pid: str, request: Request) -> Response:
        role = await role_for(request, pid, "transfer", tps)
        return await call(tps.get, role, pid)

    @api.post("/transfers/request", status_code=201)
    async def transfer_request(request: Request) -> Response:
        who = await caller(request, "transfer")
        body = await json_body(request, "transfer", limit)
        return await call(tps.request_initial, body, who, claims_of(request, who))

    def transfer_endpoint(suffix: str, message_type: str) -> None:
        async def endpoint(pid: str, request: Request) -> Response:
            role = await role_for(request, pid, "transfer", tps)
            body = await json_body(request, "transfer", limit)
            return await call(tps.inbound, role, pid, message_type, body)

        endpoint.__name__ = f"transfer_{suffix}"
        api.post(f"/transfers/{{pid}}/{suffix}")(endpoint)

    for suffix, message_type in (
        ("start", "TransferStartMessage"),
        ("completion", "TransferCompletionMessage"),
        ("termination", "TransferTerminationMessage"),
        ("suspension", "TransferSuspensionMessage"),
    ):
        transfer_endpoint(suffix, message_type)

    # --- usage notifications (a twinspace extension next to DSP) --------------------------------

    @api.post("/usage/notifications")
    async def usage_notification(request: Request) -> Response:
        """A consumer reports a use (a ``notify`` duty of the agreement); recorded in the
        provider's usage log. Authenticated like every DSP call; only the agreement's consumer."""
        who = await caller(request, "transfer")
        body = await json_body(request, "transfer", limit)
        agreement_id = body.get("agreementId") if isinstance(body, dict) else None
        if not isinstance(agreement_id, str) or not agreement_id:
            raise bad_request("transfer", "agreementId is required")
        recorded = await run_in_threadpool(connector.record_notification, agreement_id, who, body)
        if not recorded:
            raise ProtocolError("transfer", 404, "NOT_FOUND", "agreement not found")
        return JSONResponse({"recorded": True})

    return api


def version_router(connector: Connector) -> APIRouter:
    api = APIRouter()

    @api.get("/.well-known/dspace-version")
    async def dspace_version() -> dict[str, Any]:
        s = connector.ctx.settings
        return {
            "protocolVersions": [
                {
                    "version": "2025-1",
                    "path": s.dsp_path,
                    "binding": "HTTPS",
                    "serviceId": connector.ctx.catalog.service_id,
                    **(
                        {"identifierType": "did:web", "auth": AUTH_PROFILE}
                        if connector.trust is not None
                        else {}
                    ),
                }
            ]
        }

    return api
