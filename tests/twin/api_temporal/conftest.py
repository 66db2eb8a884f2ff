"""An in-process participant app with its NGSI-LD broker, on SQLite and PostgreSQL, and a real
in-process notification receiver reached over the same host-routing HTTP client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.connector.harness import HostRouter

from twinspace.app import create_app
from twinspace.clock import ManualClock
from twinspace.settings import Settings
from twinspace.store import Store
from twinspace.twin.service import Twin

BASE = "/ngsi-ld/v1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
LD = "application/ld+json"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A notification endpoint at ``http://receiver.test/notify``: keeps every request; answers
    500 while ``failing`` is set."""

    received: list[Delivery] = field(default_factory=list)
    failing: bool = False

    def app(self) -> Starlette:
        async def notify(request: Request) -> Response:
            self.received.append(Delivery(dict(request.headers), json.loads(await request.body())))
            if self.failing:
                return JSONResponse({"error": "receiver down"}, status_code=500)
            return Response(status_code=204)

        return Starlette(routes=[Route("/notify", notify, methods=["POST"])])

    @property
    def bodies(self) -> list[Any]:
        return [d.body for d in self.received]

    def clear(self) -> None:
        self.received.clear()


RECEIVER_URI = "http://receiver.test/notify"


@dataclass
class Broker:
    """The app under test, its twin, its clock and a client talking to it."""

    client: httpx.AsyncClient
    twin: Twin
    clock: ManualClock
    receiver: Receiver

    async def deliver(self) -> int:
        """One delivery pass of the notifier (what its loop does when woken)."""
        return await self.twin.notifier.deliver_due()

    async def create(self, entity: dict[str, Any], **headers: str) -> httpx.Response:
        response = await self.client.post(
            f"{BASE}/entities", json=entity, headers={"Content-Type": LD, **headers}
        )
        assert response.status_code == 201, response.text
        return response

    async def subscribe(self, sub: dict[str, Any], **headers: str) -> str:
        body = {"type": "Subscription", "@context": CORE, **sub}
        response = await self.client.post(
            f"{BASE}/subscriptions", json=body, headers={"Content-Type": LD, **headers}
        )
        assert response.status_code == 201, response.text
        return response.headers["Location"].rsplit("/", 1)[1]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def broker_url(tmp_path: Path) -> str:
    """The broker's database: SQLite (modules whose behaviour depends on the store override
    this with ``database_url``, which runs them on SQLite and PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'broker.db'}"


@pytest.fixture
async def broker(broker_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Broker]:
    database_url = broker_url
    receiver = Receiver()
    router = HostRouter()
    router.add("receiver.test", receiver.app())  # type: ignore[arg-type]
    store = Store.open(database_url)
    try:
        async with httpx.AsyncClient(transport=router) as shared:
            settings = Settings(
                name="twin",
                public_url="http://twin.test",
                data_dir=tmp_path / "twin",
                database_url=database_url,
                api_key="test-key",
                auth="none",
                participant_id="urn:twinspace:twin",
                twin_validate_models=False,
            )
            app = create_app(settings, store=store, clock=clock, http_client=shared)
            router.add("twin.test", app)
            twin: Twin = app.state.twin
            twin.notifier.backoff_max = 60.0
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://twin.test",
                headers={"X-Api-Key": "test-key"},
            ) as client:
                yield Broker(client, twin, clock, receiver)
    finally:
        store.close()


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Assert ``response`` is a ProblemDetails of ``kind`` with ``status``; returns its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == ERR + kind, body
    assert body.get("title"), body
    return body
