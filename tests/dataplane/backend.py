"""A small HTTP backend for HttpData sources: echoes, a CSV, chunked and endless streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

CSV = "station,no2\nA,12\nB,7\n"
STREAM_PARTS = [f"part-{i};".encode() * 100 for i in range(5)]


@dataclass
class BackendLog:
    requests: list[str] = field(default_factory=list)
    endless_sent: int = 0


def backend_app() -> tuple[FastAPI, BackendLog]:
    app = FastAPI()
    log = BackendLog()

    @app.middleware("http")
    async def remember(request: Request, call_next):  # type: ignore[no-untyped-def]
        log.requests.append(str(request.url))
        return await call_next(request)

    @app.get("/echo/{rest:path}")
    async def echo(rest: str, request: Request) -> Response:
        return JSONResponse(
            {
                "path": rest,
                "query": request.url.query,
                "key": request.headers.get("x-api-key"),
                "authorization": request.headers.get("authorization"),
            }
        )

    @app.get("/counts.csv")
    async def csv() -> Response:
        return PlainTextResponse(CSV, media_type="text/csv")

    @app.get("/stream")
    async def stream() -> Response:
        async def parts() -> AsyncIterator[bytes]:
            for part in STREAM_PARTS:
                await asyncio.sleep(0)
                yield part

        return StreamingResponse(parts(), media_type="application/x-ndjson")

    @app.get("/endless")
    async def endless() -> Response:
        async def forever() -> AsyncIterator[bytes]:
            while True:
                await asyncio.sleep(0)
                log.endless_sent += 1
                yield b"tick\n" * 1000

        return StreamingResponse(forever(), media_type="text/plain")

    @app.get("/broken")
    async def broken() -> Response:
        return PlainTextResponse("backend is down for maintenance", status_code=503)

    @app.get("/secret")
    async def secret(request: Request) -> Response:
        if request.headers.get("x-api-key") != "s3cret":
            return PlainTextResponse("no key", status_code=401)
        return PlainTextResponse("classified")

    return app, log
