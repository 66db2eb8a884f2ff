"""SIGKILL one connector process in the middle of a negotiation or a transfer, restart it on the
same database, and show that both sides converge on the same final state with nothing lost.

"The middle" is hit deterministically with a ``Gate`` in front of the other side's DSP address:
``refuse`` keeps a message queued and retrying (the counter-party looks down), ``hold`` lets a
message arrive but swallows its acknowledgement. Each test then checks, on both databases:
the same final state, the same agreement, every queued outbound message SENT (none pending,
none failed) and each message type queued exactly once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.e2e.procs import (
    Cluster,
    Gate,
    Participant,
    catalog_offer,
    complete_transfer,
    edr,
    free_port,
    negotiation,
    postgres_schemas,
    publish,
    start_negotiation,
    start_transfer,
    transfer,
    wait_negotiation,
    wait_transfer,
    wait_until,
)

from twinspace.protocol.machine import Role
from twinspace.store import SENT, Negotiation, Transfer

pytestmark = pytest.mark.slow

ASSET = "counts"
DATA_SIZE = 24 * 1024 * 1024  # big enough that a pull can be cut off halfway

NEGOTIATION_OUT = {
    Role.CONSUMER: ["ContractRequestMessage", "ContractAgreementVerificationMessage"],
    Role.PROVIDER: ["ContractAgreementMessage", "ContractNegotiationEventMessage:FINALIZED"],
}
TRANSFER_OUT = {
    Role.CONSUMER: ["TransferRequestMessage", "TransferCompletionMessage"],
    Role.PROVIDER: ["TransferStartMessage"],
}


@dataclass
class Pair:
    """A provider and a consumer process, each behind a gate for the other's messages."""

    provider: Participant
    consumer: Participant
    to_provider: Gate  # what the consumer sends goes through here
    to_consumer: Gate  # what the provider sends goes through here
    data: Path
    digest: str
    offer: dict[str, object]

    @property
    def provider_dsp(self) -> str:
        return self.to_provider.url + "/dsp"

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.log_tail()}" for p in (self.provider, self.consumer)
        )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as c:
        yield c


def make_pair(
    cluster: Cluster,
    root: Path,
    provider_db: str | None = None,
    consumer_db: str | None = None,
) -> Pair:
    data = root / "counts.bin"
    data.write_bytes(os.urandom(DATA_SIZE))
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    provider_port, consumer_port = free_port(), free_port()
    to_provider = cluster.gate(provider_port, "to-provider")
    to_consumer = cluster.gate(consumer_port, "to-consumer")
    # the provider's public URL is its own port, so data pulls never cross a gate
    provider = cluster.participant("provider", port=provider_port, database_url=provider_db)
    consumer = cluster.participant(
        "consumer", port=consumer_port, public_url=to_consumer.url, database_url=consumer_db
    )
    publish(provider, ASSET, data)
    offer = catalog_offer(consumer, to_provider.url + "/dsp", ASSET)
    return Pair(provider, consumer, to_provider, to_consumer, data, digest, offer)


# --- what "converged, nothing lost" means ------------------------------------------------------


def provider_negotiation(pair: Pair, consumer_pid: str) -> Negotiation | None:
    return pair.provider.negotiation_record(Role.PROVIDER, consumer_pid=consumer_pid)


def provider_transfer(pair: Pair, consumer_pid: str) -> Transfer | None:
    return pair.provider.transfer_record(Role.PROVIDER, consumer_pid=consumer_pid)


def assert_outbox_complete(p: Participant, process_id: str, expected: list[str]) -> None:
    rows = p.outbox(process_id)
    unsent = [
        (r.message_type, r.status, r.attempts, r.last_error) for r in rows if r.status != SENT
    ]
    assert not unsent, f"{p.name}: messages not delivered for {process_id}: {unsent}"
    assert sorted(r.message_type for r in rows) == sorted(expected), (
        f"{p.name}: queued {[r.message_type for r in rows]} for {process_id}, expected {expected}"
    )


