"""A pure ODRL 2.2 policy engine: parse, validate, compile, evaluate with reasons.

No I/O, no clock: time and everything else about a request come in as facts. Policies are read in
the compact DSP 2025-1 form or as full JSON-LD (bundled contexts only); anything unknown or
unsupported is a :class:`PolicyError` at definition time, and evaluation fails closed. See
docs/policy.md.
"""

from .compiler import CompiledPolicy, compile_policy
from .decision import FULFILLED, Decision, Reason, Request
from .errors import PolicyError, Problem
from .evaluator import decide, evaluate
from .model import Constraint, Duty, LogicalConstraint, Policy, Rule
from .operands import LEFT_OPERANDS, MOMENTS, SECURITY_LEVELS, Moment, OperandSpec
from .parser import parse_policy
from .validation import validate_policy
from .vocabulary import ACTIONS, ODRL_NS, TWINSPACE_NS, ActionSpec

__all__ = [
    "ACTIONS",
    "FULFILLED",
    "LEFT_OPERANDS",
    "MOMENTS",
    "ODRL_NS",
    "SECURITY_LEVELS",
    "TWINSPACE_NS",
    "ActionSpec",
    "CompiledPolicy",
    "Constraint",
    "Decision",
    "Duty",
    "LogicalConstraint",
    "Moment",
    "OperandSpec",
    "Policy",
    "PolicyError",
    "Problem",
    "Reason",
    "Request",
    "Rule",
    "compile_policy",
    "decide",
    "evaluate",
    "parse_policy",
    "validate_policy",
]
