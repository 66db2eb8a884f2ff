"""Fixtures for the NGSI-LD API tests: the participant app built in-process over each store
backend (SQLite, PostgreSQL), driven with an httpx client over ``httpx.ASGITransport``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from twinspace.app import create_app
from twinspace.clock import ManualClock
from twinspace.settings import Settings
from twinspace.twin.service import Twin

BASE = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
SDM_CONTEXT = "https://smartdatamodels.org/context.jsonld"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"


def link(url: str) -> dict[str, str]:
    """The JSON-LD ``Link`` header naming ``url`` as the request's @context."""
    return {"Link": f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}


def assert_problem(response: httpx.Response, status: int, kind: str | None) -> dict[str, Any]:
    """``response`` is a ProblemDetails of ``status`` whose type is the NGSI-LD error ``kind``
    (None: any type), with a ``title``; returns the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, dict), body
    if kind is not None:
        assert body["type"] == ERRORS + kind, body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("type"), str), body
    return body


@dataclass
class Broker:
    """One participant app with its NGSI-LD broker, a clock and a client onto it."""

    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock

    @property
    def twin(self) -> Twin:
        twin: Twin = self.app.state.twin
        return twin

    async def create(self, entity: dict[str, Any], **kw: Any) -> httpx.Response:
        response = await self.client.post(f"{BASE}/entities", json=entity, **kw)
        assert response.status_code == 201, response.text
        return response

    async def get(self, entity_id: str, **kw: Any) -> dict[str, Any]:
        response = await self.client.get(f"{BASE}/entities/{entity_id}", **kw)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


BrokerFactory = Callable[..., Awaitable[Broker]]


@asynccontextmanager
async def open_broker(tmp_path: Path, database_url: str, **overrides: Any) -> AsyncIterator[Broker]:
    """The participant app on ``database_url`` (settings ``overrides``), started, with a
    client at ``http://twin.test``; the app's own outbound HTTP client is a real one (no
    network mocks), with short timeouts so unreachable contexts fail fast."""
    clock = ManualClock()
    settings = Settings(
        name="twin",
        auth="none",
        participant_id="urn:twinspace:twin",
        public_url="http://twin.test",
        data_dir=tmp_path / "twin",
        database_url=database_url,
        api_key="test-key",
        run_managers=False,
        **{"twin_context_timeout": 2.0, **overrides},
    )
    async with AsyncExitStack() as stack:
        outbound = await stack.enter_async_context(httpx.AsyncClient(timeout=2.0))
        app = create_app(settings, clock=clock, http_client=outbound)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://twin.test",
                headers={"X-Api-Key": settings.api_key or ""},
            )
        )
        yield Broker(app=app, client=client, clock=clock)


@asynccontextmanager
async def _factory(tmp_path: Path, database_url: str) -> AsyncIterator[BrokerFactory]:
    async with AsyncExitStack() as stack:
        count = 0

        async def make(**overrides: Any) -> Broker:
            nonlocal count
            count += 1
            return await stack.enter_async_context(
                open_broker(tmp_path / f"b{count}", database_url, **overrides)
            )

        yield make


@pytest.fixture
async def make_broker(tmp_path: Path) -> AsyncIterator[BrokerFactory]:
    """Builds brokers over SQLite with settings overrides (the HTTP binding does not depend on
    the store; modules whose behaviour does override this with ``make_store_broker``)."""
    async with _factory(tmp_path, f"sqlite:///{tmp_path / 'twin.db'}") as make:
        yield make


@pytest.fixture
async def make_store_broker(tmp_path: Path, database_url: str) -> AsyncIterator[BrokerFactory]:
    """Builds brokers over the test's database: SQLite and PostgreSQL."""
    async with _factory(tmp_path, database_url) as make:
        yield make


@pytest.fixture
async def broker(make_broker: BrokerFactory) -> Broker:
    """A broker with the default settings."""
    return await make_broker()


@pytest.fixture
async def sqlite_broker(tmp_path: Path) -> AsyncIterator[Broker]:
    """A broker on SQLite only, for behaviour that does not depend on the store."""
    url = f"sqlite:///{tmp_path / 'twin.db'}"
    async with open_broker(tmp_path, url) as opened:
        yield opened
