"""Helpers for the usage-control tests: offers with separate access and contract policies,
negotiation and transfers through the management API, pulls through the data plane.

Every space here runs on a ManualClock with the policy monitor and the duty runner's loops
parked (``policy_monitor_seconds=3600``): the tests call ``monitor.run_once()`` and
``duties.run_once()`` themselves. Data-plane tokens live long enough that advancing the clock
past a policy's time limit is answered by the policy (403 usage_denied), not by an expired token.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.connector.harness import Node
from tests.trust.space import Space, dcp_space, did_of

from twinspace.clock import ManualClock
from twinspace.protocol.machine import Role
from twinspace.store import Asset, ContractDefinition, PolicyDefinition, Transfer

PROTOCOL = "dataspace-protocol-http:2025-1"
TP = "https://w3id.org/twinspace/policy/"
Json = dict[str, Any]

#: Loops parked, tokens long-lived (see the module docstring).
SETTINGS: Json = {
    "policy_monitor_seconds": 3600,
    "token_ttl_seconds": 30 * 86_400,
    "refresh_ttl_seconds": 60 * 86_400,
}
DATA = "sensor,count\nA1,42\n"


@asynccontextmanager
async def usage_space(
    tmp_path: Path,
    names: list[str],
    clock: ManualClock,
    *,
    onboard: list[str] | None = None,
    **overrides: Any,
) -> AsyncIterator[Space]:
    async with dcp_space(
        tmp_path, names, clock=clock, onboard=onboard, **{**SETTINGS, **overrides}
    ) as space:
        yield space


async def onboard_late(space: Space, name: str, **extra: Any) -> None:
    """Onboard ``name`` now (e.g. with other roles) and have it fetch its credentials."""
    await space.authority.onboard(did_of(name), legal_name=f"{name.title()} Ltd", **extra)
    node = space.nodes[name]
    asked = await node.client.post("/management/v3/credentials/request")
    assert asked.status_code == 200, asked.text


def c(left: str, operator: str, right: Any) -> Json:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


def permit(*constraints: Json, duty: list[Json] | None = None, action: str = "use") -> Json:
    rule: Json = {"action": action}
    if constraints:
        rule["constraint"] = list(constraints)
    if duty:
        rule["duty"] = duty
    return rule


def policy(*permissions: Json, **rest: Any) -> Json:
    return {"permission": list(permissions), **rest}


USE = policy(permit())


def offer(
    node: Node, asset_id: str, data: Path, contract: Json, access: Json | None = None
) -> None:
    """An asset offered under ``contract``, visible to whoever satisfies ``access`` (default:
    anyone); unlike ``Node.add_offer`` the two policies differ."""
    now = node.connector.ctx.clock.now()
    with node.connector.store.transaction() as tx:
        tx.assets.insert(
            Asset(
                id=asset_id,
                properties={"name": asset_id},
                data_address={"type": "File", "path": str(data)},
                created_at=now,
            )
        )
        tx.policies.insert(
            PolicyDefinition(id=f"access-{asset_id}", policy=access or USE, created_at=now)
        )
        tx.policies.insert(
            PolicyDefinition(id=f"contract-{asset_id}", policy=contract, created_at=now)
        )
        tx.contract_definitions.insert(
            ContractDefinition(
                id=f"cd-{asset_id}",
                access_policy_id=f"access-{asset_id}",
                contract_policy_id=f"contract-{asset_id}",
                assets_selector=[{"operandLeft": "id", "operator": "=", "operandRight": asset_id}],
                created_at=now,
            )
        )


def data_file(tmp_path: Path, name: str = "counts.csv") -> Path:
    path = tmp_path / name
    path.write_text(DATA)
    return path


# --- management API ----------------------------------------------------------------------------


async def catalog(consumer: Node, provider: Node) -> Json:
    answer = await consumer.client.post(
        "/management/v3/catalog/request",
        json={
            "counterPartyAddress": provider.dsp,
            "counterPartyId": did_of(provider.name),
            "protocol": PROTOCOL,
        },
    )
    assert answer.status_code == 200, answer.text
    listed: Json = answer.json()
    return listed


def dataset_ids(listed: Json) -> list[str]:
    return sorted(d["@id"] for d in listed.get("dataset") or [])


async def wait_state(node: Node, path: str, *states: str, timeout: float = 10.0) -> Json:
    """Poll ``GET /management/v3/<path>`` until its state is one of ``states``; an unexpected
    TERMINATED fails at once with the document (its errorDetail says why)."""
    doc: Json = {}
    for _ in range(int(timeout / 0.02)):
        doc = (await node.client.get(f"/management/v3/{path}")).json()
        if doc.get("state") in states:
            return doc
        if doc.get("state") == "TERMINATED":
            raise AssertionError(f"{path} terminated: {doc}")
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never reached {states}: {doc}")


async def negotiate(consumer: Node, provider: Node, asset_id: str, *states: str) -> Json:
    """Negotiate the catalog's first offer for ``asset_id``; waits for ``states`` (default
    FINALIZED)."""
    listed = await catalog(consumer, provider)
    dataset = next(d for d in listed["dataset"] if d["@id"] == asset_id)
    chosen = {**dataset["hasPolicy"][0], "target": asset_id, "assigner": listed["participantId"]}
    created = await consumer.client.post(
        "/management/v3/contractnegotiations",
        json={
            "counterPartyAddress": provider.dsp,
            "counterPartyId": did_of(provider.name),
            "protocol": PROTOCOL,
            "policy": chosen,
        },
    )
    assert created.status_code == 200, created.text
    path = f"contractnegotiations/{created.json()['@id']}"
    return await wait_state(consumer, path, *(states or ("FINALIZED",)))


async def agreement_of(consumer: Node, provider: Node, asset_id: str) -> str:
    agreement_id: str = (await negotiate(consumer, provider, asset_id))["contractAgreementId"]
    return agreement_id


async def start_transfer(
    consumer: Node,
    provider: Node,
    agreement_id: str,
    *states: str,
    transfer_type: str = "HttpData-PULL",
    purpose: str | None = None,
) -> Json:
    """Ask for a transfer; waits for ``states`` (default STARTED). The document has ``@id``."""
    body: Json = {
        "counterPartyAddress": provider.dsp,
        "contractId": agreement_id,
        "transferType": transfer_type,
        "protocol": PROTOCOL,
    }
    if purpose is not None:
        body["purpose"] = purpose
    created = await consumer.client.post("/management/v3/transferprocesses", json=body)
    assert created.status_code == 200, created.text
    path = f"transferprocesses/{created.json()['@id']}"
    return await wait_state(consumer, path, *(states or ("STARTED",)))


async def pull(space: Space, consumer: Node, transfer_id: str, **headers: str) -> httpx.Response:
    """``GET`` the pull transfer's data with its EDR (``headers``: declarations such as
    ``Twinspace-Purpose``; underscores in the names are written as dashes)."""
    edr = (await consumer.client.get(f"/management/v3/edrs/{transfer_id}/dataaddress")).json()
    sent = {"Authorization": edr["authorization"]}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return await space.shared.get(edr["endpoint"], headers=sent)


def provider_side(provider: Node, consumer_transfer_id: str) -> Transfer:
    """The provider's record of the transfer the consumer knows as ``consumer_transfer_id``."""
    with provider.connector.store.transaction() as tx:
        found: Transfer = tx.transfers.by_pid(Role.PROVIDER, consumer_pid=consumer_transfer_id)
        return found


async def usage(node: Node, agreement_id: str) -> Json:
    answer = await node.client.get(f"/management/v3/agreements/{agreement_id}/usage")
    assert answer.status_code == 200, answer.text
    doc: Json = answer.json()
    return doc


def events(view: Json) -> list[str]:
    return [entry["event"] for entry in view["log"]]


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    value = None
    for _ in range(int(timeout / 0.02)):
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met in time (last: {value!r})")
