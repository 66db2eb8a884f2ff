"""An authority and two participants served over httpx.MockTransport, with a request log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from twinspace.clock import ManualClock
from twinspace.identity import (
    SigningKey,
    StatusList,
    build_did_document,
    generate_key,
    issue_credential,
    status_list_credential,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
AUTHORITY = "did:web:localhost%3A8100:authority"
CITY = "did:web:localhost%3A8101:city"
MOBILITY = "did:web:localhost%3A8102:mobility"
LIST_URL = "https://localhost:8100/authority/status/1"

Override = Callable[[httpx.Request], httpx.Response]


@dataclass
class Server:
    """Serves ``routes`` (URL -> body); ``down`` makes every request fail to connect;
    ``override`` (URL -> handler) replaces one route's answer."""

    routes: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    override: dict[str, Override] = field(default_factory=dict)
    down: bool = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if url in self.override:
            return self.override[url](request)
        if url not in self.routes:
            return httpx.Response(404)
        return httpx.Response(200, content=self.routes[url])

    def count(self, url: str) -> int:
        return self.requests.count(url)


@dataclass
class Space:
    clock: ManualClock
    server: Server
    client: httpx.AsyncClient
    authority: SigningKey
    city: SigningKey
    mobility: SigningKey
    status: StatusList = field(default_factory=StatusList)

    def publish_document(self, url: str, document: dict[str, Any]) -> None:
        self.server.routes[url] = json.dumps(document).encode()

    def publish_status(self) -> str:
        credential = status_list_credential(
            list_url=LIST_URL, issuer=AUTHORITY, status_list=self.status, valid_from=START
        )
        token = issue_credential(credential, self.authority)
        self.server.routes[LIST_URL] = token.encode()
        return token


@pytest.fixture
async def space() -> AsyncIterator[Space]:
    server = Server()
    keys = {did: generate_key(f"{did}#key-1") for did in (AUTHORITY, CITY, MOBILITY)}
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handler)) as client:
        s = Space(
            ManualClock(START + timedelta(hours=1)),
            server,
            client,
            keys[AUTHORITY],
            keys[CITY],
            keys[MOBILITY],
        )
        for did, port, name in ((AUTHORITY, 8100, "authority"), (CITY, 8101, "city")):
            s.publish_document(
                f"https://localhost:{port}/{name}/did.json", build_did_document(did, [keys[did]])
            )
        s.publish_document(
            "https://localhost:8102/mobility/did.json",
            build_did_document(MOBILITY, [keys[MOBILITY]]),
        )
        s.publish_status()
        yield s
