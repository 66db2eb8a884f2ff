"""Management use cases of usage control: validate and explain policies, show an agreement's
usage (count, duties, log), and keep the consumer's acceptance rules."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

from twinspace.connector.context import Context
from twinspace.connector.errors import ManagementError
from twinspace.identity._time import parse_datetime
from twinspace.identity.errors import IdentityError
from twinspace.policy import MOMENTS, Moment, PolicyError, validate_policy
from twinspace.store import AcceptanceRule, Signal

Json = dict[str, Any]


def invalid(message: str) -> ManagementError:
    return ManagementError(400, message)


def validate(body: Json) -> Json:
    """``{"policy": {...}}`` (or the policy itself) -> its problems, errors and warnings."""
    policy = body.get("policy", body)
    if not isinstance(policy, Mapping):
        raise invalid("policy must be a JSON object")
    problems = validate_policy(policy)
    return {
        "valid": not any(p.severity == "error" for p in problems),
        "problems": [
            {"path": p.path, "message": p.message, "severity": p.severity} for p in problems
        ],
    }


def check_definition(policy: Mapping[str, Any]) -> list[str]:
    """Definition time: errors refuse the policy; the warnings (contradictions) are returned."""
    problems = validate_policy(policy)
    errors = [f"{p.path}: {p.message}" for p in problems if p.severity == "error"]
    if errors:
        raise invalid("invalid policy: " + "; ".join(errors))
    return [f"{p.path}: {p.message}" for p in problems]


def explain(ctx: Context, body: Json) -> Json:
    """Evaluate a policy (given, or an agreement's) for a described request, with reasons.

    Body: ``{"policy": {...}} | {"agreementId": "..."}``, ``"action"`` (default use),
    ``"moment"`` (default access), ``"assignee"``, and ``"facts"`` keyed by left operand
    (``dateTime`` ISO text, ``elapsedTime`` xsd:duration, ``count``, ``purpose``, ``role`` list...).
    """
    policy = body.get("policy")
    agreement_id = body.get("agreementId")
    if policy is None and isinstance(agreement_id, str):
        with ctx.store.transaction() as tx:
            agreement = tx.agreements.find(agreement_id)
        if agreement is None:
            raise ManagementError(404, f"no contract agreement {agreement_id!r}", "ObjectNotFound")
        policy = agreement.policy
    if not isinstance(policy, Mapping):
        raise invalid("give a policy (JSON object) or an agreementId")
    moment = body.get("moment", "access")
    if moment not in MOMENTS:
        raise invalid(f"moment must be one of {', '.join(MOMENTS)}")
    action = body.get("action", "use")
    facts = body.get("facts", {})
    if not isinstance(action, str) or not isinstance(facts, Mapping):
        raise invalid("action must be a string and facts an object")
    assignee = body.get("assignee")
    try:
        decision = ctx.usage.decide(
            policy,
            moment=cast(Moment, moment),
            facts=dict(facts),
            action=action,
            assignee=assignee if isinstance(assignee, str) else None,
            explain=True,
        )
    except PolicyError as exc:
        raise invalid(str(exc)) from None
    return {"request": {"action": action, "moment": moment, "facts": facts}, **decision.explain()}


def usage_of(ctx: Context, agreement_id: str) -> Json:
    with ctx.store.transaction() as tx:
        agreement = tx.agreements.find(agreement_id)
        if agreement is None:
            raise ManagementError(404, f"no contract agreement {agreement_id!r}", "ObjectNotFound")
        count = tx.counters.get(agreement_id)
        duties = tx.duties.for_agreement(agreement_id)
        entries = tx.usage_log.for_agreement(agreement_id)
    return {
        "agreementId": agreement_id,
        "uses": count,
        "duties": [
            {
                "id": d.id,
                "action": d.action,
                "state": d.state,
                "dueAt": d.due_at.isoformat(),
                "attempts": d.attempts,
                "lastError": d.last_error,
                "doneAt": d.done_at.isoformat() if d.done_at else None,
                "detail": d.detail,
            }
            for d in duties
        ],
        "log": [
            {
                "at": e.at.isoformat(),
                "event": e.event,
                "transferId": e.transfer_id,
                "allowed": e.allowed,
                "detail": e.detail,
            }
            for e in entries
        ],
    }


def create_rule(ctx: Context, body: Json) -> Json:
    policy = body.get("policy")
    if not isinstance(policy, Mapping):
        raise invalid("an acceptance rule needs a policy (JSON object)")
    warnings = check_definition(policy)
    rule_id = body.get("@id") or body.get("id") or f"rule-{uuid.uuid4()}"
    if not isinstance(rule_id, str):
        raise invalid("@id must be a string")
    rule = AcceptanceRule(id=rule_id, policy=dict(policy), created_at=ctx.clock.now())
    with ctx.store.transaction() as tx:
        if tx.acceptance_rules.find(rule_id) is not None:
            raise ManagementError(409, f"acceptance rule {rule_id!r} exists", "ObjectConflict")
        tx.acceptance_rules.insert(rule)
    return {"@id": rule_id, "warnings": warnings}


def list_rules(ctx: Context) -> list[Json]:
    with ctx.store.transaction() as tx:
        return [
            {"@id": r.id, "policy": r.policy, "createdAt": r.created_at.isoformat()}
            for r in tx.acceptance_rules.list()
        ]


def delete_rule(ctx: Context, rule_id: str) -> None:
    with ctx.store.transaction() as tx:
        if tx.acceptance_rules.find(rule_id) is None:
            raise ManagementError(404, f"no acceptance rule {rule_id!r}", "ObjectNotFound")
        tx.acceptance_rules.delete(rule_id)


def record_received(ctx: Context, transfer_id: str, body: Json) -> Json:
    """The consumer kept its copy of a pulled transfer at ``path``: pending ``delete`` duties of
    that transfer now target it (the CLI reports where it saved a pull)."""
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise invalid("path must be an absolute file path")
    with ctx.store.transaction() as tx:
        t = tx.transfers.find(transfer_id)
        if t is None:
            raise ManagementError(
                404, f"transfer process {transfer_id!r} not found", "ObjectNotFound"
            )
        changed = []
        for duty in tx.duties.for_agreement(t.agreement_id):
            if (
                duty.transfer_id == transfer_id
                and duty.action == "delete"
                and duty.state == "PENDING"
            ):
                duty.detail = {**duty.detail, "file": path}
                tx.duties.replace(duty)
                changed.append(duty.id)
    return {"transferId": transfer_id, "path": path, "deleteDuties": changed}


SIGNAL_KINDS = ("event", "state")


def _signal_view(signal: Signal) -> Json:
    return {
        "name": signal.name,
        "kind": signal.kind,
        "since": signal.since.isoformat(),
        "until": signal.until.isoformat() if signal.until else None,
        "note": signal.note,
    }


def put_signal(ctx: Context, body: Json) -> Json:
    """Declare an event that occurred or a state the system is in (policy facts ``event`` and
    ``twinspace:state``): ``{"name", "kind": "event"|"state", "until"?, "note"?}``."""
    name, kind = body.get("name"), body.get("kind", "event")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise invalid("name must be a non-empty string of at most 256 characters")
    if kind not in SIGNAL_KINDS:
        raise invalid(f"kind must be one of {', '.join(SIGNAL_KINDS)}")
    until = body.get("until")
    try:
        until_at = None if until is None else parse_datetime(until, "until")
    except IdentityError as exc:
        raise invalid(exc.message) from None
    note = body.get("note")
    signal = Signal(
        name=name.strip(),
        kind=str(kind),
        since=ctx.clock.now(),
        until=until_at,
        note=note if isinstance(note, str) else None,
    )
    with ctx.store.transaction() as tx:
        if tx.signals.find(signal.name) is not None:
            tx.signals.replace(signal)
        else:
            tx.signals.insert(signal)
    return _signal_view(signal)


def list_signals(ctx: Context) -> list[Json]:
    with ctx.store.transaction() as tx:
        return [_signal_view(s) for s in tx.signals.list()]


def delete_signal(ctx: Context, name: str) -> None:
    with ctx.store.transaction() as tx:
        if tx.signals.find(name) is None:
            raise ManagementError(404, f"no signal {name!r}", "ObjectNotFound")
        tx.signals.delete(name)
