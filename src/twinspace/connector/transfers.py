"""Transfer processes: inbound DSP messages on both sides, management actions, and reactions.

Formats: ``HttpData-PULL`` (the provider's start message carries an endpoint and a bearer token
bound to the transfer), ``HttpData-PUSH`` (the provider's data plane sends the data to the
consumer's data address, then completes the transfer) and, for twin assets only, ``NgsiLd-PUSH``
(a stream: the provider's twin notifies every change to the consumer's twin for as long as the
transfer is STARTED; it ends only by suspension, completion or termination). The data-plane
extension of an asset's type (``Context.kinds``) follows such a transfer's states in the
transaction that changes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from twinspace.connector.catalog import TWIN_PUSH
from twinspace.connector.context import retry_on_conflict
from twinspace.connector.errors import ManagementError, Pids, bad_request
from twinspace.connector.ids import new_pid
from twinspace.connector.process_service import ProcessService
from twinspace.connector.processes import INITIAL, Reply, join_url, queue, remember_last
from twinspace.dataplane import tokens
from twinspace.protocol import messages as m
from twinspace.protocol.machine import START, Role
from twinspace.protocol.negotiation import CN
from twinspace.protocol.transfer import TP, TRANSFER, TPMessage
from twinspace.store import OutboxItem, Transfer, Tx
from twinspace.usage.decisions import why
from twinspace.usage.log import log_decision, log_denial

AREA = "transfer"
#: Transfer states that go into the transparency log (both sides).
LOGGED_STATES = frozenset({TP.STARTED, TP.SUSPENDED, TP.COMPLETED, TP.TERMINATED})
#: Extension property of a TransferRequestMessage: the purpose the consumer declares.
PURPOSE_KEY = "https://w3id.org/twinspace/policy/purpose"
PUSH_JOB = "push"
Json = dict[str, Any]


def transfer_json(t: Transfer) -> Json:
    return m.transfer_process(
        provider_pid=t.provider_pid or "", consumer_pid=t.consumer_pid or "", state=t.state
    )


def is_push(fmt: str) -> bool:
    return fmt.upper().endswith("-PUSH")


def is_stream(fmt: str) -> bool:
    """A stream of twin notifications (no one-shot push job, no pull token)."""
    return fmt == TWIN_PUSH


#: Lifetime of the consumer's receiving token of a stream: it lasts as long as the transfer
#: (a token only works while its transfer is STARTED, and is revoked when it ends).
STREAM_TOKEN_SECONDS = 10 * 365 * 86_400
STOPPING = (TPMessage.SUSPENSION, TPMessage.COMPLETION, TPMessage.TERMINATION)


class Transfers(ProcessService[Transfer]):
    area = AREA
    noun = "transfer process"
    machine = TRANSFER
    rows_name = "transfers"

    def view(self, p: Transfer) -> Json:
        return transfer_json(p)

    def _send(self, tx: Tx, t: Transfer, message: Json, now: datetime) -> OutboxItem:
        """Queue ``message`` to the counter-party at the path the binding gives its type."""
        suffix = {
            TPMessage.START: "start",
            TPMessage.SUSPENSION: "suspension",
            TPMessage.COMPLETION: "completion",
            TPMessage.TERMINATION: "termination",
        }
        kind = message["@type"]
        if kind in STOPPING and t.role == Role.PROVIDER:
            self.follow(tx, t, now, stopping=True)  # a stream stops the moment we stop it
        if kind == TPMessage.REQUEST:
            path = "transfers/request"
        elif t.role == Role.CONSUMER:
            path = f"transfers/{t.provider_pid}/{suffix[kind]}"
        else:
            path = f"transfers/{t.consumer_pid}/{suffix[kind]}"
        return queue(
            tx,
            kind=AREA,
            process=t,
            message_type=kind,
            url=join_url(t.counter_party_address, path),
            payload=message,
            now=now,
        )

    def _pull_address(self, tx: Tx, t: Transfer, now: datetime) -> Json:
        s = self.ctx.settings
        issued = tokens.issue(tx, t.id, now, s.token_ttl_seconds, s.refresh_ttl_seconds)
        return m.data_address(
            f"{s.base_url()}/public/data",
            {
                "authorization": issued.access,
                "authType": "bearer",
                "expiresIn": str(issued.expires_in),
                "refreshToken": issued.refresh,
                "refreshEndpoint": f"{s.base_url()}/public/token",
            },
        )

    def _start_message(self, tx: Tx, t: Transfer, now: datetime) -> Json:
        address = None
        if t.role == Role.PROVIDER and not is_push(t.format):
            address = self._pull_address(tx, t, now)
        return m.transfer_start(data_address=address, **self.pids(t))

    # --- reactions ------------------------------------------------------------------------------

    def follow(self, tx: Tx, t: Transfer, now: datetime, *, stopping: bool = False) -> None:
        """Tell the data-plane extension of a streamed asset that the transfer changed."""
        if t.role != Role.PROVIDER or not is_stream(t.format) or not self.ctx.kinds:
            return
        asset = tx.assets.find(t.asset_id) if t.asset_id else None
        kind = self.ctx.catalog.kind_of(asset) if asset is not None else None
        for extension in [kind] if kind is not None else list(self.ctx.kinds.values()):
            extension.transfer_changed(tx, t, asset, now, stopping=stopping)

    def react(self, tx: Tx, t: Transfer, now: datetime) -> None:
        self.follow(tx, t, now)
        if self.ctx.ledger is not None and t.state in LOGGED_STATES:
            self.ctx.ledger.record(
                tx,
                "transfer",
                t.agreement_id,
                {"transfer": t.id, "agreement": t.agreement_id, "state": t.state},
                now,
            )
        script = self.ctx.script  # TCK mode hook (twinspace.tck): scripted next actions
        if script is not None and script.transfer(tx, t, now):
            return
        if t.role == Role.PROVIDER and t.state == TP.REQUESTED:
            denied = self._policy_refusal(tx, t, now)
            if denied is not None:
                t.error_detail = denied
                self._send(
                    tx,
                    t,
                    m.transfer_termination(code="POLICY_DENIED", reason=denied, **self.pids(t)),
                    now,
                )
                return
            self._send(tx, t, self._start_message(tx, t, now), now)

    def _policy_refusal(self, tx: Tx, t: Transfer, now: datetime) -> str | None:
        """Why the agreement's policy does not allow this transfer now (None: it does)."""
        agreement = tx.agreements.get(t.agreement_id)
        usage = self.ctx.usage
        facts = usage.facts(
            t.caller_claims,
            now=now,
            agreement=agreement,
            count=tx.counters.get(agreement.id),
            tx=tx,
            purpose=t.purpose,
        )
        decision = usage.decide(
            agreement.policy, moment="transfer", facts=facts, assignee=t.counter_party_id
        )
        log_decision(tx, t, "transfer", decision, now)
        log_denial(self.ctx.ledger, tx, t, decision, now)
        return None if decision.allowed else f"refused by the agreement's policy: {why(decision)}"

    def on_ack(
        self, tx: Tx, t: Transfer, item: OutboxItem, response: Json | None, now: datetime
    ) -> None:
        kind = item.message_type
        if kind == TPMessage.REQUEST and t.provider_pid is None:
            pid = (response or {}).get("providerPid")
            if not isinstance(pid, str) or not pid:
                raise ValueError("the provider's acknowledgement carries no providerPid")
            t.provider_pid = pid
        elif (
            kind == TPMessage.START
            and t.role == Role.PROVIDER
            and is_push(t.format)
            and not is_stream(t.format)  # a stream is fed by the twin's notifier instead
        ):
            destination = (t.data_destination or {}).get("endpoint", "")
            queue(
                tx,
                kind=PUSH_JOB,
                process=t,
                message_type="PushData",
                url=destination,
                payload={},
                now=now,
            )
        elif kind in (TPMessage.COMPLETION, TPMessage.TERMINATION):
            tokens.revoke(tx, t.id, now)

    def pushed(self, transfer_id: str, nbytes: int) -> None:
        """The data plane finished pushing: record it and complete the transfer."""

        def run() -> None:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                t: Transfer = tx.transfers.get(transfer_id)
                t.bytes_transferred = nbytes
                t.updated_at = now
                if t.state == TP.STARTED:
                    self._send(tx, t, m.transfer_completion(**self.pids(t)), now)
                tx.transfers.update_versioned(t)

        retry_on_conflict(run)

    # --- management -----------------------------------------------------------------------------

    def initiate(
        self,
        *,
        counter_party_address: str,
        agreement_id: str,
        format_: str,
        data_destination: Json | None = None,
        purpose: str | None = None,
        tenant: str = "",
    ) -> Transfer:
        """Consumer: ask for a transfer; ``purpose`` is declared to the provider (its policies
        may require one, e.g. ``purpose eq traffic-planning``). An ``NgsiLd-PUSH`` stream is
        always received into this connector's own twin (tenant ``tenant``)."""
        if not counter_party_address.startswith(("http://", "https://")):
            raise ManagementError(
                400, f"counterPartyAddress {counter_party_address!r} is not an http(s) URL"
            )
        formats = self.ctx.catalog.known_formats()
        if format_ not in formats:
            raise ManagementError(
                400, f"transferType {format_!r} is not supported; use one of {', '.join(formats)}"
            )
        now = self._now()
        pid = new_pid()
        with self.ctx.store.transaction() as tx:
            agreement = tx.agreements.find(agreement_id)
            if agreement is None:
                raise ManagementError(400, f"no contract agreement {agreement_id!r}")
            t = Transfer(
                id=pid,
                role=Role.CONSUMER,
                state=INITIAL,
                consumer_pid=pid,
                agreement_id=agreement_id,
                asset_id=agreement.asset_id,
                format=format_,
                counter_party_address=counter_party_address,
                counter_party_id=agreement.provider_id,
                purpose=purpose,
                created_at=now,
                updated_at=now,
            )
            s = self.ctx.settings
            if is_stream(format_):  # received by our own twin, whatever was asked
                life = STREAM_TOKEN_SECONDS
                issued = tokens.issue(tx, pid, now, life, life)
                data_destination = m.data_address(
                    f"{s.base_url()}/public/twin/{pid}",
                    {"authorization": issued.access, "authType": "bearer"},
                )
            elif is_push(format_) and data_destination is None:
                issued = tokens.issue(tx, pid, now, s.refresh_ttl_seconds, s.refresh_ttl_seconds)
                data_destination = m.data_address(
                    f"{s.base_url()}/public/push/{pid}",
                    {"authorization": issued.access, "authType": "bearer"},
                )
            # our copy may say which tenant of our twin receives a stream; the message does not
            t.data_destination = (
                {**data_destination, "tenant": tenant}
                if is_stream(format_) and data_destination is not None
                else data_destination
            )
            message = m.transfer_request(
                consumer_pid=pid,
                agreement_id=agreement_id,
                format_=format_,
                callback_address=self.ctx.settings.dsp_url(),
                data_address=data_destination,
            )
            if purpose:
                message[PURPOSE_KEY] = purpose
            tx.transfers.insert(t)
            self._send(tx, t, message, now)
        return t

    def act(self, transfer_id: str, kind: str, reason: str = "", code: str = "BY_USER") -> Transfer:
        """Suspend, resume (start), complete or terminate a transfer from this side."""

        def run() -> Transfer:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                t: Transfer | None = tx.transfers.find(transfer_id)
                if t is None:
                    raise ManagementError(
                        404, f"transfer process {transfer_id!r} not found", "ObjectNotFound"
                    )
                role = Role(t.role)
                state = START if t.state == INITIAL else t.state
                if not TRANSFER.allows(role, state, kind):
                    raise ManagementError(
                        409,
                        f"a {role.value.lower()} cannot send {kind} while the transfer is {t.state}",
                        "ObjectConflict",
                    )
                pids = self.pids(t)
                if kind == TPMessage.START:
                    message = self._start_message(tx, t, now)
                elif kind == TPMessage.SUSPENSION:
                    message = m.transfer_suspension(code=code, reason=reason or None, **pids)
                elif kind == TPMessage.COMPLETION:
                    message = m.transfer_completion(**pids)
                else:
                    message = m.transfer_termination(code=code, reason=reason or None, **pids)
                self._send(tx, t, message, now)
                t.updated_at = now
                tx.transfers.update_versioned(t)
                return t

        return retry_on_conflict(run)

    def record_bytes(self, transfer_id: str, nbytes: int) -> None:
        """Count bytes moved (a finished pull or push); safe under any number of concurrent
        pulls of the same transfer."""
        with self.ctx.store.transaction() as tx:
            tx.transfers.add_bytes(transfer_id, nbytes)

    # --- inbound (the rest is ProcessService.inbound) -----------------------------------------

    def request_initial(self, body: Any, caller: str | None, claims: Json | None = None) -> Reply:
        """Provider: ``POST /transfers/request``; idempotent on the consumer's pid. ``claims``:
        what was verified about the caller; the declared purpose comes with the message."""
        consumer_pid = body.get("consumerPid") if isinstance(body, dict) else None
        pids: Pids = {"consumer_pid": consumer_pid if isinstance(consumer_pid, str) else None}
        msg = self.check_schema(body, "TransferRequestMessage", pids)
        self.check_callback(msg["callbackAddress"], pids)
        fmt = msg["format"]
        formats = self.ctx.catalog.known_formats()
        if fmt not in formats:
            raise bad_request(
                AREA,
                f"format {fmt!r} is not supported ({', '.join(formats)})",
                code="UNSUPPORTED_FORMAT",
                **pids,
            )
        destination = msg.get("dataAddress")
        if is_push(fmt) and not (destination or {}).get("endpoint", "").startswith(
            ("http://", "https://")
        ):
            raise bad_request(
                AREA, "a push transfer needs a dataAddress with an http(s) endpoint", **pids
            )

        def refuse(code: str, reason: str) -> NoReturn:
            raise bad_request(AREA, reason, code=code, **pids)

        purpose = msg.get(PURPOSE_KEY)
        if purpose is not None and (not isinstance(purpose, str) or not purpose.strip()):
            refuse("BAD_PURPOSE", f"{PURPOSE_KEY} must be a non-empty string")

        def create(tx: Tx, now: datetime) -> Transfer:
            agreement = tx.agreements.find(msg["agreementId"])
            negotiation = tx.negotiations.find(agreement.negotiation_id) if agreement else None
            if agreement is None or negotiation is None or negotiation.role != Role.PROVIDER:
                refuse("UNKNOWN_AGREEMENT", f"unknown agreement {msg['agreementId']!r}")
            if negotiation.state not in (CN.VERIFIED, CN.FINALIZED):
                refuse("AGREEMENT_NOT_FINAL", f"agreement {agreement.id!r} is not finalized")
            if caller is not None and agreement.consumer_id not in (caller, "unknown"):
                refuse("NOT_ASSIGNEE", "the agreement was not made with this consumer")
            asset = tx.assets.find(agreement.asset_id)
            if asset is None:
                refuse("ASSET_GONE", f"asset {agreement.asset_id!r} no longer exists")
            refused = self.ctx.catalog.refusal(asset, fmt)
            if refused is not None:
                refuse("UNSUPPORTED_FORMAT", refused)
            pid = new_pid()
            t = Transfer(
                id=pid,
                role=Role.PROVIDER,
                state=TRANSFER.next_state(Role.CONSUMER, START, TPMessage.REQUEST),
                provider_pid=pid,
                consumer_pid=msg["consumerPid"],
                agreement_id=agreement.id,
                asset_id=agreement.asset_id,
                format=fmt,
                counter_party_address=msg["callbackAddress"],
                counter_party_id=caller,
                data_destination=destination,
                caller_claims=claims,
                purpose=purpose,
                created_at=now,
                updated_at=now,
            )
            remember_last(tx, t.id, msg, Reply(201, transfer_json(t)), now)
            return t

        return self.open(f"init:transfer:{caller}:{msg['consumerPid']}", create)

    def absorb(self, tx: Tx, t: Transfer, kind: str, msg: Json, now: datetime) -> None:
        if kind == TPMessage.START and t.role == Role.CONSUMER:
            from twinspace.usage.duties import schedule_duties  # usage builds on this module

            schedule_duties(self.ctx, tx, t, now)
        if kind == TPMessage.START and msg.get("dataAddress"):
            t.data_address = msg["dataAddress"]
        elif kind in (TPMessage.SUSPENSION, TPMessage.TERMINATION):
            reasons = "; ".join(str(r) for r in msg.get("reason") or [])
            t.error_detail = f"{kind} from counter-party ({msg.get('code', 'no code')}): {reasons}"
        if kind in (TPMessage.COMPLETION, TPMessage.TERMINATION):
            tokens.revoke(tx, t.id, now)
            tx.outbox.cancel_pending(t.id, f"transfer ended by counter-party ({kind})")
