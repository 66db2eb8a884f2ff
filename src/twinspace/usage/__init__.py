"""Usage control at run time: facts for the policy engine, decisions at each moment, the usage
log, duties and the policy monitor. The engine itself is ``twinspace.policy`` (pure)."""

from .claims import facts_of, snapshot
from .decisions import UsageControl, policy_key, why
from .log import log_decision, log_event

__all__ = [
    "UsageControl",
    "facts_of",
    "log_decision",
    "log_event",
    "policy_key",
    "snapshot",
    "why",
]
