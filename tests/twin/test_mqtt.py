"""The MQTT ingest against the real Mosquitto broker (and one test against no broker at all)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import pytest
from tests.twin.conftest import MqttBroker

from twinspace.twin.mqtt import Context, MqttIngest, errors_topic

WAIT = 15.0  # safety net for every wait: tests never assert on timing


class Recorder:
    """An ``upsert`` that records its calls; optionally fails or blocks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]], Context | None]] = []
        self.fail_next = 0
        self.gate: asyncio.Event | None = None
        self.changed = asyncio.Event()

    async def __call__(
        self, tenant: str, entities: list[dict[str, Any]], context: Context | None
    ) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database down")
        self.calls.append((tenant, entities, context))
        self.changed.set()

    def ids(self) -> list[str]:
        return [entity["id"] for _, entities, _ in self.calls for entity in entities]


def prefix() -> str:
    return f"test/{uuid.uuid4().hex[:10]}"


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), WAIT)


@asynccontextmanager
async def running(ingest: MqttIngest) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(ingest.run())
    try:
        await asyncio.wait_for(ingest.started.wait(), WAIT)
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def send(broker: MqttBroker, messages: list[tuple[str, Any]]) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for topic, payload in messages:
            body = payload if isinstance(payload, bytes) else json.dumps(payload)
            await client.publish(topic, body, qos=1)


def new_ingest(broker: MqttBroker, pfx: str, upsert: Recorder, **kwargs: Any) -> MqttIngest:
    return MqttIngest(host=broker.host, port=broker.port, prefix=pfx, upsert=upsert, **kwargs)


mqtt = pytest.mark.mqtt


@mqtt
async def test_messages_arrive_as_upsert_batches_in_order(mqtt_broker: MqttBroker) -> None:
    pfx, upsert = prefix(), Recorder()
    # batch_wait is long, so only batch_max closes a batch: two upserts of five, deterministically
    ingest = new_ingest(mqtt_broker, pfx, upsert, batch_max=5, batch_wait=60.0)
    async with running(ingest):
        messages = [
            (
                f"{pfx}/default/AirQualityObserved/s{i % 2}",
                {"NO2": i, "observedAt": f"2026-11-24T10:00:0{i}Z"},
            )
            for i in range(10)
        ]
        await send(mqtt_broker, messages)
        await until(lambda: ingest.status()["applied"] == 10)
        assert ingest.status()["connected"] is True
    assert ingest.status()["connected"] is False
    assert [len(entities) for _, entities, _ in upsert.calls] == [5, 5]
    assert all(tenant == "" and context is None for tenant, _, context in upsert.calls)
    # the same entity several times in one batch: kept, in publication order
    values = [entity["NO2"]["value"] for _, entities, _ in upsert.calls for entity in entities]
    assert values == list(range(10))
    assert upsert.ids()[:2] == [
        "urn:ngsi-ld:AirQualityObserved:s0",
        "urn:ngsi-ld:AirQualityObserved:s1",
    ]
    status = ingest.status()
    assert status["received"] == 10
    assert status["rejected"] == 0
    assert status["lastError"] is None


@mqtt
async def test_batch_wait_flushes_a_partial_batch(mqtt_broker: MqttBroker) -> None:
    pfx, upsert = prefix(), Recorder()
    ingest = new_ingest(mqtt_broker, pfx, upsert, batch_max=1000, batch_wait=0.05)
    async with running(ingest):
        await send(mqtt_broker, [(f"{pfx}/default/T/urn:x:1", {"v": 1})])
        await until(lambda: ingest.status()["applied"] == 1)
    assert upsert.calls == [
        ("", [{"id": "urn:x:1", "type": "T", "v": {"type": "Property", "value": 1}}], None)
    ]


