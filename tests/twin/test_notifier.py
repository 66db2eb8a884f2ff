"""The notifier on a real store (both backends) posting to a real in-process HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from twinspace.clock import ManualClock
from twinspace.store import Store
from twinspace.store.records import FAILED, PENDING, SENT
from twinspace.store.twin_rows import NotificationRow, SubscriptionRow
from twinspace.store.twin_tables import twin_notifications as table
from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.notifier import Notifier
from twinspace.twin.subscription import parse_subscription, to_datetime

EX = "https://example.org/ns/"
CTX_URL = "https://example.org/ctx.jsonld"
CTX = {"Vehicle": f"{EX}Vehicle", "speed": f"{EX}speed", "owner": f"{EX}owner"}
VEHICLE, SPEED, OWNER = f"{EX}Vehicle", f"{EX}speed", f"{EX}owner"
TERMS = TermMap.build([CTX])


class Receiver:
    """A notification endpoint: records every request; answers ``failures`` times with 500."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        self.failures = 0
        self.app = Starlette(routes=[Route("/notify", self.notify, methods=["POST"])])

    async def notify(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.received.append((dict(request.headers), body))
        if self.failures:
            self.failures -= 1
            return JSONResponse({"error": "receiver down"}, status_code=500)
        return Response(status_code=204)

    @property
    def bodies(self) -> list[Any]:
        return [body for _, body in self.received]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def client(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app)) as http:
        yield http


def terms_for(context: list[str | dict[str, Any]]) -> TermMap:
    assert context in ([CTX_URL], [])
    return TERMS


def make_notifier(
    store: Store, clock: ManualClock, client: httpx.AsyncClient, **options: Any
) -> Notifier:
    options.setdefault("backoff_base", 1.0)
    return Notifier(store=store, clock=clock, client=client, terms_for=terms_for, **options)


@pytest.fixture
def notifier(store: Store, clock: ManualClock, client: httpx.AsyncClient) -> Notifier:
    return make_notifier(store, clock, client, owner="worker-a")


def subscribe(
    store: Store, clock: ManualClock, tenant: str = "", owner: str | None = None, **members: Any
) -> str:
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": "http://receiver.test/notify"}},
    }
    body.update(members)
    now = clock.now()
    doc = parse_subscription(body, TERMS, now, context=[CTX_URL])
    expires = doc.get("expiresAt")
    row = SubscriptionRow(
        id=doc["id"],
        tenant=tenant,
        doc=doc,
        created_at=now,
        modified_at=now,
        active=doc["isActive"],
        expires_at=to_datetime(expires) if expires else None,
        owner=owner,
    )
    with store.transaction() as tx:
        tx.twin_subscriptions.add(row)
    return str(doc["id"])


def vehicle(n: int, speed: float, **extra: Any) -> dict[str, Any]:
    attrs = {SPEED: [{"type": "Property", "value": speed}]}
    for key, value in extra.items():
        attrs[f"{EX}{key}"] = [{"type": "Property", "value": value}]
    return {"id": f"urn:ngsi-ld:Vehicle:{n}", "type": [VEHICLE], "attrs": attrs}


def write(
    store: Store,
    notifier: Notifier,
    clock: ManualClock,
    changes: list[tuple[Any, Any]],
    tenant: str = "",
) -> int:
    with store.transaction() as tx:
        return notifier.enqueue(tx, tenant, changes, clock.now())


def queued(store: Store, sub_id: str) -> list[NotificationRow]:
    with store.transaction() as tx:
        found = tx.conn.execute(sa.select(table.c.id).where(table.c.subscription_id == sub_id))
        ids = [r[0] for r in found]
        rows = [tx.twin_notifications.get(i) for i in ids]
    return sorted((r for r in rows if r is not None), key=lambda r: r.created_at)


