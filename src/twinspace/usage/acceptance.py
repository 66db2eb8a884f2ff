"""The consumer's acceptance profile: the policies it agrees to without a human.

An acceptance rule is an ODRL policy. An offered (or agreed) policy is acceptable when its
rules (permissions, prohibitions, obligations, with their constraints and duties) are the same
as those of one rule, compared as canonical JSON after dropping what names the parties and the
target (``@id``, ``uid``, ``assigner``, ``assignee``, ``target``, ``@type``, ``timestamp``).
Same rules means the consumer knows exactly what it agrees to; anything else is not accepted.

With a profile (at least one rule), the consumer side of a negotiation runs by itself:

* an offer from the provider (initial or counter) that is acceptable is **accepted**; one that is
  not is answered with a **counter-offer** (a ContractRequestMessage with the first rule's
  policy), once; a second unacceptable offer **terminates** the negotiation with the reason;
* an agreement whose policy is not acceptable is **terminated** instead of verified.

Without a profile the consumer verifies agreements as before and leaves offers to a person.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from twinspace.store import AcceptanceRule, Tx

Json = dict[str, Any]

_IGNORED = frozenset({"@id", "uid", "assigner", "assignee", "target", "@type", "timestamp"})
_RULES = ("permission", "prohibition", "obligation")


def _strip(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip(v) for k, v in value.items() if k not in _IGNORED and k != "@context"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def rules_of(policy: Mapping[str, Any]) -> str:
    """The canonical rule part of a policy (what two acceptable policies must share)."""
    rules = {k: _strip(policy[k]) for k in _RULES if policy.get(k)}
    for key, value in rules.items():  # a single rule may be written without the list
        if isinstance(value, Mapping):
            rules[key] = [value]
    return json.dumps(rules, sort_keys=True, separators=(",", ":"))


def acceptable(policy: Mapping[str, Any], rules: Iterable[AcceptanceRule]) -> AcceptanceRule | None:
    """The acceptance rule ``policy`` matches, or None."""
    wanted = rules_of(policy)
    return next((r for r in rules if rules_of(r.policy) == wanted), None)


def profile(tx: Tx) -> list[AcceptanceRule]:
    found: list[AcceptanceRule] = tx.acceptance_rules.list()
    return found


def counter_offer(offer: Mapping[str, Any], rule: AcceptanceRule) -> Json:
    """Our counter-offer: the provider's offer id and target, with the rule's rules."""
    counter: Json = {k: offer[k] for k in ("@id", "@type", "target", "assigner") if k in offer}
    counter.update({k: rule.policy[k] for k in _RULES if rule.policy.get(k)})
    return counter