@mqtt
async def test_groups_per_tenant_and_context(mqtt_broker: MqttBroker) -> None:
    pfx, upsert = prefix(), Recorder()
    default = ["https://example.org/default.jsonld"]
    ingest = new_ingest(
        mqtt_broker, pfx, upsert, batch_max=6, batch_wait=60.0, default_context=default
    )
    own = {"@context": "https://example.org/own.jsonld"}
    batch = [{"id": "urn:x:b1", "type": "T"}, {"id": "urn:x:b2", "type": "T"}]
    async with running(ingest):
        await send(
            mqtt_broker,
            [
                (f"{pfx}/default/T/urn:x:1", {"v": 1}),
                (f"{pfx}/acme/T/urn:x:2", {"v": 2}),
                (f"{pfx}/default/T/urn:x:3", {"v": 3, **own}),
                (f"{pfx}/default/T/urn:x:4", {"v": 4}),
                (f"{pfx}/acme/batch", batch),
                (f"{pfx}/acme/T/urn:x:5", {"v": 5}),
            ],
        )
        await until(lambda: ingest.status()["applied"] == 6)
    grouped = [
        (tenant, [e["id"] for e in entities], context) for tenant, entities, context in upsert.calls
    ]
    assert grouped == [
        ("", ["urn:x:1", "urn:x:4"], default),
        ("acme", ["urn:x:2", "urn:x:b1", "urn:x:b2", "urn:x:5"], default),
        ("", ["urn:x:3"], ["https://example.org/own.jsonld"]),
    ]


