"""MQTT sensor ingest: subscribe to ``<prefix>/#`` and upsert what arrives, in batches.

The topic and payload scheme is documented in :mod:`twinspace.twin.ingest` (the pure parser):
``<prefix>/<tenant>/<EntityType>/<entity-id>`` carries one entity (keyValues attributes or a
normalized/concise NGSI-LD entity), ``<prefix>/<tenant>/batch`` a JSON array of entities, and the
ingest publishes the reason for every rejected message to ``<prefix>/<tenant>/errors`` as
``{"topic", "reason", "at"}``. ``<tenant>`` is ``default`` for the default tenant ``""``.

Delivery:

* One QoS 1 subscription in a **persistent session** (``clean_session=False``, MQTT 3.1.1) under a
  stable client id: messages published while the ingest is briefly disconnected (or stopped and
  restarted with the same ``client_id``) are queued by the broker and delivered on reconnect. Pass a
  stable ``client_id`` for that to survive restarts; without one an id is generated per instance
  (persistent across its reconnects only). Two ingests must never share a client id (the broker
  disconnects the older one).
* The client acknowledges a message when it is received; it is then buffered in-process until its
  batch is upserted. Messages still buffered when :meth:`MqttIngest.run` is cancelled are logged
  (with their count) as dropped, never discarded silently.
* The broker bounds what it holds for a slow subscriber (Mosquitto: ``max_queued_messages``,
  default 1000, beyond the 20 in flight) and drops the excess, logging "Outgoing messages are
  being dropped"; raise it for bursts above what the ingest sustains (several thousand messages/s).
* Messages are grouped per ``(tenant, @context)`` for at most ``batch_wait`` seconds or
  ``batch_max`` messages, whichever comes first; each group is one ``upsert(tenant, entities,
  context)`` call of at most ``batch_max`` entities (a single larger batch message is passed whole).
  Order is preserved within a group, and the same entity twice in one group stays twice, in order:
  the upsert applies them in sequence. Groups are upserted in the order of their first message.
* A malformed message or a failing upsert (any exception) is logged with the reason, counted as
  rejected and reported on the errors topic; ingest goes on. A lost connection is retried with
  :func:`twinspace.retry.backoff` (``reconnect_base`` doubling up to ``reconnect_max`` seconds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from twinspace.clock import Clock, SystemClock, isoformat
from twinspace.retry import backoff
from twinspace.twin.ingest import (
    DEFAULT_PREFIX,
    DEFAULT_TENANT_SEGMENT,
    ERRORS_SEGMENT,
    IngestError,
    is_errors_topic,
    parse_message,
)

__all__ = ["Context", "MqttIngest", "Refused", "Upsert", "errors_topic"]

log = logging.getLogger("twinspace.twin.mqtt")

Context = list[str | dict[str, Any]]
Upsert = Callable[[str, list[dict[str, Any]], Context | None], Awaitable[None]]


class Refused(Exception):
    """Raised by an ``upsert`` that applied some entities and refused others: ``reasons`` maps
    each refused entity id to why. The messages that carried them are reported as rejected
    (on the errors topic, and counted); the rest count as applied."""

    def __init__(self, reasons: dict[str, str]) -> None:
        super().__init__(f"{len(reasons)} entit{'y' if len(reasons) == 1 else 'ies'} refused")
        self.reasons = reasons


def errors_topic(prefix: str, topic: str) -> str:
    """The errors topic for a message received on ``topic``: ``<prefix>/<tenant>/errors``."""
    stem = prefix.strip("/")
    rest = topic[len(stem) + 1 :] if topic.startswith(stem + "/") else ""
    segment = rest.split("/", 1)[0] or DEFAULT_TENANT_SEGMENT
    return f"{stem}/{segment}/{ERRORS_SEGMENT}"


@dataclass
class _Group:
    tenant: str
    context: Context | None
    messages: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)


class MqttIngest:
    """Subscribes to ``<prefix>/#`` (QoS 1) and feeds the entities to ``upsert`` in batches."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        prefix: str = DEFAULT_PREFIX,
        upsert: Upsert,
        client_id: str | None = None,
        batch_max: int = 500,
        batch_wait: float = 0.05,
        reconnect_max: float = 30.0,
        reconnect_base: float = 0.5,
        default_context: Context | None = None,
        publish_errors: bool = True,
        keepalive: int = 30,
        clock: Clock | None = None,
    ) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        self._host = host
        self._port = port
        self._prefix = prefix.strip("/")
        self._upsert = upsert
        self.client_id = client_id or f"twinspace-ingest-{uuid.uuid4().hex[:12]}"
        self._batch_max = batch_max
        self._batch_wait = batch_wait
        self._reconnect_max = reconnect_max
        self._reconnect_base = reconnect_base
        self._default_context = default_context
        self._publish_errors = publish_errors
        self._keepalive = keepalive
        self._clock: Clock = clock or SystemClock()
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._client: aiomqtt.Client | None = None
        self._in_process = 0
        self._attempt = 0
        self.started = asyncio.Event()
        self._connected = False
        self._received = 0
        self._applied = 0
        self._rejected = 0
        self._reconnects = 0
        self._last_error: str | None = None
        self._last_error_at: str | None = None

    def status(self) -> dict[str, Any]:
        """Counters (messages) and connection state, as the status endpoint shows them."""
        return {
            "connected": self._connected,
            "received": self._received,
            "applied": self._applied,
            "rejected": self._rejected,
            "pending": self._queue.qsize() + self._in_process,
            "lastError": self._last_error,
            "lastErrorAt": self._last_error_at,
            "reconnects": self._reconnects,
            "clientId": self.client_id,
        }

    async def run(self) -> None:
        """Connect, subscribe and ingest until cancelled, reconnecting with backoff."""
        worker = asyncio.create_task(self._work(), name=f"mqtt-ingest-{self.client_id}")
        try:
            while True:
                try:
                    await self._session()
                except aiomqtt.MqttError as exc:
                    self._error(
                        f"MQTT connection to {self._host}:{self._port} lost or failed: {exc}"
                    )
                finally:
                    self._connected = False
                    self._client = None
                delay = backoff(self._attempt, self._reconnect_base, self._reconnect_max)
                self._attempt += 1
                log.warning("reconnecting to MQTT %s:%s in %.2fs", self._host, self._port, delay)
                await asyncio.sleep(delay)
                self._reconnects += 1
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            dropped = self._queue.qsize() + self._in_process
            if dropped:
                log.warning(
                    "MQTT ingest stopped with %d received message(s) not applied (dropped)", dropped
                )

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self._host,
            self._port,
            identifier=self.client_id,
            clean_session=False,
            keepalive=self._keepalive,
            timeout=10.0,
            logger=log,
            queue_type=self._feed_type(),
        )
        async with client:
            await client.subscribe(f"{self._prefix}/#", qos=1)
            self._client = client
            self._connected = True
            self._attempt = 0
            log.info(
                "MQTT ingest %s subscribed to %s/# at %s:%s",
                self.client_id,
                self._prefix,
                self._host,
                self._port,
            )
            self.started.set()
            # The feed queue hands every message to _accept, so this yields nothing; it waits
            # for the disconnection (MqttError) or the cancellation.
            async for _ in client.messages:
                pass

    def _feed_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        """aiomqtt's incoming-message queue class, replaced by one that feeds :meth:`_accept`
        directly (no task and no second queue per message: the receive path is the bottleneck
        at thousands of messages per second)."""
        accept = self._accept

        class Feed(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                accept(item)

        return Feed

    def _accept(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        if is_errors_topic(topic, self._prefix):
            return
        payload = message.payload
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        elif not isinstance(payload, bytes | bytearray):
            payload = b"" if payload is None else str(payload).encode("utf-8")
        self._received += 1
        self._queue.put_nowait((topic, bytes(payload)))

    async def _work(self) -> None:
        while True:
            items = await self._take()
            try:
                await self._process(items)
            except Exception as exc:  # a bug must not stop ingest: count what was left, go on
                log.exception("MQTT ingest failed to process %d message(s)", len(items))
                self._rejected += self._in_process
                self._error(f"internal error while processing messages: {exc!r}")
            # not in a finally: on cancellation run() reports what was still in process
            self._in_process = 0

    async def _take(self) -> list[tuple[str, bytes]]:
        """The next batch: the first message, then more for up to ``batch_wait`` seconds.

        ``_in_process`` counts what was taken off the queue, so nothing held here goes unnoticed
        (status ``pending``, the shutdown report)."""
        items = [await self._queue.get()]
        self._in_process = 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._batch_wait
        while len(items) < self._batch_max:
            if not self._queue.empty():
                items.append(self._queue.get_nowait())
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            self._in_process = len(items)
        return items

    async def _process(self, items: list[tuple[str, bytes]]) -> None:
        groups: dict[tuple[str, str], _Group] = {}
        for topic, payload in items:
            try:
                batch = parse_message(topic, payload, self._prefix)
            except IngestError as exc:
                self._in_process -= 1
                await self._reject([topic], f"malformed message: {exc.reason}")
                continue
            context = batch.context if batch.context is not None else self._default_context
            key = (batch.tenant, json.dumps(context, sort_keys=True))
            group = groups.setdefault(key, _Group(batch.tenant, context))
            group.messages.append((topic, batch.entities))
        for group in groups.values():
            for chunk in self._chunks(group.messages):
                await self._apply(group, chunk)

    def _chunks(
        self, messages: list[tuple[str, list[dict[str, Any]]]]
    ) -> list[list[tuple[str, list[dict[str, Any]]]]]:
        chunks: list[list[tuple[str, list[dict[str, Any]]]]] = []
        current: list[tuple[str, list[dict[str, Any]]]] = []
        size = 0
        for message in messages:
            count = len(message[1])
            if current and size + count > self._batch_max:
                chunks.append(current)
                current, size = [], 0
            current.append(message)
            size += count
        if current:
            chunks.append(current)
        return chunks

    async def _apply(self, group: _Group, chunk: list[tuple[str, list[dict[str, Any]]]]) -> None:
        entities = [entity for _, batch in chunk for entity in batch]
        try:
            await self._upsert(group.tenant, entities, group.context)
        except Refused as refused:
            self._in_process -= len(chunk)
            rejected = 0
            for topic, batch in chunk:
                why = [refused.reasons[e["id"]] for e in batch if e.get("id") in refused.reasons]
                if why:
                    rejected += 1
                    await self._reject([topic], f"upsert refused: {'; '.join(why)}")
            self._applied += len(chunk) - rejected
            return
        except Exception as exc:
            detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
            reason = f"upsert failed: {detail}"
            self._in_process -= len(chunk)
            await self._reject([topic for topic, _ in chunk], reason, count=len(chunk))
            return
        self._in_process -= len(chunk)
        self._applied += len(chunk)

    async def _reject(self, topics: list[str], reason: str, *, count: int | None = None) -> None:
        self._rejected += len(topics) if count is None else count
        self._error(f"{reason} (topic {topics[0]}{' and others' if len(topics) > 1 else ''})")
        client = self._client
        if not self._publish_errors or client is None:
            return
        at = isoformat(self._clock.now())
        for topic in dict.fromkeys(topics):
            report = json.dumps({"topic": topic, "reason": reason, "at": at})
            try:
                await client.publish(errors_topic(self._prefix, topic), report, qos=1)
            except aiomqtt.MqttError as exc:
                log.warning("could not publish the rejection of %s: %s", topic, exc)

    def _error(self, message: str) -> None:
        self._last_error = message
        self._last_error_at = isoformat(self._clock.now())
        log.warning("%s", message)
