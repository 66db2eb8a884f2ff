"""The holder side of DCP over HTTP: this participant's Credential Service, and the management
view of its wallet.

``POST <CredentialService>/presentations/query`` (DCP 1.0 §5.4): answered only to a verifier
presenting, inside its own self-issued ID token, the access token we issued to it. Errors are
``{"error": code, "message": text}`` with 400 / 401 / 403.

Management (behind the API key): ``GET /credentials`` (the wallet and the enrolment state),
``POST /credentials/request`` (ask the authority again now), ``GET /keys`` and
``POST /keys/rotate`` (``{"overlapSeconds": n}``: a new signing key now, the old one valid for n
more seconds).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from twinspace.connector.errors import ManagementError
from twinspace.connector.service import Connector
from twinspace.identity import CREDENTIAL_SERVICE
from twinspace.trust.enrolment import EnrolmentError
from twinspace.trust.holder import QueryRefused
from twinspace.trust.participant import services


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def router(connector: Connector) -> APIRouter:
    """The Credential Service endpoint (only with ``auth=dcp``)."""
    api = APIRouter()
    holder = connector.credentials
    if holder is None:
        return api
    settings = connector.ctx.settings
    base_path = urlsplit(settings.base_url()).path.rstrip("/")
    path = urlsplit(services(settings)[CREDENTIAL_SERVICE]).path
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]

    @api.post(path + "/presentations/query", include_in_schema=False)
    async def presentation_query(request: Request) -> JSONResponse:
        raw = await request.body()
        if len(raw) > settings.max_body_bytes:
            return _error(413, "too_large", f"the body exceeds {settings.max_body_bytes} bytes")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "malformed", "the body is not JSON")
        try:
            answer = await holder.query(request.headers.get("authorization"), body)
        except QueryRefused as exc:
            return _error(exc.status, exc.code, exc.message)
        return JSONResponse(answer)

    return api


def wallet_view(connector: Connector) -> dict[str, Any]:
    trust, holder = connector.trust, connector.credentials
    if trust is None or holder is None:
        raise ManagementError(
            409, "this connector runs with auth=none: it holds no credentials", "NotSupported"
        )
    enrolment = connector.enrolment
    return {
        "did": trust.did,
        "authority": enrolment.authority if enrolment else None,
        "enrolment": enrolment.status.view() if enrolment else None,
        "credentials": [
            {
                "id": c.id,
                "type": c.type,
                "issuer": c.issuer,
                "receivedAt": c.received_at.isoformat(),
                "validUntil": c.valid_until.isoformat() if c.valid_until else None,
            }
            for c in holder.held()
        ],
    }


def keys_view(connector: Connector) -> dict[str, Any]:
    identity = connector.identity
    if identity is None:
        raise ManagementError(409, "this connector has no identity loaded", "NotSupported")
    return {
        "did": identity.did,
        "current": identity.key.kid,
        "keys": [
            {
                "kid": k.key.kid,
                "retiresAt": k.retires_at.isoformat() if k.retires_at else None,
            }
            for k in identity.keyring.held()
        ],
    }


def management_routes(api: APIRouter, connector: Connector) -> None:
    @api.get("/keys", tags=["keys"])
    async def keys() -> JSONResponse:
        return JSONResponse(keys_view(connector))

    @api.post("/keys/rotate", tags=["keys"])
    async def rotate(request: Request) -> JSONResponse:
        """A new signing key now; the old one stays valid for ``overlapSeconds``."""
        raw = await request.body()
        overlap: Any = connector.ctx.settings.key_overlap_seconds
        if raw.strip():
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ManagementError(400, "the body is not JSON") from None
            if not isinstance(body, dict):
                raise ManagementError(400, "the body must be a JSON object")
            overlap = body.get("overlapSeconds", overlap)
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
            raise ManagementError(400, "overlapSeconds must be a whole number of seconds >= 0")
        identity = connector.identity
        if identity is None:
            raise ManagementError(409, "this connector has no identity loaded", "NotSupported")
        await run_in_threadpool(identity.keyring.rotate, timedelta(seconds=overlap))
        return JSONResponse(keys_view(connector))

    @api.get("/credentials", tags=["credentials"])
    async def credentials() -> JSONResponse:
        return JSONResponse(wallet_view(connector))

    @api.post("/credentials/request", tags=["credentials"])
    async def request_credentials() -> JSONResponse:
        enrolment = connector.enrolment
        if enrolment is None:
            raise ManagementError(
                409, "no authority is configured (TWINSPACE_AUTHORITY)", "NotSupported"
            )
        try:
            await enrolment.request()
        except EnrolmentError as exc:
            enrolment.status.state = "failed"
            enrolment.status.last_error = str(exc)
            raise ManagementError(502, str(exc), "BadGateway") from None
        enrolment.status.state, enrolment.status.last_error = "ok", None
        return JSONResponse(wallet_view(connector))
