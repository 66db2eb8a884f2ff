"""The public data-plane API: pull data with a transfer's token, refresh tokens, receive pushes.

``GET  /public/data[/{path}]``      the provider serves a pull transfer's asset to its token holder
``POST /public/token``              OAuth2-style refresh-token grant for a fresh token pair
``POST|PUT /public/push/{id}``      the consumer receives the data of a push transfer
``POST /public/twin/{id}``          the consumer's twin receives a stream's NGSI-LD notification

A token works only while its transfer is STARTED and not being stopped (``dataplane.tokens``):
refusals answer 401 (unknown, expired, revoked) or 403 (the transfer does not allow it now).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from twinspace.connector.service import Connector
from twinspace.connector.transfers import is_push, is_stream
from twinspace.dataplane import tokens
from twinspace.dataplane.received import StreamRefused, received_path
from twinspace.dataplane.sources import (
    CHUNK_SIZE,
    SourceError,
    SourceStream,
    open_source,
    source_type,
)
from twinspace.policy import Decision
from twinspace.protocol.machine import Role
from twinspace.store import Asset, Transfer
from twinspace.usage.decisions import why
from twinspace.usage.enforcement import BadDeclaration, check_access, declared_from

log = logging.getLogger("twinspace.public")

PREFIX = "/public"
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
#: Backend statuses the consumer sees as they are (others, 401 included, become 502 Bad Gateway:
#: a backend's 401 must not read as the consumer's token being refused).
PASSED_THROUGH = frozenset({400, 404, 410, 416})


def error(status: int, code: str, reason: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": code, "reason": reason}, status_code=status, headers=headers)


def refused(reason: str) -> JSONResponse:
    """A refused token: 403 when the transfer forbids access now, 401 when the token is bad."""
    if reason.startswith("transfer is"):  # "transfer is SUSPENDED", "... is being stopped"
        return error(403, "access_denied", reason, **{"WWW-Authenticate": "Bearer"})
    return error(401, "invalid_token", reason, **{"WWW-Authenticate": "Bearer"})


def refused_scope(reason: str) -> JSONResponse:
    """A valid token used for something it does not grant."""
    return error(403, "access_denied", reason, **{"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request) -> str | None:
    """The token in ``Authorization: Bearer <token>`` (a bare token is accepted too)."""
    value = request.headers.get("authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


@dataclass
class _Granted:
    transfer: Transfer
    asset: Asset | None
    decision: Decision | None = None  # the usage decision, for a pull (None: not checked)


def router(connector: Connector) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["data plane"])
    settings = connector.ctx.settings

    def grant(token: str, declared: dict[str, Any] | None = None) -> _Granted:
        """The transfer (and its asset) ``token`` grants now; raises TokenRefused. With
        ``declared`` (a pull), the agreement's policy decides this access in the same
        transaction (counted and logged)."""
        with connector.store.transaction() as tx:
            now = connector.ctx.clock.now()
            transfer = tokens.check(tx, token, now)
            asset = tx.assets.find(transfer.asset_id) if transfer.asset_id else None
            decision = None
            if (
                declared is not None
                and settings.usage_enforcement
                and transfer.role == Role.PROVIDER
                and not is_push(transfer.format)
            ):
                decision = check_access(
                    connector.ctx.usage, tx, transfer, declared, now, connector.ctx.ledger
                )
            return _Granted(transfer, asset, decision)

    async def authorize(
        request: Request, declared: dict[str, Any] | None = None
    ) -> _Granted | JSONResponse:
        token = bearer_token(request)
        if token is None:
            return error(401, "invalid_token", "no bearer token", **{"WWW-Authenticate": "Bearer"})
        try:
            return await run_in_threadpool(grant, token, declared)
        except tokens.TokenRefused as exc:
            return refused(exc.reason)

    # --- pull -----------------------------------------------------------------------------------

    @api.get("/data", operation_id="public_data")
    @api.get("/data/{path:path}", operation_id="public_data_path")
    async def data(request: Request, path: str = "") -> Response:
        try:
            declared = declared_from(request.headers)
        except BadDeclaration as exc:
            return error(400, "invalid_request", str(exc))
        granted = await authorize(request, declared)
        if isinstance(granted, Response):
            return granted
        if granted.decision is not None and not granted.decision.allowed:
            return JSONResponse(
                {
                    "error": "usage_denied",
                    "reason": f"the agreement's policy does not allow this use: "
                    f"{why(granted.decision)}",
                    "decision": granted.decision.explain(),
                },
                status_code=403,
            )
        t = granted.transfer
        if t.role != Role.PROVIDER or is_push(t.format):
            return refused_scope("this token is not for pulling data from this connector")
        if granted.asset is None:
            return error(404, "not_found", f"asset {t.asset_id!r} no longer exists")
        address = granted.asset.data_address
        if path and source_type(address).lower() == "file":
            return error(404, "not_found", "a File asset has no sub-paths")
        try:
            source = await open_source(
                address,
                client=connector.http,
                sub_path=path,
                query=request.url.query,
                chunk_size=CHUNK_SIZE,
                extensions=connector.sources,
                asset_id=granted.asset.id,
            )
        except SourceError as exc:
            log.warning("transfer %s: source unavailable: %s", t.id, exc.message)
            status = exc.status if exc.status in PASSED_THROUGH else 502
            return error(status, "source_unavailable", exc.message)
        return _stream(connector, t.id, source)

    # --- refresh --------------------------------------------------------------------------------

    @api.post("/token", operation_id="public_token")
    async def token(request: Request) -> Response:
        try:
            form = await _form(request)
        except ValueError as exc:
            return error(400, "invalid_request", str(exc))
        if form.get("grant_type") != "refresh_token":
            return error(400, "unsupported_grant_type", "grant_type must be 'refresh_token'")
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            return error(400, "invalid_request", "refresh_token is missing")

        def run() -> tokens.IssuedTokens:
            with connector.store.transaction() as tx:
                return tokens.refresh(
                    tx,
                    refresh_token,
                    connector.ctx.clock.now(),
                    settings.token_ttl_seconds,
                    settings.refresh_ttl_seconds,
                )

        try:
            issued = await run_in_threadpool(run)
        except tokens.TokenRefused as exc:
            return error(400, "invalid_grant", exc.reason)
        body = {
            "access_token": issued.access,
            "refresh_token": issued.refresh,
            "expires_in": issued.expires_in,
            "token_type": "Bearer",
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- push receiver --------------------------------------------------------------------------

    async def consumed(
        request: Request, transfer_id: str, accepts: Callable[[str], bool], what: str
    ) -> Transfer | Response:
        """The transfer a receiving route's token grants when it is ``transfer_id``, this
        connector consumes it and ``accepts`` its format; else the refusal."""
        granted = await authorize(request)
        if isinstance(granted, Response):
            return granted
        t = granted.transfer
        if t.id != transfer_id:
            return refused_scope(f"this token is not for transfer {transfer_id!r}")
        if t.role != Role.CONSUMER or not accepts(t.format):
            return refused_scope(f"this token is not for {what} to this connector")
        return t

    @api.post("/push/{transfer_id}", operation_id="public_push")
    @api.put("/push/{transfer_id}", operation_id="public_push_put")
    async def receive(request: Request, transfer_id: str) -> Response:
        t = await consumed(
            request, transfer_id, lambda f: is_push(f) and not is_stream(f), "pushing data"
        )
        if isinstance(t, Response):
            return t
        target = received_path(settings.data_dir, transfer_id)
        try:
            nbytes = await _receive(request, target)
        except ClientDisconnect:
            log.warning("push for transfer %s broke off; nothing kept", transfer_id)
            return error(400, "incomplete", "the request body broke off")
        await run_in_threadpool(connector.transfers.record_bytes, t.id, nbytes)
        return JSONResponse({"bytes": nbytes})

    # --- stream receiver (the twin) -------------------------------------------------------------

    @api.post("/twin/{transfer_id}", operation_id="public_twin")
    async def receive_twin(request: Request, transfer_id: str) -> Response:
        t = await consumed(request, transfer_id, is_stream, "a twin stream")
        if isinstance(t, Response):
            return t
        receiver = connector.stream_receiver
        if receiver is None:
            return error(404, "not_found", "this connector runs no twin to receive into")
        limit = settings.max_body_bytes
        raw = bytearray()
        try:
            async for chunk in request.stream():
                raw.extend(chunk)
                if len(raw) > limit:
                    return error(413, "too_large", f"a notification is at most {limit} bytes")
        except ClientDisconnect:
            return error(400, "incomplete", "the request body broke off")
        try:
            await receiver(
                t,
                bytes(raw),
                request.headers.get("content-type", ""),
                request.headers.get("link"),
            )
        except StreamRefused as exc:
            return error(exc.status, "invalid_notification", exc.reason)
        await run_in_threadpool(connector.transfers.record_bytes, t.id, len(raw))
        return Response(status_code=204)

    return api


def _stream(connector: Connector, transfer_id: str, source: SourceStream) -> StreamingResponse:
    """Stream ``source`` out; the bytes count toward the transfer once all were sent."""
    sent = 0
    finished = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent, finished
        async with source:
            async for chunk in source.chunks:
                sent += len(chunk)
                yield chunk
        finished = True

    def record() -> None:
        if finished and sent:
            connector.transfers.record_bytes(transfer_id, sent)

    headers = {"Cache-Control": "no-store", **source.headers}
    if source.size is not None:
        headers["Content-Length"] = str(source.size)
    return StreamingResponse(
        body(), media_type=source.content_type, headers=headers, background=BackgroundTask(record)
    )


async def _form(request: Request) -> dict[str, str]:
    """A small form or JSON body as a flat mapping of strings."""
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_TOKEN_REQUEST_BYTES:
            raise ValueError(f"the request body exceeds {MAX_TOKEN_REQUEST_BYTES} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            parsed: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"the request body is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ValueError("the request body must be a JSON object")
        return {str(k): str(v) for k, v in parsed.items() if v is not None}
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise ValueError("the form body is not UTF-8") from exc


async def _receive(request: Request, target: Path) -> int:
    """Stream the request body to ``target`` through a .part file; nothing half-written remains."""
    await run_in_threadpool(target.parent.mkdir, parents=True, exist_ok=True)
    part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
    handle: BinaryIO = await run_in_threadpool(part.open, "wb")
    nbytes = 0
    try:
        try:
            async for chunk in request.stream():
                if chunk:
                    await run_in_threadpool(handle.write, chunk)
                    nbytes += len(chunk)
        finally:
            await run_in_threadpool(handle.close)
        await run_in_threadpool(os.replace, part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return nbytes
