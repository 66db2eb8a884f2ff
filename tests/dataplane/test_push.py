"""Push transfers: the provider's pusher into the consumer's /public/push receiver."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.connector.harness import Node, network
from tests.dataplane.util import (
    agree,
    outbox_job,
    pump,
    settle,
    start_transfer,
    state_is,
    transfer,
)

from twinspace.clock import ManualClock
from twinspace.dataplane import CHUNK_SIZE
from twinspace.dataplane.received import received_name
from twinspace.protocol import messages as m
from twinspace.store import FAILED, PENDING

DATA = os.urandom(CHUNK_SIZE * 2 + 77)


def received(node: Node, transfer_id: str) -> Path:
    return node.connector.ctx.settings.data_dir / "received" / received_name(transfer_id)


def push_token(c: Node, transfer_id: str) -> str:
    return m.endpoint_properties(transfer(c, transfer_id).data_destination or {})["authorization"]


async def test_push_a_file_end_to_end(tmp_path: Path) -> None:
    source = tmp_path / "twin.bin"
    source.write_bytes(DATA)
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(source)})
        ct, pt = await start_transfer(c, p, await agree(c, p, "twin"), "HttpData-PUSH")
        assert (ct.data_destination or {})[
            "endpoint"
        ] == f"http://consumer.test/public/push/{ct.id}"
        await settle(
            (c, p), lambda: state_is(c, ct.id, "COMPLETED") and state_is(p, pt.id, "COMPLETED")
        )
        assert received(c, ct.id).read_bytes() == DATA
        assert transfer(p, pt.id).bytes_transferred == len(DATA)
        assert transfer(c, ct.id).bytes_transferred == len(DATA)
        assert [f.name for f in received(c, ct.id).parent.iterdir()] == [received(c, ct.id).name]
        # the transfer is over: its push token no longer opens the receiver
        r = await c.client.post(
            f"/public/push/{ct.id}",
            content=b"more",
            headers={"Authorization": push_token(c, ct.id)},
        )
        assert r.status_code == 401 and r.json()["reason"] == "token revoked"


@pytest.fixture
async def stuck(tmp_path: Path) -> AsyncIterator[dict[str, Node]]:
    """Manual managers and clock; the provider's asset file is missing, so pushes fail."""
    async with network(
        tmp_path,
        ["provider", "consumer"],
        clock=ManualClock(),
        run_managers=False,
        max_attempts=3,
        backoff_base=1.0,
    ) as nodes:
        nodes["provider"].add_offer("gone", {"type": "File", "path": str(tmp_path / "gone.csv")})
        yield nodes


async def test_missing_file_push_is_retried_then_terminated(stuck: dict[str, Node]) -> None:
    p, c = stuck["provider"], stuck["consumer"]
    clock = p.connector.ctx.clock
    assert isinstance(clock, ManualClock)
    ct, pt = await start_transfer(c, p, await agree(c, p, "gone"), "HttpData-PUSH")
    assert transfer(p, pt.id).state == "STARTED" and transfer(c, ct.id).state == "STARTED"
    job = outbox_job(p, pt.id, "PushData")
    assert job is not None and job.message_type == "PushData"
    assert job.status == PENDING and job.attempts == 1
    assert "push failed: the asset's file" in (job.last_error or "")
    assert "gone.csv' does not exist" in (job.last_error or "")

    clock.advance(1)
    await pump(p, c)
    job = outbox_job(p, pt.id, "PushData")
    assert job is not None and job.attempts == 2 and job.status == PENDING
    clock.advance(2)
    await pump(p, c)

    ended = transfer(p, pt.id)
    assert ended.state == "TERMINATED"
    assert "gave up delivering PushData after 3 attempts" in (ended.error_detail or "")
    assert "does not exist" in (ended.error_detail or "")
    with p.connector.store.transaction() as tx:
        push_job = tx.outbox.get(job.id)
    assert push_job.status == FAILED
    theirs = transfer(c, ct.id)
    assert theirs.state == "TERMINATED"
    assert "DELIVERY_FAILED" in (theirs.error_detail or "")
    assert not received(c, ct.id).exists()


