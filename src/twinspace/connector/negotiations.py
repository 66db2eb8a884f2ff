"""Contract negotiation: inbound DSP messages on both sides, management actions, and reactions.

Automatic behaviour (this issue; the policy engine refines it later):
- provider: a request naming one of its offers unchanged is agreed; an accepted offer is agreed;
  a verified agreement is finalized; a counter-request that matches no offer is terminated.
- consumer: a received agreement is stored and verified.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from twinspace.clock import isoformat
from twinspace.connector.context import Context, retry_on_conflict
from twinspace.connector.errors import (
    BothPids,
    ManagementError,
    Pids,
    ProtocolError,
    bad_request,
    not_found,
)
from twinspace.connector.ids import new_pid
from twinspace.connector.processes import (
    INITIAL,
    Reply,
    duplicate_of_last,
    inbound_transition,
    join_url,
    queue,
    remember_last,
)
from twinspace.protocol import messages as m
from twinspace.protocol.machine import Role
from twinspace.protocol.negotiation import CN, NEGOTIATION, CNMessage, negotiation_kind
from twinspace.protocol.schemas import SchemaViolation, validate
from twinspace.store import Agreement, Negotiation, OutboxItem, Tx

AREA = "negotiation"
Json = dict[str, Any]


def _check_schema(body: Any, expected: str, **pids: str | None) -> Json:
    try:
        validate(body, expected)
    except SchemaViolation as exc:
        raise bad_request(AREA, str(exc), code="INVALID_MESSAGE", **pids) from exc
    assert isinstance(body, dict)
    return body


def _check_callback(address: str) -> None:
    if not address.startswith(("http://", "https://")):
        raise bad_request(
            AREA, f"callbackAddress {address!r} is not an http(s) URL", "UNRECOVERABLE"
        )


def negotiation_json(n: Negotiation) -> Json:
    return m.contract_negotiation(
        provider_pid=n.provider_pid or "", consumer_pid=n.consumer_pid or "", state=n.state
    )


class Negotiations:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- helpers --------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.ctx.clock.now()

    def _send(self, tx: Tx, n: Negotiation, message: Json, path: str, now: datetime) -> OutboxItem:
        return queue(
            tx,
            kind=AREA,
            process=n,
            message_type=negotiation_kind(message),
            url=join_url(n.counter_party_address, path),
            payload=message,
            now=now,
        )

    def _to_provider(
        self, tx: Tx, n: Negotiation, message: Json, suffix: str, now: datetime
    ) -> None:
        self._send(tx, n, message, f"negotiations/{n.provider_pid}/{suffix}", now)

    def _to_consumer(
        self, tx: Tx, n: Negotiation, message: Json, suffix: str, now: datetime
    ) -> None:
        self._send(tx, n, message, f"negotiations/{n.consumer_pid}/{suffix}", now)

    def _pids(self, n: Negotiation) -> BothPids:
        return {"provider_pid": n.provider_pid or "", "consumer_pid": n.consumer_pid or ""}

    def _agree(self, tx: Tx, n: Negotiation, now: datetime) -> None:
        offer = dict(n.offer or {})
        agreement: Json = {
            "@id": new_pid(),
            "@type": "Agreement",
            "target": offer.get("target") or n.asset_id,
            "assigner": self.ctx.participant_id,
            "assignee": n.counter_party_id or "unknown",
            "timestamp": isoformat(now),
        }
        for key in ("profile", "permission", "prohibition", "obligation"):
            if offer.get(key):
                agreement[key] = offer[key]
        self._to_consumer(
            tx, n, m.contract_agreement(agreement=agreement, **self._pids(n)), "agreement", now
        )

    def _terminate_msg(self, n: Negotiation, code: str, reason: str) -> Json:
        return m.negotiation_termination(code=code, reason=reason, **self._pids(n))

    # --- reactions ------------------------------------------------------------------------------

    def react(self, tx: Tx, n: Negotiation, now: datetime) -> None:
        """Queue what this side does next after ``n`` reached its current state."""
        script = self.ctx.script  # TCK mode hook (twinspace.tck): scripted next actions
        if script is not None and script.negotiation(tx, n, now):
            return
        if n.role == Role.PROVIDER:
            if n.state == CN.REQUESTED:
                try:
                    n.offer = self.ctx.catalog.resolve_offer(tx, n.offer or {}, **self._pids(n))
                except ProtocolError as exc:
                    self._to_consumer(
                        tx, n, self._terminate_msg(n, exc.code, exc.reason), "termination", now
                    )
                    return
                self._agree(tx, n, now)
            elif n.state == CN.ACCEPTED:
                self._agree(tx, n, now)
            elif n.state == CN.VERIFIED:
                event = m.negotiation_event(event_type="FINALIZED", **self._pids(n))
                self._to_consumer(tx, n, event, "events", now)
        elif n.state == CN.AGREED:
            self._to_provider(
                tx, n, m.agreement_verification(**self._pids(n)), "agreement/verification", now
            )

    def on_ack(
        self, tx: Tx, n: Negotiation, item: OutboxItem, response: Json | None, now: datetime
    ) -> None:
        """Effects of the counter-party acknowledging ``item`` (state is moved by the caller)."""
        if item.message_type == CNMessage.REQUEST and n.provider_pid is None:
            pid = (response or {}).get("providerPid")
            if not isinstance(pid, str) or not pid:
                raise ValueError("the provider's acknowledgement carries no providerPid")
            n.provider_pid = pid
        elif item.message_type == CNMessage.AGREEMENT:
            self._store_agreement(tx, n, item.payload["agreement"], now)

    def after_ack(self, tx: Tx, n: Negotiation, now: datetime) -> None:
        self.react(tx, n, now)

    def _store_agreement(self, tx: Tx, n: Negotiation, agreement: Json, now: datetime) -> None:
        if tx.agreements.find(agreement["@id"]) is None:
            tx.agreements.insert(
                Agreement(
                    id=agreement["@id"],
                    negotiation_id=n.id,
                    asset_id=str(agreement.get("target", n.asset_id or "")),
                    provider_id=str(agreement.get("assigner", "")),
                    consumer_id=str(agreement.get("assignee", "")),
                    policy=agreement,
                    signed_at=now,
                )
            )
        n.agreement_id = agreement["@id"]

    # --- management (consumer initiates, either side terminates) --------------------------------

    def initiate(
        self, *, counter_party_address: str, offer: Json, counter_party_id: str | None = None
    ) -> Negotiation:
        if not counter_party_address.startswith(("http://", "https://")):
            raise ManagementError(
                400, f"counterPartyAddress {counter_party_address!r} is not an http(s) URL"
            )
        if not offer.get("@id") or not offer.get("target"):
            raise ManagementError(
                400, "policy must carry the offer's @id and its target (the asset id)"
            )
        now = self._now()
        pid = new_pid()
        n = Negotiation(
            id=pid,
            role=Role.CONSUMER,
            state=INITIAL,
            consumer_pid=pid,
            counter_party_address=counter_party_address,
            counter_party_id=counter_party_id,
            asset_id=str(offer["target"]),
            offer=offer,
            created_at=now,
            updated_at=now,
        )
        message = m.contract_request(
            consumer_pid=pid, offer=offer, callback_address=self.ctx.settings.dsp_url()
        )
        try:
            validate(message, "ContractRequestMessage")
        except SchemaViolation as exc:
            raise ManagementError(400, f"the offer is not a valid DSP offer: {exc}") from exc
        with self.ctx.store.transaction() as tx:
            tx.negotiations.insert(n)
            self._send(tx, n, message, "negotiations/request", now)
        return n

    def terminate(self, negotiation_id: str, reason: str) -> Negotiation:
        def run() -> Negotiation:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                n = tx.negotiations.find(negotiation_id)
                if n is None:
                    raise ManagementError(
                        404, f"contract negotiation {negotiation_id!r} not found", "ObjectNotFound"
                    )
                role = Role(n.role)
                if not NEGOTIATION.allows(role, n.state, CNMessage.TERMINATION):
                    raise ManagementError(
                        409,
                        f"a {role.value.lower()} cannot terminate a negotiation in state {n.state}",
                        "ObjectConflict",
                    )
                message = self._terminate_msg(
                    n, "TERMINATED_BY_USER", reason or "terminated by user"
                )
                suffix = "termination"
                if role is Role.CONSUMER:
                    self._to_provider(tx, n, message, suffix, now)
                else:
                    self._to_consumer(tx, n, message, suffix, now)
                n.updated_at = now
                tx.negotiations.update_versioned(n)
                saved: Negotiation = n
                return saved

        return retry_on_conflict(run)

    # --- inbound --------------------------------------------------------------------------------

    def role_of(self, pid: str) -> Role | None:
        """Which of our roles owns ``pid`` (a connector plays both; our pids are unique)."""
        with self.ctx.store.transaction() as tx:
            if tx.negotiations.by_pid(Role.PROVIDER, provider_pid=pid) is not None:
                return Role.PROVIDER
            if tx.negotiations.by_pid(Role.CONSUMER, consumer_pid=pid) is not None:
                return Role.CONSUMER
        return None

    def get(self, role: Role, pid: str) -> Reply:
        with self.ctx.store.transaction() as tx:
            n = self._find(tx, role, pid)
            if n is None or n.state == INITIAL:
                raise not_found(AREA, "contract negotiation", **self._path_pids(role, pid))
            return Reply(200, negotiation_json(n))

    def _find(self, tx: Tx, role: Role, pid: str) -> Negotiation | None:
        if role is Role.PROVIDER:
            found: Negotiation | None = tx.negotiations.by_pid(role, provider_pid=pid)
        else:
            found = tx.negotiations.by_pid(role, consumer_pid=pid)
        return found

    @staticmethod
    def _path_pids(role: Role, pid: str) -> Pids:
        return {"provider_pid": pid} if role is Role.PROVIDER else {"consumer_pid": pid}

    def request_initial(self, body: Any, caller: str | None) -> Reply:
        """Provider: a consumer opens a negotiation (``POST /negotiations/request``)."""
        msg = _check_schema(body, "ContractRequestMessage", consumer_pid=_get(body, "consumerPid"))
        consumer_pid = msg["consumerPid"]
        if "providerPid" in msg:
            raise bad_request(
                AREA, "an initial request carries no providerPid", consumer_pid=consumer_pid
            )
        _check_callback(msg["callbackAddress"])
        key = f"init:negotiation:{caller}:{consumer_pid}"

        def run() -> Reply:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                seen = tx.inbox.seen(key)
                if seen is not None:
                    return Reply(seen[0], seen[1])
                pid = new_pid()
                offer = self.ctx.catalog.resolve_offer(
                    tx, msg["offer"], provider_pid=pid, consumer_pid=consumer_pid
                )
                n = Negotiation(
                    id=pid,
                    role=Role.PROVIDER,
                    state=NEGOTIATION.next_state(Role.CONSUMER, "[*]", CNMessage.REQUEST),
                    provider_pid=pid,
                    consumer_pid=consumer_pid,
                    counter_party_address=msg["callbackAddress"],
                    counter_party_id=caller,
                    asset_id=offer["target"],
                    offer=msg["offer"],
                    created_at=now,
                    updated_at=now,
                )
                tx.negotiations.insert(n)
                self.react(tx, n, now)
                tx.negotiations.replace(n)
                reply = Reply(201, negotiation_json(n))
                tx.inbox.remember(key, reply.status, reply.body, now)
                remember_last(tx, n.id, msg, reply, now)
                return reply

        return retry_on_conflict(run)

    def offer_initial(self, body: Any, caller: str | None) -> Reply:
        """Consumer: a provider opens a negotiation with an offer (``POST /negotiations/offers``)."""
        msg = _check_schema(body, "ContractOfferMessage", provider_pid=_get(body, "providerPid"))
        if "consumerPid" in msg:
            raise bad_request(
                AREA, "an initial offer carries no consumerPid", provider_pid=msg["providerPid"]
            )
        callback = msg.get("callbackAddress")
        if not isinstance(callback, str):
            raise bad_request(
                AREA, "an initial offer needs a callbackAddress", provider_pid=msg["providerPid"]
            )
        _check_callback(callback)
        key = f"init:offer:{caller}:{msg['providerPid']}"

        def run() -> Reply:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                seen = tx.inbox.seen(key)
                if seen is not None:
                    return Reply(seen[0], seen[1])
                pid = new_pid()
                n = Negotiation(
                    id=pid,
                    role=Role.CONSUMER,
                    state=NEGOTIATION.next_state(Role.PROVIDER, "[*]", CNMessage.OFFER),
                    provider_pid=msg["providerPid"],
                    consumer_pid=pid,
                    counter_party_address=callback,
                    counter_party_id=caller,
                    asset_id=msg["offer"].get("target"),
                    offer=msg["offer"],
                    created_at=now,
                    updated_at=now,
                )
                tx.negotiations.insert(n)
                reply = Reply(201, negotiation_json(n))
                tx.inbox.remember(key, reply.status, reply.body, now)
                remember_last(tx, n.id, msg, reply, now)
                return reply

        return retry_on_conflict(run)

    def inbound(self, role: Role, pid: str, expected_type: str, body: Any) -> Reply:
        """A message for an existing negotiation, received by ``role`` under its own ``pid``."""
        path_pids = self._path_pids(role, pid)
        msg = _check_schema(body, expected_type, **path_pids)
        own, other = (
            ("providerPid", "consumerPid")
            if role is Role.PROVIDER
            else ("consumerPid", "providerPid")
        )
        if msg.get(own) != pid:
            raise bad_request(
                AREA, f"{own} {msg.get(own)!r} does not match the path ({pid!r})", **path_pids
            )
        if expected_type == "ContractNegotiationEventMessage":
            allowed = "ACCEPTED" if role is Role.PROVIDER else "FINALIZED"
            if msg.get("eventType") != allowed:
                raise bad_request(
                    AREA,
                    f"a {role.other.value.lower()} may only send eventType {allowed}",
                    **path_pids,
                )

        def run() -> Reply:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                n = self._find(tx, role, pid)
                if n is None:
                    raise not_found(AREA, "contract negotiation", **path_pids)
                known_other = n.consumer_pid if role is Role.PROVIDER else n.provider_pid
                if known_other is not None and msg.get(other) != known_other:
                    raise bad_request(
                        AREA,
                        f"{other} {msg.get(other)!r} does not belong to this negotiation",
                        **self._pids(n),
                    )
                dup = duplicate_of_last(tx, n.id, msg)
                if dup is not None:
                    return dup
                kind = negotiation_kind(msg)
                n.state = inbound_transition(
                    tx, NEGOTIATION, n, kind, area=AREA, now=now, effects=self._implicit_ack(msg)
                )
                if n.provider_pid is None:
                    n.provider_pid = msg.get("providerPid")
                self._absorb(tx, n, kind, msg, now)
                n.updated_at = now
                self.react(tx, n, now)
                tx.negotiations.update_versioned(n)
                reply = Reply(200, negotiation_json(n))
                remember_last(tx, n.id, msg, reply, now)
                return reply

        return retry_on_conflict(run)

    def _implicit_ack(self, inbound: Json) -> Any:
        def effects(tx: Tx, n: Negotiation, item: OutboxItem, _resp: Any, now: datetime) -> None:
            self.on_ack(tx, n, item, inbound, now)

        return effects

    def _absorb(self, tx: Tx, n: Negotiation, kind: str, msg: Json, now: datetime) -> None:
        """Keep what an accepted inbound message carries."""
        if kind in (CNMessage.REQUEST, CNMessage.OFFER):
            n.offer = msg["offer"]
            if msg["offer"].get("target"):
                n.asset_id = msg["offer"]["target"]
        elif kind == CNMessage.AGREEMENT:
            self._store_agreement(tx, n, msg["agreement"], now)
        elif kind == CNMessage.TERMINATION:
            reasons = msg.get("reason") or []
            n.error_detail = (
                f"terminated by counter-party ({msg.get('code', 'no code')}): "
                + "; ".join(str(r) for r in reasons)
            )
            tx.outbox.cancel_pending(n.id, "negotiation terminated by counter-party")


def _get(body: Any, key: str) -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
