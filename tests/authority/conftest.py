"""An authority app and participants, in one process: requests are routed by host name.

The authority is ``https://authority.test`` (DID ``did:web:authority.test:authority``); a
participant is a generated key whose DID document a tiny FastAPI app serves at
``https://<name>.test/<name>/did.json``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from twinspace.authority import create_authority_app
from twinspace.clock import ManualClock
from twinspace.identity import (
    InMemoryDidResolver,
    InMemoryStatusLists,
    SigningKey,
    TrustContext,
    build_did_document,
    create_id_token,
    credential_request,
    generate_key,
)
from twinspace.settings import Settings
from twinspace.store import Store

API_KEY = "admin-key"
AUTHORITY = "did:web:authority.test:authority"
BASE = "https://authority.test/authority"
DATASPACE = "urn:twinspace:test-space"


class HostRouter(httpx.AsyncBaseTransport):
    """Routes each request to the ASGI app registered for its host."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}

    def add(self, host: str, app: FastAPI) -> None:
        self.apps[host] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return await transport.handle_async_request(request)


def participant_app(document: dict[str, Any], name: str) -> FastAPI:
    app = FastAPI()

    @app.get(f"/{name}/did.json")
    async def did_json() -> dict[str, Any]:
        return document

    return app


def authority_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "name": "authority",
        "public_url": "https://authority.test",
        "data_dir": tmp_path / "authority",
        "api_key": API_KEY,
        "dataspace": DATASPACE,
        "credential_days": 30,
        "status_list_seconds": 600,
        **overrides,
    }
    return Settings(**values)


@dataclass
class Participant:
    name: str
    key: SigningKey

    @property
    def did(self) -> str:
        return f"did:web:{self.name}.test:{self.name}"

    def onboarding(self, **overrides: Any) -> dict[str, Any]:
        return {
            "did": self.did,
            "legalName": f"{self.name.capitalize()} Ltd",
            "registrationNumber": f"HRB {len(self.name)}",
            "country": "DE",
            "roles": ["provider", "consumer"],
            **overrides,
        }


@dataclass
class Space:
    clock: ManualClock
    store: Store
    router: HostRouter
    http: httpx.AsyncClient  # reaches every host
    admin: httpx.AsyncClient  # the authority, with the API key
    participants: dict[str, Participant] = field(default_factory=dict)

    def add_participant(self, name: str) -> Participant:
        p = Participant(name, generate_key(f"did:web:{name}.test:{name}#key-1"))
        self.router.add(f"{name}.test", participant_app(build_did_document(p.did, [p.key]), name))
        self.participants[name] = p
        return p

    def token(self, p: Participant, **overrides: Any) -> str:
        values: dict[str, Any] = {"audience": AUTHORITY, "now": self.clock.now(), **overrides}
        return create_id_token(p.key, **values)

    async def onboard(self, p: Participant, **overrides: Any) -> httpx.Response:
        return await self.admin.post(
            "/authority/admin/participants", json=p.onboarding(**overrides)
        )

    async def request_credentials(
        self, p: Participant, body: Any = None, *, token: str | None = None
    ) -> httpx.Response:
        return await self.http.post(
            f"{BASE}/issuer/credentials",
            json=credential_request() if body is None else body,
            headers={"Authorization": f"Bearer {token or self.token(p)}"},
        )

    async def context(self) -> TrustContext:
        """A verifier's view: the authority's DID document and its current status lists."""
        document = (await self.http.get(f"{BASE}/did.json")).json()
        lists = InMemoryStatusLists()
        for purpose in ("revocation", "suspension"):
            url = f"{BASE}/status/{purpose}"
            lists.put(url, (await self.http.get(url)).text)
        return TrustContext(
            resolver=InMemoryDidResolver([document]),
            clock=self.clock,
            trusted_issuers=frozenset({AUTHORITY}),
            status_lists=lists,
            leeway=timedelta(seconds=30),
        )


@pytest.fixture
async def space(store: Store, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Space]:
    router = HostRouter()
    async with httpx.AsyncClient(transport=router) as http:
        app = create_authority_app(
            authority_settings(tmp_path), store=store, clock=clock, http_client=http
        )
        router.add("authority.test", app)
        async with httpx.AsyncClient(
            transport=router, base_url="https://authority.test", headers={"X-Api-Key": API_KEY}
        ) as admin:
            s = Space(clock, store, router, http, admin)
            s.add_participant("city")
            s.add_participant("mobility")
            yield s
