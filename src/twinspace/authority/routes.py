"""The authority's public endpoints: its DID document, the DCP issuer service, the status lists
and the trust list."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from twinspace.identity import IdentityError, credential_message, parse_credential_request
from twinspace.trust.participant import document_path
from twinspace.trust.runtime import TrustRuntime

from .errors import AuthorityError
from .service import PURPOSES, AuthorityService
from .views import read_json

log = logging.getLogger("twinspace.authority")

DID_MEDIA_TYPE = "application/did+json"
VC_MEDIA_TYPE = "application/vc+jwt"


def public_router(service: AuthorityService, runtime: TrustRuntime) -> APIRouter:
    settings = service.settings
    prefix = f"/{settings.name}"
    api = APIRouter()
    document = service.did_document()

    async def did_document() -> JSONResponse:
        return JSONResponse(document, media_type=DID_MEDIA_TYPE)

    # /<name>/did.json, and the did:web path too where a configured DID puts it elsewhere
    for path in dict.fromkeys(
        [f"{prefix}/did.json", document_path(service.did, settings.base_url())]
    ):
        api.add_api_route(path, did_document, methods=["GET"], include_in_schema=False)

    @api.post(f"{prefix}/issuer/credentials")
    async def request_credentials(request: Request) -> JSONResponse:
        """DCP CredentialRequestMessage -> CredentialMessage (synchronous issuance)."""
        try:
            token = await runtime.verify_token(request.headers.get("authorization"))
        except IdentityError as exc:
            log.info("credential request refused: %s", exc)
            raise AuthorityError("unauthorized", f"{exc.code}: {exc.message}") from None
        body = await read_json(request)
        try:
            holder_pid, types = parse_credential_request(body)
        except IdentityError as exc:
            raise AuthorityError("bad_request", exc.message) from None
        credentials = await asyncio.to_thread(service.issue, token.issuer, types)
        message = credential_message(
            holder_pid=holder_pid, issuer_pid=str(uuid.uuid4()), credentials=credentials
        )
        return JSONResponse(message)

    for purpose in PURPOSES:
        api.add_api_route(
            f"{prefix}/status/{purpose}",
            _status_endpoint(service, purpose),
            methods=["GET"],
            summary=f"The {purpose} status list credential (vc+jwt)",
        )

    @api.get(f"{prefix}/trust-list")
    async def trust_list() -> JSONResponse:
        return JSONResponse(service.trust_list())

    return api


def _status_endpoint(service: AuthorityService, purpose: str) -> Callable[[], Awaitable[Response]]:
    async def status_list() -> Response:
        jwt = await asyncio.to_thread(service.status_list, purpose)
        return Response(jwt, media_type=VC_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})

    return status_list
