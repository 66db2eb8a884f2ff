"""Two (or more) connectors in one process, talking over httpx.ASGITransport by host name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from twinspace.app import create_app
from twinspace.clock import Clock
from twinspace.connector.service import Connector
from twinspace.settings import Settings
from twinspace.store import Asset, ContractDefinition, PolicyDefinition

API_KEY = "test-key"


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


@dataclass
class Node:
    name: str
    app: FastAPI
    connector: Connector
    client: httpx.AsyncClient  # talks to this node as a user would

    @property
    def dsp(self) -> str:
        return self.connector.ctx.settings.dsp_url()

    def add_offer(
        self, asset_id: str, data_address: dict[str, Any], policy: dict[str, Any] | None = None
    ) -> None:
        now = self.connector.ctx.clock.now()
        with self.connector.store.transaction() as tx:
            tx.assets.insert(
                Asset(
                    id=asset_id,
                    properties={"name": asset_id},
                    data_address=data_address,
                    created_at=now,
                )
            )
            tx.policies.insert(
                PolicyDefinition(
                    id=f"policy-{asset_id}",
                    policy=policy or {"permission": [{"action": "use"}]},
                    created_at=now,
                )
            )
            tx.contract_definitions.insert(
                ContractDefinition(
                    id=f"cd-{asset_id}",
                    access_policy_id=f"policy-{asset_id}",
                    contract_policy_id=f"policy-{asset_id}",
                    assets_selector=[
                        {"operandLeft": "id", "operator": "=", "operandRight": asset_id}
                    ],
                    created_at=now,
                )
            )


@asynccontextmanager
async def network(
    tmp_path: Path,
    names: list[str],
    database_urls: dict[str, str] | None = None,
    clock: Clock | None = None,
    *,
    router: HostRouter | None = None,
    scheme: str = "http",
    **overrides: Any,
) -> AsyncIterator[dict[str, Node]]:
    """Connectors named ``names`` at ``<scheme>://<name>.test``, each on its own store, all
    reaching each other (and anything else added to ``router``) in-process."""
    router = router or HostRouter()
    nodes: dict[str, Node] = {}
    async with AsyncExitStack() as stack:
        shared = await stack.enter_async_context(httpx.AsyncClient(transport=router))
        for name in names:
            options = {
                "manager_interval": 0.01,
                "backoff_base": 0.01,
                "auth": "none",  # the trust tests (tests/trust) switch DCP on
                **overrides,
            }
            if options["auth"] == "none":
                options["participant_id"] = f"urn:twinspace:{name}"
            settings = Settings(
                **options,
                name=name,
                public_url=f"{scheme}://{name}.test",
                data_dir=tmp_path / name,
                database_url=(database_urls or {}).get(name),
                api_key=API_KEY,
            )
            app = create_app(settings, http_client=shared, clock=clock)
            router.add(f"{name}.test", app)
            connector: Connector = app.state.connector
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url=f"{scheme}://{name}.test",
                    headers={"X-Api-Key": API_KEY},
                )
            )
            nodes[name] = Node(name, app, connector, client)
        for node in nodes.values():
            await stack.enter_async_context(node.connector.running())
        yield nodes
