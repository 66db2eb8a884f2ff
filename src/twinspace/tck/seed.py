"""The fixtures the TCK's cases refer to by id, seeded idempotently when TCK mode is on.

- one policy (``use``) and one contract definition offering every provider-side TCK dataset:
  ``ACN0101``..``ACN0304`` (contract negotiation, provider) and ``CAT0101``, ``CAT0102`` (catalog);
  ``CAT0103`` is deliberately absent (CAT:01-03 expects "not found");
- the agreements the transfer cases cite, each with the finalized negotiation it came from:
  ``ATP0101``..``ATP0306`` with this connector as provider (a transfer request needs a finalized
  provider-side agreement over an existing asset) and ``ATPC0101``..``ATPC0306`` with this
  connector as consumer (the transfer trigger starts a transfer under them).

The TCK's consumer never negotiated these agreements, so it is unknown who it will be: they are
made with ``"unknown"``, which the provider accepts from any caller (as for an unidentified
counter-party). Seeding only inserts what is missing; it never changes or deletes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twinspace.clock import isoformat
from twinspace.connector.ids import offer_id
from twinspace.protocol.machine import Role
from twinspace.protocol.negotiation import CN
from twinspace.store import (
    Agreement,
    Asset,
    ContractDefinition,
    Negotiation,
    PolicyDefinition,
    Store,
    Tx,
)
from twinspace.tck import scripts

Json = dict[str, Any]

POLICY_ID = "tck-policy"
CONTRACT_DEFINITION_ID = "tck-offers"
#: The asset every seeded transfer agreement is about (not offered in the catalog).
TRANSFER_ASSET_ID = "tck-transfer-data"
#: Who the seeded agreements were made with when the counter-party is the TCK.
UNKNOWN_PARTY = "unknown"
#: Where the seeded (never negotiated) processes pretend their counter-party lives.
NOWHERE = "http://tck.invalid/dsp"

POLICY: Json = {"permission": [{"action": "use"}]}
DATA_ADDRESS: Json = {"type": "HttpData", "baseUrl": "https://example.org/twinspace-tck"}


def offered_datasets() -> list[str]:
    """Every dataset the seeded contract definition offers, in TCK case order."""
    return [*scripts.provider_datasets(), *scripts.CATALOG_DATASETS.values()]


def tck_offer_id(dataset_id: str) -> str:
    """The id of the offer this connector makes for a seeded dataset (CN_xx_yy_OFFERID)."""
    return offer_id(CONTRACT_DEFINITION_ID, dataset_id)


@dataclass
class Seeded:
    """What one seeding run inserted (all zero when everything was already there)."""

    created: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.created.values())


def seed(store: Store, participant_id: str, now: datetime) -> Seeded:
    """Insert whatever of the TCK fixtures is missing, in one transaction."""
    result = Seeded()
    with store.transaction() as tx:
        _offers(tx, now, result)
        for agreement_id in scripts.provider_agreements():
            _agreement(tx, agreement_id, Role.PROVIDER, participant_id, now, result)
        for agreement_id in scripts.consumer_agreements():
            _agreement(tx, agreement_id, Role.CONSUMER, participant_id, now, result)
    return result


def _offers(tx: Tx, now: datetime, result: Seeded) -> None:
    datasets = offered_datasets()
    for asset_id in [*datasets, TRANSFER_ASSET_ID]:
        if tx.assets.find(asset_id) is None:
            tx.assets.insert(
                Asset(
                    id=asset_id,
                    properties={},
                    data_address=dict(DATA_ADDRESS),
                    private_properties={"purpose": "Eclipse DSP TCK fixture"},
                    created_at=now,
                )
            )
            result.add("assets")
    if tx.policies.find(POLICY_ID) is None:
        tx.policies.insert(PolicyDefinition(id=POLICY_ID, policy=dict(POLICY), created_at=now))
        result.add("policies")
    if tx.contract_definitions.find(CONTRACT_DEFINITION_ID) is None:
        tx.contract_definitions.insert(
            ContractDefinition(
                id=CONTRACT_DEFINITION_ID,
                access_policy_id=POLICY_ID,
                contract_policy_id=POLICY_ID,
                assets_selector=[{"operandLeft": "id", "operator": "in", "operandRight": datasets}],
                created_at=now,
            )
        )
        result.add("contract_definitions")


def _agreement(
    tx: Tx, agreement_id: str, role: Role, participant_id: str, now: datetime, result: Seeded
) -> None:
    negotiation_id = f"urn:twinspace:tck:negotiation:{agreement_id}"
    ours_as_provider = role is Role.PROVIDER
    provider = participant_id if ours_as_provider else UNKNOWN_PARTY
    consumer = UNKNOWN_PARTY if ours_as_provider else participant_id
    offer: Json = {
        "@id": f"urn:twinspace:tck:offer:{agreement_id}",
        "@type": "Offer",
        "target": TRANSFER_ASSET_ID,
        **POLICY,
    }
    if tx.negotiations.find(negotiation_id) is None:
        tx.negotiations.insert(
            Negotiation(
                id=negotiation_id,
                role=role,
                state=CN.FINALIZED,
                provider_pid=f"{negotiation_id}:provider",
                consumer_pid=f"{negotiation_id}:consumer",
                counter_party_address=NOWHERE,
                counter_party_id=None,
                asset_id=TRANSFER_ASSET_ID,
                offer=offer,
                agreement_id=agreement_id,
                created_at=now,
                updated_at=now,
            )
        )
        result.add("negotiations")
    if tx.agreements.find(agreement_id) is None:
        tx.agreements.insert(
            Agreement(
                id=agreement_id,
                negotiation_id=negotiation_id,
                asset_id=TRANSFER_ASSET_ID,
                provider_id=provider,
                consumer_id=consumer,
                policy={
                    "@id": agreement_id,
                    "@type": "Agreement",
                    "target": TRANSFER_ASSET_ID,
                    "assigner": provider,
                    "assignee": consumer,
                    "timestamp": isoformat(now),
                    **POLICY,
                },
                signed_at=now,
            )
        )
        result.add("agreements")
