"""Usage decisions for one connector: policies compiled once and cached, facts per moment.

The engine (``twinspace.policy``) is pure; this module knows where the facts come from:

``catalog``      the caller's verified claims, the time
``negotiation``  the same
``transfer``     + time since the agreement (``elapsedTime``), uses so far (``count``), the
                 purpose the consumer declared for the transfer
``access``       + the purpose / deployment location / location the data-plane request declares

A policy that cannot be parsed or compiled denies (fail closed), with the parse error as reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from twinspace.policy import (
    CompiledPolicy,
    Decision,
    Moment,
    PolicyError,
    Reason,
    Request,
    compile_policy,
    parse_policy,
)
from twinspace.store import Agreement, Tx

from .claims import facts_of

log = logging.getLogger("twinspace.usage")

Json = dict[str, Any]


#: DSP properties of an Agreement that are not ODRL (the engine refuses unknown properties).
DSP_ONLY = frozenset({"timestamp"})


def odrl_of(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The ODRL policy of a DSP Offer or Agreement (DSP-only properties left out)."""
    return {k: v for k, v in policy.items() if k not in DSP_ONLY}


def policy_key(policy: Mapping[str, Any]) -> str:
    """A stable key of a policy document (canonical JSON, SHA-256)."""
    raw = json.dumps(policy, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def denied_by_error(error: PolicyError) -> Decision:
    return Decision(
        allowed=False,
        reasons=(
            Reason(
                rule="policy",
                kind="policy",
                constraint=error.path,
                left_operand=None,
                operator=None,
                right_operand=None,
                value=None,
                satisfied=None,
                message=f"the policy cannot be evaluated: {error}",
            ),
        ),
        duties=(),
    )


def undecided(reason: Reason) -> bool:
    """A rule's constraint that could not be decided for want of a (well-typed) fact: it fails
    closed, so it belongs to the reasons of a denial. A deferred one (``... is checked at
    transfer, not at negotiation``) also has ``satisfied`` None but is no failure."""
    return (
        reason.satisfied is None
        and reason.left_operand is not None
        and reason.kind in ("permission", "prohibition")
        and " is checked at " not in reason.message
    )


def why(decision: Decision) -> str:
    """One line naming what failed (for termination reasons and error bodies), missing facts
    included (``no value for purpose``)."""
    failed = [
        r.message
        for r in decision.reasons
        if r.satisfied is False or r.kind == "policy" or undecided(r)
    ]
    return "; ".join(failed or [r.message for r in decision.reasons]) or "denied by policy"


class UsageControl:
    def __init__(self, dataspace: str, *, max_compiled: int = 1024) -> None:
        self.dataspace = dataspace
        self._compiled: OrderedDict[str, CompiledPolicy | PolicyError] = OrderedDict()
        self._max = max_compiled
        self._lock = threading.Lock()

    def compiled(self, policy: Mapping[str, Any]) -> CompiledPolicy | PolicyError:
        """The compiled form of ``policy`` (compiled once, then cached), or why it cannot be."""
        key = policy_key(policy)
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                return found
        try:
            made: CompiledPolicy | PolicyError = compile_policy(parse_policy(odrl_of(policy)))
        except PolicyError as exc:
            made = exc
        with self._lock:
            self._compiled[key] = made
            while len(self._compiled) > self._max:
                self._compiled.popitem(last=False)
        return made

    def decide(
        self,
        policy: Mapping[str, Any],
        *,
        moment: Moment,
        facts: Mapping[str, Any],
        action: str = "use",
        assignee: str | None = None,
        target: str | None = None,
        explain: bool = False,
    ) -> Decision:
        """The decision at ``moment``; ``explain``: every reason, also for an allowed request
        (the compiled fast path gives only "allowed by permission i")."""
        compiled = self.compiled(policy)
        if isinstance(compiled, PolicyError):
            return denied_by_error(compiled)
        request = Request(
            action=action, moment=moment, facts=facts, assignee=assignee, target=target
        )
        return compiled.evaluate(request, explain=explain)

    def facts(
        self,
        claims: Mapping[str, Any] | None,
        *,
        now: datetime,
        agreement: Agreement | None = None,
        count: int | None = None,
        tx: Tx | None = None,
        **declared: Any,
    ) -> dict[str, Any]:
        """The facts of a moment: claims, time, agreement age and uses, the events and states the
        operator declared (with ``tx``), what the request declared (``purpose``,
        ``deploymentLocation``, ``spatial``...; None values are left out)."""
        facts = facts_of(claims, self.dataspace)
        facts["dateTime"] = now
        if tx is not None:
            facts["event"] = tx.signals.active("event", now)
            facts["state"] = tx.signals.active("state", now)
        if agreement is not None:
            facts["elapsedTime"] = now - agreement.signed_at
        if count is not None:
            facts["count"] = count
        facts.update({k: v for k, v in declared.items() if v is not None})
        return facts
