"""HTTP binding of the log service (mounted by the authority at ``/<name>/log``):

``POST /entries``               ``{"entry": <signed entry JWS>}`` -> 201 ``{"index", "receipt"}``
``GET  /checkpoint``            the current signed tree head ``{"checkpoint", "cosignatures"}``
``POST /cosignatures``          a witness's cosigned checkpoint (kept with the log's)
``GET  /entries?start=&end=``   entries in order (at most 1000 a page)
``GET  /proof/inclusion?index=&size=``, ``GET /proof/consistency?old=&new=``  proofs (hex hashes)
``GET  /trail/{subject}``       every entry about an agreement / transfer, with inclusion proofs

Errors are ``{"error": code, "message": text}`` with 400 / 404 / 413.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .log import LogService, LogServiceError

MAX_BATCH = 1000
MAX_ENTRY_BYTES = 64 * MAX_BATCH * 1024


def _error(exc: LogServiceError) -> JSONResponse:
    return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status)


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_ENTRY_BYTES:
        raise LogServiceError(413, "too_large", f"the body exceeds {MAX_ENTRY_BYTES} bytes")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LogServiceError(400, "malformed", "the body is not JSON") from None


def router(service: LogService, prefix: str) -> APIRouter:
    api = APIRouter(prefix=prefix, tags=["transparency log"])

    @api.post("/entries", status_code=201)
    async def submit(request: Request) -> JSONResponse:
        """One entry ``{"entry"}`` -> ``{"index", "receipt"}``; or a batch ``{"entries": [...]}``
        (at most 1000) -> ``{"results": [{"index", "receipt"} | {"error", "message"}]}``,
        appended in one transaction."""
        try:
            body = await _json(request)
            if isinstance(body, dict) and isinstance(body.get("entries"), list):
                batch = body["entries"]
                if len(batch) > MAX_BATCH:
                    raise LogServiceError(413, "too_large", f"at most {MAX_BATCH} entries a batch")
                return JSONResponse({"results": await service.submit_many(batch)}, status_code=201)
            entry = body.get("entry") if isinstance(body, dict) else None
            answer = await service.submit(entry)
        except LogServiceError as exc:
            return _error(exc)
        return JSONResponse(answer, status_code=201)

    @api.get("/checkpoint")
    async def checkpoint() -> JSONResponse:
        signed = await run_in_threadpool(service.checkpoint)
        return JSONResponse(signed.to_json(), headers={"Cache-Control": "no-cache"})

    @api.post("/cosignatures")
    async def cosignatures(request: Request) -> JSONResponse:
        try:
            merged = await run_in_threadpool(service.add_cosignature, await _json(request))
        except LogServiceError as exc:
            return _error(exc)
        return JSONResponse(merged.to_json())

    async def answer(fn: Any, *args: Any) -> JSONResponse:
        try:
            return JSONResponse(await run_in_threadpool(fn, *args))
        except LogServiceError as exc:
            return _error(exc)

    @api.get("/entries")
    async def entries(start: int = 0, end: int = 1000) -> JSONResponse:
        return await answer(service.entries, start, end)

    @api.get("/proof/inclusion")
    async def inclusion(index: int, size: int) -> JSONResponse:
        return await answer(
            lambda: {"index": index, "size": size, "proof": service.inclusion(index, size)}
        )

    @api.get("/proof/consistency")
    async def consistency(old: int, new: int) -> JSONResponse:
        return await answer(
            lambda: {"old": old, "new": new, "proof": service.consistency(old, new)}
        )

    @api.get("/trail/{subject:path}")
    async def trail(subject: str) -> JSONResponse:
        return await answer(service.trail, subject)

    return api