@asynccontextmanager
async def error_listener(broker: MqttBroker, pfx: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(f"{pfx}/+/errors", qos=1)
        yield client


async def next_error(client: aiomqtt.Client) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            report: dict[str, Any] = json.loads(message.payload)
            report["errorsTopic"] = message.topic.value
            return report
        raise AssertionError("no error report")

    return await asyncio.wait_for(first(), WAIT)


@mqtt
async def test_malformed_message_reported_counted_and_ingest_goes_on(
    mqtt_broker: MqttBroker,
) -> None:
    pfx, upsert = prefix(), Recorder()
    ingest = new_ingest(mqtt_broker, pfx, upsert, batch_wait=0.01)
    async with error_listener(mqtt_broker, pfx) as listener, running(ingest):
        bad = f"{pfx}/acme/T/urn:x:1"
        await send(mqtt_broker, [(bad, b"{not json")])
        report = await next_error(listener)
        assert report["errorsTopic"] == f"{pfx}/acme/errors"
        assert report["topic"] == bad
        assert "malformed message: payload is not valid JSON" in report["reason"]
        assert report["at"].endswith("Z")
        await send(mqtt_broker, [(f"{pfx}/acme/T/urn:x:2", {"v": 2})])
        await until(lambda: ingest.status()["applied"] == 1)
    status = ingest.status()
    # the ingest's own error report on <prefix>/acme/errors is not counted as received
    assert (status["received"], status["applied"], status["rejected"]) == (2, 1, 1)
    assert "payload is not valid JSON" in status["lastError"]
    assert status["lastErrorAt"] is not None
    assert upsert.ids() == ["urn:x:2"]


@mqtt
async def test_failing_upsert_counted_reported_and_ingest_goes_on(
    mqtt_broker: MqttBroker, caplog: pytest.LogCaptureFixture
) -> None:
    pfx, upsert = prefix(), Recorder()
    upsert.fail_next = 1
    ingest = new_ingest(mqtt_broker, pfx, upsert, batch_wait=0.01)
    caplog.set_level(logging.WARNING, logger="twinspace.twin.mqtt")
    async with error_listener(mqtt_broker, pfx) as listener, running(ingest):
        await send(mqtt_broker, [(f"{pfx}/default/T/urn:x:1", {"v": 1})])
        report = await next_error(listener)
        assert report["errorsTopic"] == f"{pfx}/default/errors"
        assert report["reason"] == "upsert failed: database down"
        await send(mqtt_broker, [(f"{pfx}/default/T/urn:x:2", {"v": 2})])
        await until(lambda: ingest.status()["applied"] == 1)
    status = ingest.status()
    assert (status["received"], status["applied"], status["rejected"]) == (2, 1, 1)
    assert "upsert failed: database down" in status["lastError"]
    assert upsert.ids() == ["urn:x:2"]
    assert any("database down" in record.getMessage() for record in caplog.records)


@mqtt
async def test_persistent_session_delivers_what_was_published_while_stopped(
    mqtt_broker: MqttBroker,
) -> None:
    pfx, client_id = prefix(), f"test-ingest-{uuid.uuid4().hex[:8]}"
    first = Recorder()
    async with running(new_ingest(mqtt_broker, pfx, first, client_id=client_id)):
        pass  # subscribed once: the broker now keeps the session and queues for it
    await send(mqtt_broker, [(f"{pfx}/default/T/urn:x:{i}", {"v": i}) for i in range(3)])
    second = Recorder()
    ingest = new_ingest(mqtt_broker, pfx, second, client_id=client_id, batch_wait=0.01)
    async with running(ingest):
        await until(lambda: ingest.status()["applied"] == 3)
    assert second.ids() == ["urn:x:0", "urn:x:1", "urn:x:2"]
    assert first.calls == []


@mqtt
async def test_reconnects_after_losing_the_connection(mqtt_broker: MqttBroker) -> None:
    pfx, client_id, upsert = prefix(), f"test-ingest-{uuid.uuid4().hex[:8]}", Recorder()
    ingest = new_ingest(
        mqtt_broker, pfx, upsert, client_id=client_id, batch_wait=0.01, reconnect_base=0.05
    )
    async with running(ingest):
        # another connection with the same client id makes the broker drop the ingest's one
        async with aiomqtt.Client(
            mqtt_broker.host, mqtt_broker.port, identifier=client_id, clean_session=False
        ):
            await until(lambda: ingest.status()["lastError"] is not None)
        await until(lambda: ingest.status()["reconnects"] >= 1 and ingest.status()["connected"])
        await send(mqtt_broker, [(f"{pfx}/default/T/urn:x:1", {"v": 1})])
        await until(lambda: ingest.status()["applied"] == 1)
    assert "lost or failed" in (ingest.status()["lastError"] or "")
    assert upsert.ids() == ["urn:x:1"]


async def test_unreachable_broker_is_retried_with_backoff() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    upsert = Recorder()
    ingest = MqttIngest(
        host="127.0.0.1", port=port, upsert=upsert, reconnect_base=0.01, reconnect_max=0.02
    )
    task = asyncio.create_task(ingest.run())
    await until(lambda: ingest.status()["reconnects"] >= 2)
    status = ingest.status()
    assert status["connected"] is False
    assert f"127.0.0.1:{port}" in status["lastError"]
    assert not ingest.started.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@mqtt
async def test_cancellation_is_clean_even_during_an_upsert(
    mqtt_broker: MqttBroker, caplog: pytest.LogCaptureFixture
) -> None:
    pfx, upsert = prefix(), Recorder()
    upsert.gate = asyncio.Event()  # never opened: the upsert hangs until cancelled
    ingest = new_ingest(mqtt_broker, pfx, upsert, batch_wait=0.01)
    caplog.set_level(logging.WARNING, logger="twinspace.twin.mqtt")
    task = asyncio.create_task(ingest.run())
    await asyncio.wait_for(ingest.started.wait(), WAIT)
    await send(mqtt_broker, [(f"{pfx}/default/T/urn:x:{i}", {"v": i}) for i in range(2)])
    await until(lambda: ingest.status()["received"] == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    status = ingest.status()
    assert status["connected"] is False
    assert status["applied"] == 0
    assert any("not applied (dropped)" in record.getMessage() for record in caplog.records)


def test_errors_topic_names_the_tenant_of_the_message() -> None:
    assert errors_topic("p/q", "p/q/acme/T/urn:x:1") == "p/q/acme/errors"
    assert errors_topic("p/q", "p/q/default/batch") == "p/q/default/errors"
    assert errors_topic("p/q", "p/q") == "p/q/default/errors"


def test_rejects_a_nonsense_batch_max() -> None:
    async def upsert(tenant: str, entities: list[dict[str, Any]], context: Context | None) -> None:
        return None

    with pytest.raises(ValueError):
        MqttIngest(host="h", port=1, upsert=upsert, batch_max=0)