def assert_negotiation_converged(pair: Pair, negotiation_id: str, timeout: float = 60.0) -> str:
    """Both sides FINALIZED on the same agreement, every message delivered; the agreement id."""
    c, p = pair.consumer, pair.provider
    try:
        theirs = wait_negotiation(c, negotiation_id, "FINALIZED", timeout)
        ours: Negotiation = wait_until(
            lambda: (
                (n := provider_negotiation(pair, negotiation_id)) and n.state == "FINALIZED" and n
            ),
            timeout,
            what="the provider's negotiation to be FINALIZED",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{pair.logs()}") from None
    agreement_id = theirs["contractAgreementId"]
    assert agreement_id and agreement_id == ours.agreement_id
    mine, yours = c.agreement_record(agreement_id), p.agreement_record(agreement_id)
    assert mine is not None and yours is not None
    assert (mine.asset_id, mine.provider_id, mine.consumer_id) == (
        yours.asset_id,
        yours.provider_id,
        yours.consumer_id,
    )
    assert mine.policy == yours.policy
    assert_outbox_complete(c, negotiation_id, NEGOTIATION_OUT[Role.CONSUMER])
    assert_outbox_complete(p, ours.id, NEGOTIATION_OUT[Role.PROVIDER])
    # the deliveries that reached the other side: at least once each, never lost
    assert pair.to_provider.paths(f"/negotiations/{ours.id}/agreement/verification$")
    assert pair.to_consumer.paths(f"/negotiations/{negotiation_id}/agreement$")
    assert pair.to_consumer.paths(f"/negotiations/{negotiation_id}/events$")
    return str(agreement_id)


def wait_both_transfer(pair: Pair, transfer_id: str, state: str, timeout: float = 60.0) -> Transfer:
    try:
        wait_transfer(pair.consumer, transfer_id, state, timeout)
        found: Transfer = wait_until(
            lambda: (t := provider_transfer(pair, transfer_id)) and t.state == state and t,
            timeout,
            what=f"the provider's transfer to be {state}",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{pair.logs()}") from None
    return found


def pull(pair: Pair, transfer_id: str) -> None:
    """Pull the whole asset with the consumer's EDR and check it byte for byte."""
    endpoint, token = edr(pair.consumer, transfer_id)
    sha = hashlib.sha256()
    with httpx.stream(
        "GET", endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes(256 * 1024):
            sha.update(chunk)
    assert sha.hexdigest() == pair.digest


def negotiate(pair: Pair) -> str:
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    return assert_negotiation_converged(pair, nid)


# --- (a) the provider killed mid-negotiation ---------------------------------------------------


def test_provider_killed_while_its_agreement_is_undelivered(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The provider accepted the request and queued the agreement, but the consumer is out of
    reach; the provider dies with the agreement still in its outbox, comes back, delivers it."""
    pair = make_pair(cluster, tmp_path)
    pair.to_consumer.set_mode("refuse")
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    wait_negotiation(pair.consumer, nid, "REQUESTED")
    wait_until(
        lambda: any(
            r.message_type == "ContractAgreementMessage" and r.attempts >= 2
            for r in pair.provider.outbox()
        ),
        what="the provider to retry its agreement",
    )
    pair.provider.kill()
    ours = provider_negotiation(pair, nid)
    assert ours is not None and ours.state == "REQUESTED"
    assert negotiation(pair.consumer, nid)["state"] == "REQUESTED"

    pair.provider.start()
    pair.to_consumer.set_mode("open")
    assert_negotiation_converged(pair, nid)


def test_provider_killed_after_consumer_finalized_but_before_it_heard(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The consumer's acknowledgements never reach the provider: the agreement is acknowledged
    implicitly by the verification, but the FINALIZED event's acknowledgement is lost and the
    provider dies still VERIFIED. After the restart it repeats the event once its lease runs
    out, and the consumer answers the duplicate as before."""
    pair = make_pair(cluster, tmp_path)
    pair.to_consumer.set_mode("hold")
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    wait_negotiation(pair.consumer, nid, "FINALIZED")
    pair.to_consumer.wait_for(f"/negotiations/{nid}/events$")
    pair.provider.kill()
    ours = provider_negotiation(pair, nid)
    assert ours is not None and ours.state == "VERIFIED"

    pair.to_consumer.set_mode("open")
    pair.provider.start()
    assert_negotiation_converged(pair, nid)
    # the provider's event reached the consumer more than once; the consumer stayed FINALIZED
    assert len(pair.to_consumer.paths(f"/negotiations/{nid}/events$")) >= 2


# --- (b) the consumer killed mid-negotiation ---------------------------------------------------


def test_consumer_killed_with_its_request_unsent(cluster: Cluster, tmp_path: Path) -> None:
    """SIGKILL right after the initiate call returned: the request is persisted, not delivered."""
    pair = make_pair(cluster, tmp_path)
    pair.to_provider.set_mode("refuse")
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    pair.consumer.kill()
    [request] = pair.consumer.outbox(nid)
    assert request.message_type == "ContractRequestMessage" and request.status != SENT
    assert pair.provider.outbox() == []

    pair.consumer.start()
    assert negotiation(pair.consumer, nid)["state"] == "INITIAL"
    pair.to_provider.set_mode("open")
    assert_negotiation_converged(pair, nid)


def test_consumer_killed_right_after_initiating(cluster: Cluster, tmp_path: Path) -> None:
    """No gate: the request may or may not have left before the kill; either way it converges."""
    pair = make_pair(cluster, tmp_path)
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    pair.consumer.kill()
    pair.consumer.start()
    assert_negotiation_converged(pair, nid)


def test_consumer_killed_after_provider_got_the_request_but_before_the_ack(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The provider accepted the request, but its acknowledgement is lost and its agreement
    cannot reach the consumer; the consumer dies not knowing the provider's pid. After the
    restart the repeated request is answered from the provider's memory (same providerPid)."""
    pair = make_pair(cluster, tmp_path)
    pair.to_provider.set_mode("hold")
    pair.to_consumer.set_mode("refuse")
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    pair.to_provider.wait_for("/negotiations/request$")
    ours = wait_until(lambda: provider_negotiation(pair, nid), what="the provider's negotiation")
    pair.consumer.kill()
    assert ours.state == "REQUESTED"
    assert negotiation_state_in_db(pair.consumer, nid) == "INITIAL"

    pair.to_provider.set_mode("open")
    pair.consumer.start()
    pair.to_consumer.set_mode("open")
    assert_negotiation_converged(pair, nid)
    assert provider_negotiation(pair, nid) is not None
    # one negotiation on the provider for this consumer pid, however often the request came
    with pair.provider.db.transaction() as tx:
        assert len(tx.negotiations.list(tx.negotiations.table.c.consumer_pid == nid)) == 1


def negotiation_state_in_db(p: Participant, negotiation_id: str) -> str:
    with p.db.transaction() as tx:
        return str(tx.negotiations.get(negotiation_id).state)


def test_consumer_killed_while_the_agreement_is_on_its_way(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The consumer's request was acknowledged (REQUESTED); the provider's agreement cannot get
    through; the consumer dies and comes back; the provider's retries deliver the agreement."""
    pair = make_pair(cluster, tmp_path)
    pair.to_consumer.set_mode("refuse")
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    wait_negotiation(pair.consumer, nid, "REQUESTED")
    pair.consumer.kill()
    pair.consumer.start()
    assert negotiation(pair.consumer, nid)["state"] == "REQUESTED"
    pair.to_consumer.set_mode("open")
    assert_negotiation_converged(pair, nid)


# --- (c) a process killed mid-transfer ---------------------------------------------------------


def finish_transfer(pair: Pair, transfer_id: str) -> None:
    """Pull, complete from the consumer side, and check both sides COMPLETED with all sent."""
    pull(pair, transfer_id)
    complete_transfer(pair.consumer, transfer_id)
    theirs = wait_both_transfer(pair, transfer_id, "COMPLETED")
    assert_outbox_complete(pair.consumer, transfer_id, TRANSFER_OUT[Role.CONSUMER])
    assert_outbox_complete(pair.provider, theirs.id, TRANSFER_OUT[Role.PROVIDER])
    assert transfer(pair.consumer, transfer_id)["state"] == "COMPLETED"


def test_provider_killed_with_its_transfer_start_undelivered(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The provider accepted the transfer request (REQUESTED, start message queued with the
    EDR) but cannot reach the consumer; it is killed before STARTED and comes back."""
    pair = make_pair(cluster, tmp_path)
    agreement_id = negotiate(pair)
    pair.to_consumer.set_mode("refuse")
    tid = start_transfer(pair.consumer, pair.provider_dsp, agreement_id)
    wait_transfer(pair.consumer, tid, "REQUESTED")
    wait_until(
        lambda: any(
            r.message_type == "TransferStartMessage" and r.attempts >= 2
            for r in pair.provider.outbox()
        ),
        what="the provider to retry its start message",
    )
    pair.provider.kill()
    ours = provider_transfer(pair, tid)
    assert ours is not None and ours.state == "REQUESTED"

    pair.provider.start()
    pair.to_consumer.set_mode("open")
    wait_both_transfer(pair, tid, "STARTED")
    finish_transfer(pair, tid)


def test_consumer_killed_with_its_transfer_request_unsent(cluster: Cluster, tmp_path: Path) -> None:
    pair = make_pair(cluster, tmp_path)
    agreement_id = negotiate(pair)
    pair.to_provider.set_mode("refuse")
    tid = start_transfer(pair.consumer, pair.provider_dsp, agreement_id)
    pair.consumer.kill()
    assert provider_transfer(pair, tid) is None
    pair.consumer.start()
    pair.to_provider.set_mode("open")
    wait_both_transfer(pair, tid, "STARTED")
    finish_transfer(pair, tid)


def test_provider_killed_during_a_pull(cluster: Cluster, tmp_path: Path) -> None:
    """The provider dies while streaming the data; after the restart the transfer is still
    STARTED on both sides and the same EDR pulls the whole file."""
    pair = make_pair(cluster, tmp_path)
    agreement_id = negotiate(pair)
    tid = start_transfer(pair.consumer, pair.provider_dsp, agreement_id)
    wait_both_transfer(pair, tid, "STARTED")
    endpoint, token = edr(pair.consumer, tid)
    received = 0
    with (
        pytest.raises(httpx.HTTPError),
        httpx.stream(
            "GET", endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes(64 * 1024):
            received += len(chunk)
            if received >= 2 * 1024 * 1024 and pair.provider.alive:
                pair.provider.kill()
    assert received < DATA_SIZE, "the pull finished before the provider died"

    pair.provider.start()
    assert provider_transfer(pair, tid).state == "STARTED"  # type: ignore[union-attr]
    assert transfer(pair.consumer, tid)["state"] == "STARTED"
    finish_transfer(pair, tid)


def test_consumer_killed_with_its_completion_undelivered(cluster: Cluster, tmp_path: Path) -> None:
    pair = make_pair(cluster, tmp_path)
    agreement_id = negotiate(pair)
    tid = start_transfer(pair.consumer, pair.provider_dsp, agreement_id)
    wait_both_transfer(pair, tid, "STARTED")
    pull(pair, tid)
    pair.to_provider.set_mode("refuse")
    complete_transfer(pair.consumer, tid)
    pair.consumer.kill()
    assert provider_transfer(pair, tid).state == "STARTED"  # type: ignore[union-attr]
    pair.consumer.start()
    pair.to_provider.set_mode("open")
    theirs = wait_both_transfer(pair, tid, "COMPLETED")
    assert_outbox_complete(pair.consumer, tid, TRANSFER_OUT[Role.CONSUMER])
    assert_outbox_complete(pair.provider, theirs.id, TRANSFER_OUT[Role.PROVIDER])


# --- both connectors on PostgreSQL -------------------------------------------------------------


@pytest.fixture
def pg_schemas(postgres_admin: Engine) -> Iterator[list[str]]:
    """Two fresh schemas (provider, consumer) in the PostgreSQL test database, dropped after."""
    with postgres_schemas(postgres_admin, 2) as urls:
        yield urls


@pytest.fixture
def pg_cluster(pg_schemas: list[str], tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as c:  # stopped (and its engines closed) before the schemas go
        yield c


@pytest.mark.postgres
def test_kills_on_postgresql(pg_cluster: Cluster, pg_schemas: list[str], tmp_path: Path) -> None:
    """Provider killed mid-negotiation, provider killed before STARTED, consumer killed with
    its completion undelivered: both connectors on PostgreSQL."""
    provider_db, consumer_db = pg_schemas
    pair = make_pair(pg_cluster, tmp_path, provider_db=provider_db, consumer_db=consumer_db)

    pair.to_consumer.set_mode("refuse")
    nid = start_negotiation(pair.consumer, pair.provider_dsp, pair.offer)
    wait_negotiation(pair.consumer, nid, "REQUESTED")
    pair.provider.kill()
    pair.provider.start()
    pair.to_consumer.set_mode("open")
    agreement_id = assert_negotiation_converged(pair, nid)

    pair.to_consumer.set_mode("refuse")
    tid = start_transfer(pair.consumer, pair.provider_dsp, agreement_id)
    wait_transfer(pair.consumer, tid, "REQUESTED")
    pair.provider.kill()
    pair.provider.start()
    pair.to_consumer.set_mode("open")
    wait_both_transfer(pair, tid, "STARTED")
    pull(pair, tid)

    pair.to_provider.set_mode("refuse")
    complete_transfer(pair.consumer, tid)
    pair.consumer.kill()
    pair.consumer.start()
    pair.to_provider.set_mode("open")
    theirs = wait_both_transfer(pair, tid, "COMPLETED")
    assert_outbox_complete(pair.consumer, tid, TRANSFER_OUT[Role.CONSUMER])
    assert_outbox_complete(pair.provider, theirs.id, TRANSFER_OUT[Role.PROVIDER])
