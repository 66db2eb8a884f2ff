"""``GET /transparency/checkpoints``: the log checkpoints this participant has seen (and
cosigned), oldest first, public so that other participants can compare views: a log that
showed different histories to different parties is caught (``twinspace audit --witness``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from twinspace.connector.service import Connector


def router(connector: Connector) -> APIRouter:
    api = APIRouter(tags=["transparency"])
    if connector.ledger is None:
        return api

    def seen() -> list[object]:
        with connector.store.transaction() as tx:
            return [s.signed for s in sorted(tx.seen_checkpoints.list(), key=lambda s: s.size)]

    @api.get("/transparency/checkpoints")
    async def checkpoints() -> JSONResponse:
        return JSONResponse(
            {"log": connector.ledger.log_did if connector.ledger else None,
             "checkpoints": await run_in_threadpool(seen)}
        )  # fmt: skip

    return api
