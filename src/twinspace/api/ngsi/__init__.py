"""The NGSI-LD API (ETSI GS CIM 009) of a participant's twin, under ``/ngsi-ld/v1``.

The twin is the participant's own: with ``TWINSPACE_TWIN_AUTH=api-key`` (the default) every
request needs the participant's ``X-Api-Key``, like the management API; ``none`` opens it (a
conformance test run, or a broker behind a gateway that authenticates). Other participants reach
the twin only through the data space.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request

from twinspace.api.ngsi import batch, entities, meta, subscriptions, temporal
from twinspace.twin.errors import NgsiError
from twinspace.twin.service import Twin

BASE_PATH = "/ngsi-ld/v1"
KEY_HEADER = "X-Api-Key"


def api_key_guard(expected: str) -> Callable[[Request], Awaitable[None]]:
    wanted = expected.encode()

    async def check(request: Request) -> None:
        given = request.headers.get(KEY_HEADER)
        if given is None:
            raise NgsiError("Unauthorized", f"the {KEY_HEADER} header is missing")
        if not hmac.compare_digest(given.encode(), wanted):
            raise NgsiError("Unauthorized", f"the {KEY_HEADER} is not valid")

    return check


def router(twin: Twin, *, api_key: str | None = None) -> APIRouter:
    """The routes; ``api_key`` set: each request must present it in ``X-Api-Key``."""
    guard = [Depends(api_key_guard(api_key))] if api_key else []
    api = APIRouter(prefix=BASE_PATH, dependencies=guard)
    for part in (entities, batch, temporal, subscriptions, meta):
        api.include_router(part.router(twin))
    return api


__all__ = ["BASE_PATH", "KEY_HEADER", "router"]
