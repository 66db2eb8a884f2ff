"""A data space in one process: a governance authority and DCP-authenticated connectors.

Everything is real (authority app, connectors, credential services, did:web documents, status
lists); only the network is in-process (``HostRouter``), on ``https://<name>.test`` so that
no development flag is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.connector.harness import API_KEY, HostRouter, Node, network

from twinspace.authority import create_authority_app
from twinspace.clock import Clock
from twinspace.identity import did_web_for
from twinspace.settings import Settings

DATASPACE = "urn:twinspace:dataspace:test"


def did_of(name: str) -> str:
    return did_web_for(f"https://{name}.test", name)


@dataclass
class Authority:
    name: str
    did: str
    admin: httpx.AsyncClient

    async def onboard(self, did: str, legal_name: str = "Example Org", **extra: Any) -> None:
        body = {
            "did": did,
            "legalName": legal_name,
            "registrationNumber": "HRB-0001",
            "country": "DE",
            "roles": ["provider", "consumer"],
            **extra,
        }
        response = await self.admin.post(f"/{self.name}/admin/participants", json=body)
        assert response.status_code == 201, response.text

    async def change(self, did: str, action: str) -> None:
        response = await self.admin.post(
            f"/{self.name}/admin/participants/{did}/{action}", json={"reason": "test"}
        )
        assert response.status_code == 200, response.text


async def add_authority(
    stack: AsyncExitStack,
    router: HostRouter,
    tmp_path: Path,
    shared: httpx.AsyncClient,
    clock: Clock | None,
    name: str = "authority",
) -> Authority:
    settings = Settings(
        name=name,
        public_url=f"https://{name}.test",
        data_dir=tmp_path / name,
        api_key=API_KEY,
        dataspace=DATASPACE,
    )
    app = create_authority_app(settings, clock=clock, http_client=shared)
    router.add(f"{name}.test", app)
    admin = await stack.enter_async_context(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"https://{name}.test",
            headers={"X-Api-Key": API_KEY},
        )
    )
    return Authority(name, settings.effective_did(), admin)


@dataclass
class Space:
    router: HostRouter
    authority: Authority
    nodes: dict[str, Node]
    shared: httpx.AsyncClient
    stack: AsyncExitStack


async def wait_enrolled(node: Node, timeout: float = 10.0) -> None:
    """Until the connector holds its two credentials from the authority."""
    assert node.connector.credentials is not None
    for _ in range(int(timeout / 0.02)):
        held = await asyncio.to_thread(node.connector.credentials.held)
        if len(held) >= 2:
            return
        await asyncio.sleep(0.02)
    status = node.connector.enrolment.status.view() if node.connector.enrolment else None
    raise AssertionError(f"{node.name} got no credentials: {status}")


@asynccontextmanager
async def dcp_space(
    tmp_path: Path,
    names: list[str],
    *,
    clock: Clock | None = None,
    onboard: list[str] | None = None,
    database_urls: dict[str, str] | None = None,
    **overrides: Any,
) -> AsyncIterator[Space]:
    """An authority plus connectors ``names`` with ``auth=dcp``; those in ``onboard`` (default:
    all) are onboarded before they start and have their credentials when this yields."""
    router = HostRouter()
    async with AsyncExitStack() as stack:
        shared = await stack.enter_async_context(httpx.AsyncClient(transport=router))
        authority = await add_authority(stack, router, tmp_path, shared, clock)
        members = names if onboard is None else onboard
        for name in members:
            await authority.onboard(did_of(name), legal_name=f"{name.title()} Ltd")
        options = {"authority": authority.did, "dataspace": DATASPACE, **overrides}
        nodes = await stack.enter_async_context(
            network(
                tmp_path,
                names,
                database_urls,
                clock,
                router=router,
                scheme="https",
                auth="dcp",
                **options,
            )
        )
        for name in members:
            await wait_enrolled(nodes[name])
        yield Space(router, authority, nodes, shared, stack)