async def test_receiver_checks_the_token_and_transfer(stuck: dict[str, Node]) -> None:
    p, c = stuck["provider"], stuck["consumer"]
    ct, _ = await start_transfer(c, p, await agree(c, p, "gone"), "HttpData-PUSH")
    token = push_token(c, ct.id)
    auth = {"Authorization": f"Bearer {token}"}

    r = await c.client.post("/public/push/urn:uuid:someone-else", content=b"x", headers=auth)
    assert r.status_code == 403 and "not for transfer 'urn:uuid:someone-else'" in r.json()["reason"]
    r = await c.client.get("/public/data", headers=auth)  # not a pull token
    assert r.status_code == 403 and "not for pulling" in r.json()["reason"]
    r = await c.client.put(f"/public/push/{ct.id}", content=b"x", headers={"Authorization": "no"})
    assert r.status_code == 401

    r = await c.client.put(f"/public/push/{ct.id}", content=b"hello twin", headers=auth)
    assert r.status_code == 200 and r.json() == {"bytes": 10}
    assert received(c, ct.id).read_bytes() == b"hello twin"
    assert transfer(c, ct.id).bytes_transferred == 10


async def test_a_broken_push_leaves_no_file(stuck: dict[str, Node]) -> None:
    p, c = stuck["provider"], stuck["consumer"]
    ct, _ = await start_transfer(c, p, await agree(c, p, "gone"), "HttpData-PUSH")

    async def breaks() -> AsyncIterator[bytes]:
        yield b"first half, "
        raise OSError("the line went dead")

    with pytest.raises(OSError, match="the line went dead"):
        await c.client.post(
            f"/public/push/{ct.id}",
            content=breaks(),
            headers={"Authorization": f"Bearer {push_token(c, ct.id)}"},
        )
    folder = received(c, ct.id).parent
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert transfer(c, ct.id).bytes_transferred == 0


async def test_refused_push_reports_status_and_reason(tmp_path: Path) -> None:
    source = tmp_path / "twin.bin"
    source.write_bytes(b"abc")
    async with network(
        tmp_path, ["provider", "consumer"], run_managers=False, max_attempts=5
    ) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(source)})
        destination = m.data_address(
            "http://consumer.test/public/push/urn:uuid:x", {"authorization": "forged"}
        )
        agreement = await agree(c, p, "twin")
        t = c.connector.transfers.initiate(
            counter_party_address=p.dsp,
            agreement_id=agreement,
            format_="HttpData-PUSH",
            data_destination=destination,
        )
        await pump(c, p)
        pt = transfer(p, transfer(c, t.id).provider_pid or "")
        job = outbox_job(p, pt.id, "PushData")
        assert job is not None and job.message_type == "PushData"
        assert job.last_error == (
            "push failed: http://consumer.test/public/push/urn:uuid:x answered 401: "
            '{"error":"invalid_token","reason":"unknown token"}'
        )


async def test_push_from_an_unreachable_destination_fails_clearly(tmp_path: Path) -> None:
    source = tmp_path / "twin.bin"
    source.write_bytes(b"abc")
    async with network(tmp_path, ["provider", "consumer"], run_managers=False) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(source)})
        destination = m.data_address("http://nowhere.test/in", {"authorization": "t"})
        t = c.connector.transfers.initiate(
            counter_party_address=p.dsp,
            agreement_id=await agree(c, p, "twin"),
            format_="HttpData-PUSH",
            data_destination=destination,
        )
        await pump(c, p)
        job = outbox_job(p, transfer(c, t.id).provider_pid or "", "PushData")
        assert job is not None
        assert (job.last_error or "").startswith("push failed: sending to http://nowhere.test/in")
        assert "no route to nowhere.test" in (job.last_error or "")


def test_pusher_sets_a_bearer_header() -> None:
    from twinspace.dataplane.push import authorization_header

    assert authorization_header("abc") == "Bearer abc"
    assert authorization_header("Bearer abc") == "Bearer abc"
    assert httpx.Headers({"Authorization": authorization_header("x")})["authorization"]


async def test_no_push_while_the_transfer_is_suspended(stuck: dict[str, Node]) -> None:
    p, c = stuck["provider"], stuck["consumer"]
    clock = p.connector.ctx.clock
    assert isinstance(clock, ManualClock)
    ct, pt = await start_transfer(c, p, await agree(c, p, "gone"), "HttpData-PUSH")
    p.connector.transfers.act(pt.id, "TransferSuspensionMessage")
    await pump(p, c)
    assert transfer(c, ct.id).state == "SUSPENDED"
    clock.advance(1)
    await pump(p, c)
    job = outbox_job(p, pt.id, "PushData")
    assert job is not None and job.attempts == 2
    assert job.last_error == f"push failed: transfer {pt.id!r} is SUSPENDED, not STARTED"
