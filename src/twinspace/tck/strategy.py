"""The TCK-mode strategy: what a scripted process does next (see ``scripts.py``).

``Negotiations.react`` and ``Transfers.react`` ask ``Context.script`` first. For a process whose
dataset/agreement id has a script, the strategy answers ``True`` (the default behaviour is
skipped) and queues the step that matches the process's state, if any. Steps are taken in order;
how many were taken is kept per process in the inbox table (``tck-step:<process id>``), in the
same transaction as the message it queued, so a retried transaction or a restart never repeats
or skips one.

Every scripted message is queued ``step_delay`` seconds ahead, like the pauses the TCK's own
reference actions make: the TCK registers its expectation for the next message only after it has
seen the previous one, and a message that arrives early is refused and retried by the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from twinspace.clock import isoformat
from twinspace.connector.ids import new_pid
from twinspace.connector.negotiations import AREA as NEGOTIATION_AREA
from twinspace.connector.negotiations import Negotiations
from twinspace.connector.processes import join_url, queue
from twinspace.connector.transfers import AREA as TRANSFER_AREA
from twinspace.connector.transfers import Transfers
from twinspace.protocol import messages as m
from twinspace.protocol.machine import Role
from twinspace.protocol.negotiation import negotiation_kind
from twinspace.protocol.transfer import TPMessage
from twinspace.store import Negotiation, Transfer, Tx
from twinspace.tck.scripts import NEGOTIATIONS, TRANSFERS, Action, Script

Json = dict[str, Any]

#: Seconds between reaching a state and sending the scripted message (0 in tests).
STEP_DELAY = 0.5
REASON = "scripted by the TCK mode of this connector"

_TRANSFER_SUFFIX = {
    TPMessage.START: "start",
    TPMessage.SUSPENSION: "suspension",
    TPMessage.COMPLETION: "completion",
    TPMessage.TERMINATION: "termination",
}


def _cursor_key(process_id: str) -> str:
    return f"tck-step:{process_id}"


def _taken(tx: Tx, process_id: str) -> int:
    seen = tx.inbox.seen(_cursor_key(process_id))
    if seen is None or not isinstance(seen[1], dict):
        return 0
    return int(seen[1].get("taken", 0))


def _next_step(tx: Tx, script: Script, process_id: str, state: str) -> tuple[int, Action] | None:
    """The first step not yet taken that fires in ``state`` (a skipped state skips its steps)."""
    for index in range(_taken(tx, process_id), len(script.steps)):
        if script.steps[index].when == state:
            return index, script.steps[index].do
    return None


class Strategy:
    """Implements ``twinspace.connector.context.Script`` from the tables in ``scripts.py``."""

    def __init__(
        self,
        negotiations: Negotiations,
        transfers: Transfers,
        *,
        step_delay: float = STEP_DELAY,
        negotiation_scripts: dict[str, Script] | None = None,
        transfer_scripts: dict[str, Script] | None = None,
    ) -> None:
        self.negotiations = negotiations
        self.transfers = transfers
        self.step_delay = step_delay
        self.negotiation_scripts = (
            NEGOTIATIONS if negotiation_scripts is None else negotiation_scripts
        )
        self.transfer_scripts = TRANSFERS if transfer_scripts is None else transfer_scripts

    # --- lookup ---------------------------------------------------------------------------------

    def script_for_negotiation(self, n: Negotiation) -> Script | None:
        dataset = n.asset_id or str((n.offer or {}).get("target") or "")
        script = self.negotiation_scripts.get(dataset)
        return script if script is not None and script.role == n.role else None

    def script_for_transfer(self, t: Transfer) -> Script | None:
        script = self.transfer_scripts.get(t.agreement_id)
        return script if script is not None and script.role == t.role else None

    # --- the Context.script hook ----------------------------------------------------------------

    def negotiation(self, tx: Tx, n: Negotiation, now: datetime) -> bool:
        script = self.script_for_negotiation(n)
        if script is None:
            return False
        step = _next_step(tx, script, n.id, n.state)
        if step is not None:
            self._negotiation_action(tx, n, step[1], now)
            self._advance(tx, n.id, step[0], script, now)
        return True

    def transfer(self, tx: Tx, t: Transfer, now: datetime) -> bool:
        script = self.script_for_transfer(t)
        if script is None:
            return False
        step = _next_step(tx, script, t.id, t.state)
        if step is not None:
            self._transfer_action(tx, t, step[1], now)
            self._advance(tx, t.id, step[0], script, now)
        return True

    def _advance(self, tx: Tx, process_id: str, index: int, script: Script, now: datetime) -> None:
        tx.inbox.put(_cursor_key(process_id), 0, {"taken": index + 1, "case": script.case}, now)

    # --- negotiation actions --------------------------------------------------------------------

    def _negotiation_action(self, tx: Tx, n: Negotiation, action: Action, now: datetime) -> None:
        pids = {"provider_pid": n.provider_pid or "", "consumer_pid": n.consumer_pid or ""}
        message: Json
        if action is Action.OFFER:
            message = m.contract_offer(offer=self._offer(n), **pids)
            suffix = "offers"
        elif action is Action.AGREE:
            message = m.contract_agreement(agreement=self._agreement(n, now), **pids)
            suffix = "agreement"
        elif action is Action.FINALIZE:
            message = m.negotiation_event(event_type="FINALIZED", **pids)
            suffix = "events"
        elif action is Action.ACCEPT:
            message = m.negotiation_event(event_type="ACCEPTED", **pids)
            suffix = "events"
        elif action is Action.REQUEST:
            message = m.contract_request(offer=dict(n.offer or {}), **pids)
            suffix = "request"
        elif action is Action.VERIFY:
            message = m.agreement_verification(**pids)
            suffix = "agreement/verification"
        elif action is Action.TERMINATE:
            message = m.negotiation_termination(code="TCK_SCRIPT", reason=REASON, **pids)
            suffix = "termination"
        else:
            raise ValueError(f"{action} is not a negotiation action")
        their_pid = n.consumer_pid if n.role == Role.PROVIDER else n.provider_pid
        queue(
            tx,
            kind=NEGOTIATION_AREA,
            process=n,
            message_type=negotiation_kind(message),
            url=join_url(n.counter_party_address, f"negotiations/{their_pid}/{suffix}"),
            payload=message,
            now=now,
            delay=self.step_delay,
        )

    def _offer(self, n: Negotiation) -> Json:
        """The provider's offer: the one the consumer asked for, for its dataset."""
        offer = dict(n.offer or {})
        offer.setdefault("@type", "Offer")
        offer["target"] = offer.get("target") or n.asset_id
        offer.setdefault("assigner", self.negotiations.ctx.participant_id)
        if "permission" not in offer and "prohibition" not in offer:
            offer["permission"] = [{"action": "use"}]
        return offer

    def _agreement(self, n: Negotiation, now: datetime) -> Json:
        """An agreement over the last offer (the same shape as the default provider's)."""
        offer = dict(n.offer or {})
        agreement: Json = {
            "@id": new_pid(),
            "@type": "Agreement",
            "target": offer.get("target") or n.asset_id,
            "assigner": self.negotiations.ctx.participant_id,
            "assignee": n.counter_party_id or "unknown",
            "timestamp": isoformat(now),
        }
        for key in ("profile", "permission", "prohibition", "obligation"):
            if offer.get(key):
                agreement[key] = offer[key]
        if "permission" not in agreement and "prohibition" not in agreement:
            agreement["permission"] = [{"action": "use"}]
        return agreement

    # --- transfer actions -----------------------------------------------------------------------

    def _transfer_action(self, tx: Tx, t: Transfer, action: Action, now: datetime) -> None:
        pids = {"provider_pid": t.provider_pid or "", "consumer_pid": t.consumer_pid or ""}
        message: Json
        if action is Action.START:
            # the provider's start carries a fresh pull address; a consumer's start resumes
            message = self.transfers._start_message(tx, t, now)
        elif action is Action.SUSPEND:
            message = m.transfer_suspension(code="TCK_SCRIPT", reason=REASON, **pids)
        elif action is Action.COMPLETE:
            message = m.transfer_completion(**pids)
        elif action is Action.TERMINATE:
            message = m.transfer_termination(code="TCK_SCRIPT", reason=REASON, **pids)
        else:
            raise ValueError(f"{action} is not a transfer action")
        kind = TPMessage(message["@type"])
        their_pid = t.consumer_pid if t.role == Role.PROVIDER else t.provider_pid
        queue(
            tx,
            kind=TRANSFER_AREA,
            process=t,
            message_type=kind,
            url=join_url(
                t.counter_party_address, f"transfers/{their_pid}/{_TRANSFER_SUFFIX[kind]}"
            ),
            payload=message,
            now=now,
            delay=self.step_delay,
        )
