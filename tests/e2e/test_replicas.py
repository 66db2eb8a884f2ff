"""Two provider replicas (two processes over one PostgreSQL schema) and a consumer: concurrent
negotiations, and no outbound message is ever sent twice.

Both replicas run the outbound manager over the shared outbox, so every queued agreement and
FINALIZED event is up for grabs by either. The consumer sits behind a ``Gate`` that records every
request reaching it: each negotiation must deliver exactly one agreement and one FINALIZED event.
The first batch runs unhindered (every outbox row must also show exactly one attempt: one claim
in total across both replicas); in the second the consumer is out of reach while the
negotiations start, so both replicas keep retrying the same rows until it comes back.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.e2e.procs import (
    PROTOCOL,
    Cluster,
    Gate,
    Participant,
    catalog_offer,
    free_port,
    postgres_schemas,
    publish,
    wait_negotiation,
    wait_until,
)

from twinspace.protocol.machine import Role
from twinspace.store import SENT, Negotiation

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BATCH = 12
ASSET = "shared"
# no delivery may time out and be repeated for want of patience: leases outlive every send
PATIENT = {"TWINSPACE_SEND_TIMEOUT": "30", "TWINSPACE_LEASE_SECONDS": "90"}


@pytest.fixture
def schemas(postgres_admin: Engine) -> Iterator[list[str]]:
    with postgres_schemas(postgres_admin, 2) as urls:
        yield urls


@pytest.fixture
def cluster(schemas: list[str], tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path, env=PATIENT) as c:  # closed before the schemas are dropped
        yield c


@dataclass
class Setup:
    replicas: list[Participant]
    consumer: Participant
    to_replicas: list[Gate]
    to_consumer: Gate
    offer: dict[str, object]

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.log_tail()}" for p in [*self.replicas, self.consumer]
        )


def start(cluster: Cluster, tmp_path: Path, schemas: list[str]) -> Setup:
    shared, consumer_db = schemas
    ports = [free_port(), free_port()]
    to_replicas = [cluster.gate(port, f"to-replica-{i}") for i, port in enumerate(ports)]
    public = f"http://127.0.0.1:{ports[0]}"  # one public URL for both replicas
    replicas = [
        cluster.participant(  # started one after the other: the first one migrates the schema
            f"provider-{i}",
            port=port,
            database_url=shared,
            public_url=public,
            participant_id="urn:twinspace:provider",
        )
        for i, port in enumerate(ports)
    ]
    consumer_port = free_port()
    to_consumer = cluster.gate(consumer_port, "to-consumer")
    consumer = cluster.participant(
        "consumer", port=consumer_port, database_url=consumer_db, public_url=to_consumer.url
    )
    data = tmp_path / "shared.csv"
    data.write_text("a,b\n1,2\n")
    publish(replicas[0], ASSET, data, "text/csv")
    offer = catalog_offer(consumer, to_replicas[1].url + "/dsp", ASSET)  # the other replica
    return Setup(replicas, consumer, to_replicas, to_consumer, offer)


def start_negotiations(setup: Setup, count: int) -> list[str]:
    """``count`` negotiations started at once, alternately with either replica."""

    def one(i: int) -> str:
        body = {
            "counterPartyAddress": setup.to_replicas[i % 2].url + "/dsp",
            "protocol": PROTOCOL,
            "policy": setup.offer,
        }
        with httpx.Client(
            base_url=setup.consumer.base_url + "/management/v3",
            headers={"X-Api-Key": setup.consumer.api_key},
            timeout=30,
        ) as client:
            r = client.post("/contractnegotiations", json=body)
            assert r.is_success, r.text
            return str(r.json()["@id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def provider_side(setup: Setup, nid: str) -> Negotiation | None:
    return setup.replicas[0].negotiation_record(Role.PROVIDER, consumer_pid=nid)


def converge(setup: Setup, nids: list[str]) -> dict[str, Negotiation]:
    ours: dict[str, Negotiation] = {}
    try:
        for nid in nids:
            theirs = wait_negotiation(setup.consumer, nid, "FINALIZED", 90)

            def finalized(nid: str = nid) -> Negotiation | None:
                n = provider_side(setup, nid)
                return n if n is not None and n.state == "FINALIZED" else None

            ours[nid] = wait_until(
                finalized, 90, what=f"the provider's negotiation for {nid} to be FINALIZED"
            )
            assert theirs["contractAgreementId"] == ours[nid].agreement_id
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{setup.logs()}") from None
    return ours


def deliveries(gate: Gate, pattern: str) -> collections.Counter[str]:
    """How many requests reached the gate's participant, per first regex group."""
    rx = re.compile(pattern)
    return collections.Counter(m[1] for path in gate.paths() if (m := rx.search(path)))


def assert_delivered_once(setup: Setup, ours: dict[str, Negotiation], one_attempt: bool) -> None:
    nids = list(ours)
    agreements = deliveries(setup.to_consumer, r"/negotiations/([^/]+)/agreement$")
    events = deliveries(setup.to_consumer, r"/negotiations/([^/]+)/events$")
    assert {nid: agreements[nid] for nid in nids} == dict.fromkeys(nids, 1), agreements
    assert {nid: events[nid] for nid in nids} == dict.fromkeys(nids, 1), events

    verifications: collections.Counter[str] = collections.Counter()
    requests = 0
    for gate in setup.to_replicas:
        verifications += deliveries(gate, r"/negotiations/([^/]+)/agreement/verification$")
        requests += len(gate.paths(r"/negotiations/request$"))
    pids = [str(n.provider_pid) for n in ours.values()]
    assert {pid: verifications[pid] for pid in pids} == dict.fromkeys(pids, 1), verifications
    assert requests >= len(nids)

    for n in ours.values():
        rows = setup.replicas[0].outbox(n.id)
        assert sorted(r.message_type for r in rows) == [
            "ContractAgreementMessage",
            "ContractNegotiationEventMessage:FINALIZED",
        ]
        assert all(r.status == SENT for r in rows), rows
        if one_attempt:
            assert [r.attempts for r in rows] == [1, 1], rows
    for nid in nids:
        rows = setup.consumer.outbox(nid)
        assert len(rows) == 2 and all(r.status == SENT for r in rows), rows


def test_replicas_never_send_twice(cluster: Cluster, tmp_path: Path, schemas: list[str]) -> None:
    setup = start(cluster, tmp_path, schemas)

    # 1. unhindered: each outbox row claimed once in all, each message delivered once
    first = start_negotiations(setup, BATCH)
    ours = converge(setup, first)
    assert_delivered_once(setup, ours, one_attempt=True)
    # both replicas answered requests (the consumer alternates between their addresses)
    assert all(gate.paths(r"/negotiations/request$") for gate in setup.to_replicas)

    # 2. the consumer out of reach: both replicas retry the same rows; once it is back, every
    # agreement and event still arrives exactly once
    setup.to_consumer.set_mode("refuse")
    second = start_negotiations(setup, BATCH)
    wait_until(
        lambda: (
            sum(
                1
                for nid in second
                if (n := provider_side(setup, nid)) is not None
                and any(r.attempts >= 3 for r in setup.replicas[0].outbox(n.id))
            )
            == BATCH
        ),
        60,
        what="every agreement to have been retried",
    )
    setup.to_consumer.set_mode("open")
    ours = converge(setup, second)
    assert_delivered_once(setup, ours, one_attempt=False)
    assert all(p.alive for p in setup.replicas)
