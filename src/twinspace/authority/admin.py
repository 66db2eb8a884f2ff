"""The authority's admin API (header ``X-Api-Key``): onboard participants, list them, and
revoke, suspend or reinstate a membership."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from twinspace.store import Member

from .errors import AuthorityError
from .service import AuthorityService
from .validation import parse_onboarding, parse_reason
from .views import did_candidates, member_view, read_json

API_KEY_HEADER = "X-Api-Key"


def admin_router(service: AuthorityService, api_key: str) -> APIRouter:
    prefix = f"/{service.settings.name}/admin/participants"

    def require_key(request: Request) -> None:
        given = request.headers.get(API_KEY_HEADER)
        if given is None or not secrets.compare_digest(given.encode(), api_key.encode()):
            raise AuthorityError(
                "unauthorized", f"a valid {API_KEY_HEADER} header is required for the admin API"
            )

    api = APIRouter(prefix=prefix, dependencies=[Depends(require_key)])

    def resolve(request: Request, did: str, suffix: str = "") -> str:
        """The member DID a path names (see :func:`did_candidates`)."""
        candidates = did_candidates(request, did, prefix + "/", suffix)
        for candidate in candidates:
            if service.find(candidate) is not None:
                return candidate
        raise AuthorityError("not_found", f"{candidates[0]} is not onboarded")

    @api.post("")
    async def onboard(request: Request) -> JSONResponse:
        onboarding = parse_onboarding(await read_json(request))
        member = await asyncio.to_thread(service.onboard, onboarding)
        return JSONResponse(member_view(member), status_code=201)

    @api.get("")
    async def list_members() -> JSONResponse:
        members = await asyncio.to_thread(service.members)
        return JSONResponse([member_view(m) for m in members])

    for action in ("revoke", "suspend", "reinstate"):
        api.add_api_route(
            "/{did:path}/" + action,
            _change_endpoint(resolve, getattr(service, action), action),
            methods=["POST"],
            summary=f"{action.capitalize()} a membership",
        )

    @api.get("/{did:path}")
    async def get_member(request: Request, did: str) -> JSONResponse:
        found = await asyncio.to_thread(resolve, request, did)
        return JSONResponse(member_view(await asyncio.to_thread(service.member, found)))

    return api


def _change_endpoint(
    resolve: Callable[[Request, str, str], str],
    change: Callable[[str, str | None], Member],
    action: str,
) -> Callable[..., Any]:
    async def endpoint(request: Request, did: str) -> JSONResponse:
        reason = parse_reason(await read_json(request, optional=True))
        found = await asyncio.to_thread(resolve, request, did, "/" + action)
        return JSONResponse(member_view(await asyncio.to_thread(change, found, reason)))

    return endpoint
