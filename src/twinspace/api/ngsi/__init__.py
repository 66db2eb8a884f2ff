"""The NGSI-LD API (ETSI GS CIM 009) of a participant's twin, under ``/ngsi-ld/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from twinspace.api.ngsi import batch, entities, meta, subscriptions, temporal
from twinspace.twin.service import Twin

BASE_PATH = "/ngsi-ld/v1"


def router(twin: Twin) -> APIRouter:
    api = APIRouter(prefix=BASE_PATH)
    for part in (entities, batch, temporal, subscriptions, meta):
        api.include_router(part.router(twin))
    return api


__all__ = ["BASE_PATH", "router"]
