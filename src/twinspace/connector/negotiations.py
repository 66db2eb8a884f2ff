"""Contract negotiation: inbound DSP messages on both sides, management actions, and reactions.

Automatic behaviour (policy checks in usage-control.md):
- provider: a request naming one of its offers unchanged is agreed; an accepted offer is agreed;
  a verified agreement is finalized; a counter-request that matches no offer is terminated.
- consumer: a received agreement is stored and verified.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from twinspace.clock import isoformat
from twinspace.connector.context import retry_on_conflict
from twinspace.connector.errors import ManagementError, Pids, ProtocolError, bad_request
from twinspace.connector.ids import new_pid
from twinspace.connector.process_service import ProcessService
from twinspace.connector.processes import INITIAL, Reply, join_url, queue, remember_last
from twinspace.policy import Moment
from twinspace.protocol import messages as m
from twinspace.protocol.machine import START, Role
from twinspace.protocol.negotiation import CN, NEGOTIATION, CNMessage, negotiation_kind
from twinspace.protocol.schemas import SchemaViolation, validate
from twinspace.store import Agreement, Negotiation, OutboxItem, Tx
from twinspace.store import tables as t
from twinspace.transparency.submitter import digest
from twinspace.usage.acceptance import acceptable, counter_offer, profile
from twinspace.usage.decisions import why

AREA = "negotiation"
Json = dict[str, Any]


def negotiation_json(n: Negotiation) -> Json:
    return m.contract_negotiation(
        provider_pid=n.provider_pid or "", consumer_pid=n.consumer_pid or "", state=n.state
    )


class Negotiations(ProcessService[Negotiation]):
    area = AREA
    noun = "contract negotiation"
    machine = NEGOTIATION
    rows_name = "negotiations"

    def view(self, p: Negotiation) -> Json:
        return negotiation_json(p)

    def kind_of(self, msg: Json) -> str:
        return negotiation_kind(msg)

    def check_message(self, role: Role, msg: Json, pids: Pids) -> None:
        if msg["@type"] == "ContractNegotiationEventMessage":
            allowed = "ACCEPTED" if role is Role.PROVIDER else "FINALIZED"
            if msg.get("eventType") != allowed:
                raise bad_request(
                    self.area,
                    f"a {role.other.value.lower()} may only send eventType {allowed}",
                    **pids,
                )

    # --- helpers --------------------------------------------------------------------------------

    def _send(self, tx: Tx, n: Negotiation, message: Json, path: str, now: datetime) -> OutboxItem:
        return queue(
            tx,
            kind=self.area,
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
            tx, n, m.contract_agreement(agreement=agreement, **self.pids(n)), "agreement", now
        )

    def _agree_if_allowed(self, tx: Tx, n: Negotiation, now: datetime) -> None:
        """Agree if the consumer may see the offer (access policy, moment ``catalog``) and the
        offer's policy holds for it now (moment ``negotiation``); else terminate with why."""
        usage = self.ctx.usage
        facts = usage.facts(n.caller_claims, now=now, tx=tx)
        caller = n.counter_party_id
        offer = n.offer or {}
        access = self.ctx.catalog.access_policy_of(tx, str(offer.get("@id", "")))
        checks: list[tuple[Moment, Json]] = [("catalog", access)] if access is not None else []
        checks.append(("negotiation", offer))
        for moment, policy in checks:
            decision = usage.decide(policy, moment=moment, facts=facts, assignee=caller)
            if not decision.allowed:
                which = "access" if moment == "catalog" else "contract"
                reason = f"refused by the {which} policy: {why(decision)}"
                n.error_detail = reason
                message = self._terminate_msg(n, "POLICY_DENIED", reason)
                self._to_consumer(tx, n, message, "termination", now)
                return
        self._agree(tx, n, now)

    def _terminate_msg(self, n: Negotiation, code: str, reason: str) -> Json:
        return m.negotiation_termination(code=code, reason=reason, **self.pids(n))

    # --- reactions ------------------------------------------------------------------------------

    def react(self, tx: Tx, n: Negotiation, now: datetime) -> None:
        """Queue what this side does next after ``n`` reached its current state."""
        script = self.ctx.script  # TCK mode hook (twinspace.tck): scripted next actions
        if script is not None and script.negotiation(tx, n, now):
            return
        if n.role == Role.PROVIDER:
            if n.state == CN.REQUESTED:
                try:
                    n.offer = self.ctx.catalog.resolve_offer(tx, n.offer or {}, **self.pids(n))
                except ProtocolError as exc:
                    self._to_consumer(
                        tx, n, self._terminate_msg(n, exc.code, exc.reason), "termination", now
                    )
                    return
                self._agree_if_allowed(tx, n, now)
            elif n.state == CN.ACCEPTED:
                self._agree_if_allowed(tx, n, now)
            elif n.state == CN.VERIFIED:
                event = m.negotiation_event(event_type="FINALIZED", **self.pids(n))
                self._to_consumer(tx, n, event, "events", now)
        elif n.state == CN.AGREED:
            rules = profile(tx)
            agreement = tx.agreements.find(n.agreement_id) if n.agreement_id else None
            if rules and agreement is not None and acceptable(agreement.policy, rules) is None:
                self._refuse_as_consumer(
                    tx, n, "the agreement's policy is not in the acceptance profile", now
                )
                return
            self._to_provider(
                tx, n, m.agreement_verification(**self.pids(n)), "agreement/verification", now
            )
        elif n.state == CN.OFFERED:
            self._answer_offer(tx, n, now)

    def _answer_offer(self, tx: Tx, n: Negotiation, now: datetime) -> None:
        """Consumer, automated from the acceptance profile (none: a person decides)."""
        rules = profile(tx)
        if not rules:
            return
        offer = n.offer or {}
        if acceptable(offer, rules) is not None:
            event = m.negotiation_event(event_type="ACCEPTED", **self.pids(n))
            self._to_provider(tx, n, event, "events", now)
            return
        c = t.outbox.c
        countered = tx.outbox.rows.count(c.process_id == n.id, c.message_type == CNMessage.REQUEST)
        if countered >= 2:  # the initial request and one counter-offer: enough
            self._refuse_as_consumer(
                tx, n, "the provider's offer is not in the acceptance profile", now
            )
            return
        counter = counter_offer(offer, rules[0])
        n.offer = counter
        message = m.contract_request(offer=counter, **self.pids(n))
        self._to_provider(tx, n, message, "request", now)

    def _refuse_as_consumer(self, tx: Tx, n: Negotiation, reason: str, now: datetime) -> None:
        n.error_detail = reason
        message = self._terminate_msg(n, "NOT_ACCEPTABLE", reason)
        self._to_provider(tx, n, message, "termination", now)

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

    def _store_agreement(self, tx: Tx, n: Negotiation, agreement: Json, now: datetime) -> None:
        if tx.agreements.find(agreement["@id"]) is None:
            stored = Agreement(
                id=agreement["@id"],
                negotiation_id=n.id,
                asset_id=str(agreement.get("target", n.asset_id or "")),
                provider_id=str(agreement.get("assigner", "")),
                consumer_id=str(agreement.get("assignee", "")),
                policy=agreement,
                signed_at=now,
            )
            tx.agreements.insert(stored)
            if self.ctx.ledger is not None:  # both sides log the agreement they concluded
                self.ctx.ledger.record(
                    tx,
                    "agreement",
                    stored.id,
                    {
                        "agreement": stored.id,
                        "agreement_hash": digest(agreement),
                        "provider": stored.provider_id,
                        "consumer": stored.consumer_id,
                        "asset": stored.asset_id,
                    },
                    now,
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

    # --- inbound (the rest is ProcessService.inbound) -----------------------------------------

    def request_initial(self, body: Any, caller: str | None, claims: Json | None = None) -> Reply:
        """Provider: a consumer opens a negotiation (``POST /negotiations/request``); ``claims``
        is the snapshot of what was verified about the caller (kept for the policy checks)."""
        consumer_pid = body.get("consumerPid") if isinstance(body, dict) else None
        pids: Pids = {"consumer_pid": consumer_pid if isinstance(consumer_pid, str) else None}
        msg = self.check_schema(body, "ContractRequestMessage", pids)
        if "providerPid" in msg:
            raise bad_request(self.area, "an initial request carries no providerPid", **pids)
        self.check_callback(msg["callbackAddress"], pids)

        def create(tx: Tx, now: datetime) -> Negotiation:
            pid = new_pid()
            offer = self.ctx.catalog.resolve_offer(
                tx, msg["offer"], provider_pid=pid, consumer_pid=msg["consumerPid"]
            )
            n = Negotiation(
                id=pid,
                role=Role.PROVIDER,
                state=NEGOTIATION.next_state(Role.CONSUMER, START, CNMessage.REQUEST),
                provider_pid=pid,
                consumer_pid=msg["consumerPid"],
                counter_party_address=msg["callbackAddress"],
                counter_party_id=caller,
                asset_id=offer["target"],
                offer=msg["offer"],
                caller_claims=claims,
                created_at=now,
                updated_at=now,
            )
            remember_last(tx, n.id, msg, Reply(201, negotiation_json(n)), now)
            return n

        return self.open(f"init:negotiation:{caller}:{msg['consumerPid']}", create)

    def offer_initial(self, body: Any, caller: str | None) -> Reply:
        """Consumer: a provider opens a negotiation with an offer (``POST /negotiations/offers``)."""
        provider_pid = body.get("providerPid") if isinstance(body, dict) else None
        pids: Pids = {"provider_pid": provider_pid if isinstance(provider_pid, str) else None}
        msg = self.check_schema(body, "ContractOfferMessage", pids)
        if "consumerPid" in msg:
            raise bad_request(self.area, "an initial offer carries no consumerPid", **pids)
        callback = msg.get("callbackAddress")
        if not isinstance(callback, str):
            raise bad_request(self.area, "an initial offer needs a callbackAddress", **pids)
        self.check_callback(callback, pids)

        def create(tx: Tx, now: datetime) -> Negotiation:
            pid = new_pid()
            n = Negotiation(
                id=pid,
                role=Role.CONSUMER,
                state=NEGOTIATION.next_state(Role.PROVIDER, START, CNMessage.OFFER),
                provider_pid=msg["providerPid"],
                consumer_pid=pid,
                counter_party_address=callback,
                counter_party_id=caller,
                asset_id=msg["offer"].get("target"),
                offer=msg["offer"],
                created_at=now,
                updated_at=now,
            )
            remember_last(tx, n.id, msg, Reply(201, negotiation_json(n)), now)
            return n

        return self.open(f"init:offer:{caller}:{msg['providerPid']}", create)

    def absorb(self, tx: Tx, p: Negotiation, kind: str, msg: Json, now: datetime) -> None:
        if kind in (CNMessage.REQUEST, CNMessage.OFFER):
            p.offer = msg["offer"]
            if msg["offer"].get("target"):
                p.asset_id = msg["offer"]["target"]
        elif kind == CNMessage.AGREEMENT:
            self._store_agreement(tx, p, msg["agreement"], now)
        elif kind == CNMessage.TERMINATION:
            reasons = "; ".join(str(r) for r in msg.get("reason") or [])
            p.error_detail = (
                f"terminated by counter-party ({msg.get('code', 'no code')}): {reasons}"
            )
            tx.outbox.cancel_pending(p.id, "negotiation terminated by counter-party")
