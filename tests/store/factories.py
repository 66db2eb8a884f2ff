"""Records with every field filled in, for the store tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from twinspace.store import (
    Agreement,
    Asset,
    ContractDefinition,
    DataToken,
    Negotiation,
    OutboxItem,
    PolicyDefinition,
    Transfer,
    Tx,
)
from twinspace.store.rows import Rows

NESTED: dict[str, Any] = {
    "name": "Grünfläche \u2013 Ωmega ✓ 日本",
    "numbers": [1, 2.5, -3, 10**12],
    "flags": {"on": True, "off": False, "nothing": None},
    "deep": {"a": [{"b": [{"c": "d"}, []]}, {}]},
    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
}


def asset(key: str, now: datetime) -> Asset:
    return Asset(
        id=key,
        properties={"name": key, "nested": NESTED},
        data_address={"type": "HttpData", "baseUrl": f"https://data.example/{key}"},
        private_properties={"secret": key},
        created_at=now,
    )


def policy(key: str, now: datetime) -> PolicyDefinition:
    return PolicyDefinition(
        id=key,
        policy={"@type": "Set", "permission": [{"action": "use", "constraint": []}]},
        created_at=now,
    )


def contract_definition(key: str, now: datetime) -> ContractDefinition:
    return ContractDefinition(
        id=key,
        access_policy_id="access",
        contract_policy_id="contract",
        assets_selector=[{"operandLeft": "id", "operator": "=", "operandRight": key}],
        created_at=now,
    )


def negotiation(key: str, now: datetime) -> Negotiation:
    return Negotiation(
        id=key,
        role="PROVIDER",
        state="REQUESTED",
        counter_party_address="https://consumer.example/dsp",
        created_at=now,
        updated_at=now,
        provider_pid=f"urn:uuid:p-{key}",
        consumer_pid=f"urn:uuid:c-{key}",
        counter_party_id="did:web:consumer.example",
        asset_id="asset-1",
        offer={"@id": "offer-1", "permission": [{"action": "use"}]},
        agreement_id=None,
        error_detail=None,
    )


def agreement(key: str, now: datetime) -> Agreement:
    return Agreement(
        id=key,
        negotiation_id="n-1",
        asset_id="asset-1",
        provider_id="did:web:provider.example",
        consumer_id="did:web:consumer.example",
        policy={"@type": "Agreement", "target": "asset-1", "permission": [{"action": "use"}]},
        signed_at=now,
    )


def transfer(key: str, now: datetime) -> Transfer:
    return Transfer(
        id=key,
        role="CONSUMER",
        state="REQUESTED",
        agreement_id="agreement-1",
        format="HttpData-PULL",
        counter_party_address="https://provider.example/dsp",
        created_at=now,
        updated_at=now,
        provider_pid=f"urn:uuid:p-{key}",
        consumer_pid=f"urn:uuid:c-{key}",
        asset_id="asset-1",
        counter_party_id="did:web:provider.example",
        data_destination={"endpoint": "https://sink.example", "properties": [{"k": "v"}]},
        data_address=None,
        bytes_transferred=2**40,
    )


def outbox_item(
    key: str,
    now: datetime,
    *,
    process_id: str = "process-1",
    due_in: float = 0.0,
    created_in: float = 0.0,
) -> OutboxItem:
    return OutboxItem(
        id=key,
        process_kind="negotiation",
        process_id=process_id,
        message_type="ContractRequestMessage",
        url="https://peer.example/dsp/negotiations/request",
        payload={"@type": "ContractRequestMessage", "nested": NESTED},
        next_attempt_at=now + timedelta(seconds=due_in),
        created_at=now + timedelta(seconds=created_in),
    )


def token(key: str, now: datetime, *, transfer_id: str = "t-1", kind: str = "pull") -> DataToken:
    return DataToken(
        token_hash=key,
        kind=kind,
        transfer_id=transfer_id,
        expires_at=now + timedelta(hours=1),
        created_at=now,
    )


@dataclass(frozen=True)
class Kind:
    """One record type reachable as ``Tx.<attr>``: how to make one and how to change one."""

    attr: str
    make: Any  # (key, now) -> record
    field: str  # a field ``replace`` changes
    value: Any

    def rows(self, tx: Tx) -> Rows:
        rows: Rows = getattr(tx, self.attr)
        return rows


KINDS = [
    Kind("assets", asset, "properties", {"name": "changed", "list": [1, {"x": None}]}),
    Kind("policies", policy, "policy", {"@type": "Set", "prohibition": [{"action": "share"}]}),
    Kind("contract_definitions", contract_definition, "access_policy_id", "other-access"),
    Kind("negotiations", negotiation, "state", "AGREED"),
    Kind("agreements", agreement, "consumer_id", "did:web:other.example"),
    Kind("transfers", transfer, "bytes_transferred", 42),
]