async def test_delivers_a_notification(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    sub_id = subscribe(
        store,
        clock,
        notification={
            "endpoint": {
                "uri": "http://receiver.test/notify",
                "receiverInfo": [{"key": "X-Token", "value": "abc"}],
            }
        },
    )
    assert write(store, notifier, clock, [(None, vehicle(1, 50)), (None, vehicle(2, 60))]) == 1
    assert await notifier.deliver_due() == 1
    (headers, body) = receiver.received[0]
    assert headers["content-type"] == "application/json"
    assert headers["link"].startswith(f"<{CTX_URL}>")
    assert headers["x-token"] == "abc"
    assert "ngsild-tenant" not in headers
    assert body["type"] == "Notification" and body["subscriptionId"] == sub_id
    assert [e["id"] for e in body["data"]] == ["urn:ngsi-ld:Vehicle:1", "urn:ngsi-ld:Vehicle:2"]
    assert body["data"][0]["speed"]["value"] == 50 and body["data"][0]["type"] == "Vehicle"
    (row,) = queued(store, sub_id)
    assert row.status == SENT and row.attempts == 1
    status = notifier.status("", sub_id)
    assert status is not None
    assert status["status"] == "active"
    note = status["notification"]
    assert note["timesSent"] == 1 and note["timesFailed"] == 0 and note["status"] == "ok"
    assert to_datetime(note["lastSuccess"]) == clock.now()
    assert "lastFailure" not in note
    assert await notifier.deliver_due() == 0


async def test_tenants_are_separate(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    subscribe(store, clock, tenant="city")
    assert write(store, notifier, clock, [(None, vehicle(1, 50))]) == 0
    assert write(store, notifier, clock, [(None, vehicle(1, 50))], tenant="city") == 1
    await notifier.deliver_due()
    (headers, _) = receiver.received[0]
    assert headers["ngsild-tenant"] == "city"
    assert notifier.status("", "urn:nothing") is None


async def test_only_matching_changes_notify(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    subscribe(
        store,
        clock,
        q="speed>40",
        notification={"format": "keyValues", "endpoint": {"uri": "http://receiver.test/notify"}},
    )
    assert write(store, notifier, clock, [(None, vehicle(1, 10))]) == 0
    same = vehicle(1, 50)
    assert write(store, notifier, clock, [(same, vehicle(1, 50))]) == 0  # nothing changed
    assert write(store, notifier, clock, [(vehicle(1, 10), vehicle(1, 60))]) == 1
    await notifier.deliver_due()
    assert receiver.bodies[0]["data"] == [
        {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 60}
    ]


async def test_paused_and_expired_subscriptions_get_nothing(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    subscribe(store, clock, isActive=False)
    expiring = subscribe(store, clock, expiresAt="2026-01-01T00:00:10Z")
    clock.advance(20)
    assert write(store, notifier, clock, [(None, vehicle(1, 50))]) == 0
    assert notifier.status("", expiring)["status"] == "expired"  # type: ignore[index]


async def test_deletions_notify_entity_deleted(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    subscribe(store, clock, notificationTrigger=["entityDeleted"])
    assert write(store, notifier, clock, [(None, vehicle(1, 50))]) == 0
    assert write(store, notifier, clock, [(vehicle(1, 50), None)]) == 1
    await notifier.deliver_due()
    (entity,) = receiver.bodies[0]["data"]
    assert entity["id"] == "urn:ngsi-ld:Vehicle:1" and "speed" not in entity
    assert to_datetime(entity["deletedAt"]) == clock.now()


async def test_retries_with_backoff_then_succeeds(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    sub_id = subscribe(store, clock)
    receiver.failures = 2
    write(store, notifier, clock, [(None, vehicle(1, 50))])
    start = clock.now()
    assert await notifier.deliver_due() == 1
    (row,) = queued(store, sub_id)
    assert row.status == PENDING and row.attempts == 1
    assert row.last_error is not None and "HTTP 500" in row.last_error
    assert row.next_attempt_at == start + timedelta(seconds=1)
    assert await notifier.deliver_due() == 0  # not due yet
    clock.advance(1)
    assert await notifier.deliver_due() == 1
    (row,) = queued(store, sub_id)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=2)  # doubled
    clock.advance(2)
    assert await notifier.deliver_due() == 1
    (row,) = queued(store, sub_id)
    assert row.status == SENT and row.attempts == 3
    assert len(receiver.received) == 3
    note = notifier.status("", sub_id)["notification"]  # type: ignore[index]
    assert note["timesSent"] == 3 and note["timesFailed"] == 2 and note["status"] == "ok"
    assert to_datetime(note["lastFailure"]) < to_datetime(note["lastSuccess"])


async def test_gives_up_after_max_attempts(
    store: Store, clock: ManualClock, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    notifier = make_notifier(store, clock, client, max_attempts=3)
    sub_id = subscribe(store, clock)
    receiver.failures = 100
    write(store, notifier, clock, [(None, vehicle(1, 50))])
    for _ in range(3):
        assert await notifier.deliver_due() == 1
        clock.advance(60)
    assert await notifier.deliver_due() == 0
    (row,) = queued(store, sub_id)
    assert row.status == FAILED and row.attempts == 3
    assert row.last_error is not None and "gave up after 3" in row.last_error
    note = notifier.status("", sub_id)["notification"]  # type: ignore[index]
    assert note["timesFailed"] == 3 and note["timesSent"] == 3 and note["status"] == "failed"


async def test_unreachable_endpoint_is_a_failure(store: Store, clock: ManualClock) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as real:
        notifier = make_notifier(store, clock, real, send_timeout=5.0)
        sub_id = subscribe(
            store, clock, notification={"endpoint": {"uri": f"http://127.0.0.1:{port}/notify"}}
        )
        write(store, notifier, clock, [(None, vehicle(1, 50))])
        assert await notifier.deliver_due() == 1
    (row,) = queued(store, sub_id)
    assert row.status == PENDING and "ConnectError" in (row.last_error or "")
    note = notifier.status("", sub_id)["notification"]  # type: ignore[index]
    assert note["timesFailed"] == 1 and note["status"] == "failed"


async def test_throttling_coalesces_into_one_notification(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    sub_id = subscribe(store, clock, throttling=10)
    write(store, notifier, clock, [(None, vehicle(1, 10))])
    assert await notifier.deliver_due() == 1
    first = clock.now()
    clock.advance(2)
    write(store, notifier, clock, [(vehicle(1, 10), vehicle(1, 20)), (None, vehicle(2, 5))])
    clock.advance(2)
    write(store, notifier, clock, [(vehicle(1, 20), vehicle(1, 30))])
    assert [r.next_attempt_at for r in queued(store, sub_id)[1:]] == [
        first + timedelta(seconds=10)
    ] * 2
    assert await notifier.deliver_due() == 0  # inside the window
    clock.advance(6)
    assert await notifier.deliver_due() == 2
    assert len(receiver.received) == 2
    data = {e["id"]: e["speed"]["value"] for e in receiver.bodies[1]["data"]}
    assert data == {"urn:ngsi-ld:Vehicle:2": 5, "urn:ngsi-ld:Vehicle:1": 30}
    assert all(r.status == SENT for r in queued(store, sub_id))


async def test_throttling_postpones_what_became_due_meanwhile(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    sub_id = subscribe(store, clock, throttling=10)
    write(store, notifier, clock, [(None, vehicle(1, 10))])
    write(store, notifier, clock, [(vehicle(1, 10), vehicle(1, 20))])  # both due now
    with store.transaction() as tx:  # another worker sent a notification a moment ago
        tx.twin_subscriptions.record_delivery(sub_id, clock.now(), True, None)
    assert await notifier.deliver_due() == 2
    assert receiver.received == []
    rows = queued(store, sub_id)
    assert {r.next_attempt_at for r in rows} == {clock.now() + timedelta(seconds=10)}
    clock.advance(10)
    assert await notifier.deliver_due() == 2
    (body,) = receiver.bodies
    assert [e["speed"]["value"] for e in body["data"]] == [20]


async def test_two_notifiers_never_send_twice(
    store: Store, clock: ManualClock, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    a = make_notifier(store, clock, client, owner="a", batch=3)
    b = make_notifier(store, clock, client, owner="b", batch=3)
    subs = [subscribe(store, clock) for _ in range(6)]
    assert write(store, a, clock, [(None, vehicle(1, 50))]) == 6
    claimed = await asyncio.to_thread(a._claim)  # a holds a lease on three of them
    assert sum(len(rows) for _, rows in claimed) == 3
    assert await b.deliver_due() == 3
    assert await b.deliver_due() == 0
    for sub, rows in claimed:
        await a._deliver(sub, rows)
    got = sorted(body["subscriptionId"] for body in receiver.bodies)
    assert got == sorted(subs)


async def test_concurrent_passes_deliver_each_once(
    store: Store, clock: ManualClock, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    a = make_notifier(store, clock, client, owner="a")
    b = make_notifier(store, clock, client, owner="b")
    for _ in range(4):
        subscribe(store, clock)
    for n in range(5):
        write(store, a, clock, [(None, vehicle(n, 50))])
    done = await asyncio.gather(a.deliver_due(), b.deliver_due(), a.deliver_due())
    assert sum(done) == 20
    assert len(receiver.received) <= 20  # a subscription's due rows may be coalesced
    ids = [e["id"] for body in receiver.bodies for e in body["data"]]
    assert (
        len(ids) == 20
        and len({(b["subscriptionId"], e["id"]) for b in receiver.bodies for e in b["data"]}) == 20
    )


async def test_owner_filters_shape_what_a_consumer_sees(
    store: Store, clock: ManualClock, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    def hide_owner(row: SubscriptionRow, entity: dict[str, Any]) -> dict[str, Any] | None:
        assert row.owner == "transfer:t1"
        if entity["id"].endswith(":2"):
            return None
        return {**entity, "attrs": {k: v for k, v in entity["attrs"].items() if k != OWNER}}

    notifier = make_notifier(store, clock, client, filters={"transfer:": hide_owner})
    subscribe(store, clock, owner="transfer:t1")
    plain = subscribe(store, clock)
    write(store, notifier, clock, [(None, vehicle(1, 50, owner="ann")), (None, vehicle(2, 5))])
    await notifier.deliver_due()
    by_sub = {b["subscriptionId"]: b["data"] for b in receiver.bodies}
    (filtered,) = [d for s, d in by_sub.items() if s != plain]
    assert [e["id"] for e in filtered] == ["urn:ngsi-ld:Vehicle:1"]
    assert "owner" not in filtered[0] and "owner" in by_sub[plain][0]
    assert len(by_sub[plain]) == 2


async def test_deleted_or_paused_subscription_drops_its_queue(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    gone = subscribe(store, clock)
    paused = subscribe(store, clock)
    write(store, notifier, clock, [(None, vehicle(1, 50))])
    with store.transaction() as tx:
        tx.twin_subscriptions.delete("", gone)
        row = tx.twin_subscriptions.get("", paused)
        assert row is not None
        row.active = False
        tx.twin_subscriptions.replace(row)
    assert await notifier.deliver_due() == 2
    assert receiver.received == []
    assert [r.last_error for r in queued(store, gone)] == ["subscription deleted"]
    assert [r.last_error for r in queued(store, paused)] == ["subscription paused"]


async def test_run_loop_delivers_until_stopped(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    subscribe(store, clock)
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    write(store, notifier, clock, [(None, vehicle(1, 50))])
    notifier.wake()
    for _ in range(500):
        if receiver.received:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert len(receiver.received) == 1


def test_enqueue_without_subscriptions_is_cheap(
    store: Store, clock: ManualClock, notifier: Notifier
) -> None:
    assert write(store, notifier, clock, []) == 0
    assert write(store, notifier, clock, [(None, vehicle(1, 50))]) == 0


async def test_each_subscription_gets_its_own_rendering(
    store: Store, clock: ManualClock, notifier: Notifier, receiver: Receiver
) -> None:
    endpoint = {"uri": "http://receiver.test/notify"}
    plain = subscribe(store, clock, notification={"endpoint": endpoint})
    flat = subscribe(store, clock, notification={"format": "keyValues", "endpoint": endpoint})
    linked = subscribe(
        store, clock, notification={"endpoint": {**endpoint, "accept": "application/ld+json"}}
    )
    assert write(store, notifier, clock, [(None, vehicle(1, 50))]) == 3
    assert await notifier.deliver_due() == 3
    by_sub = {body["subscriptionId"]: (h, body["data"][0]) for h, body in receiver.received}
    assert by_sub[plain][1]["speed"] == {"type": "Property", "value": 50}
    assert by_sub[flat][1]["speed"] == 50
    headers, entity = by_sub[linked]
    assert headers["content-type"] == "application/ld+json" and "link" not in headers
    assert entity["@context"] == CTX_URL and "@context" not in by_sub[plain][1]


async def test_unavailable_context_skips_the_subscription_not_the_write(
    store: Store, clock: ManualClock, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    def missing(context: list[str | dict[str, Any]]) -> TermMap:
        raise NgsiError("LdContextNotAvailable", f"{context[0]} is not held")

    notifier = Notifier(store=store, clock=clock, client=client, terms_for=missing)
    sub_id = subscribe(store, clock)
    assert write(store, notifier, clock, [(None, vehicle(1, 50))]) == 0
    note = notifier.status("", sub_id)["notification"]  # type: ignore[index]
    assert note["timesFailed"] == 1 and note["status"] == "failed"


async def test_a_failing_filter_hides_the_entity(
    store: Store, clock: ManualClock, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    def broken(row: SubscriptionRow, entity: dict[str, Any]) -> dict[str, Any] | None:
        raise RuntimeError("policy engine down")

    notifier = make_notifier(store, clock, client, filters={"transfer:": broken})
    subscribe(store, clock, owner="transfer:t1")
    assert write(store, notifier, clock, [(None, vehicle(1, 50))]) == 0
