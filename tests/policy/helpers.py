"""Helpers for the policy engine tests: build compact DSP policies in one line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from twinspace.policy import Decision, Moment, Request, compile_policy, evaluate, parse_policy

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def c(left: str, operator: str, right: Any, **extra: Any) -> dict[str, Any]:
    """One constraint."""
    return {"leftOperand": left, "operator": operator, "rightOperand": right, **extra}


def offer(*constraints: dict[str, Any], action: Any = "use", **extra: Any) -> dict[str, Any]:
    """A DSP offer with one permission holding ``constraints``."""
    rule: dict[str, Any] = {"action": action}
    if constraints:
        rule["constraint"] = list(constraints)
    return {"@id": "urn:policy:1", "@type": "Offer", "assigner": "did:web:p", "permission": [rule],
            **extra}  # fmt: skip


def decide_both(doc: dict[str, Any], request: Request) -> Decision:
    """The interpreted decision, after checking the compiled path agrees on it."""
    slow = evaluate(doc, request)
    fast = compile_policy(parse_policy(doc)).evaluate(request)
    assert fast.allowed == slow.allowed, (doc, request)
    assert fast.duties == slow.duties
    return slow


def ask(
    facts: dict[str, Any], action: str = "use", moment: Moment = "access", **kw: Any
) -> Request:
    return Request(action=action, moment=moment, facts=facts, **kw)
