"""The one error type of the ledger core: a machine-readable ``code`` and a human message.

Every refusal (a proof that does not verify, a checkpoint signed by the wrong key, an entry that
holds something other than identifiers, hashes, states and times) surfaces as
:class:`LedgerError`; nothing in this package lets a library exception (joserfc, json, binascii)
escape for bad input. The audit (:mod:`twinspace.ledger.audit`) reports its findings as
``LedgerError`` values too, each with the code naming the case.
"""

from __future__ import annotations

from typing import Literal, get_args

ErrorCode = Literal[
    "malformed",  # not bytes/str/int where one is needed, hash not 32 bytes, bad JSON or JWS, ...
    "inclusion",  # an inclusion proof does not lead to the root (or has the wrong length)
    "consistency",  # a consistency proof does not link the two roots (or has the wrong length)
    "signature",  # a JWS (checkpoint, cosignature, entry) does not verify with the key
    "unknown_key",  # signed by a key that is not the expected one (other kid / other DID)
    "fork",  # two checkpoints of one log that cannot both be true (same size, different roots)
    "rollback",  # a checkpoint smaller than one seen before
    "changed_entry",  # an entry differs from the one the log committed to
    "removed_entry",  # an entry the log committed to is missing
    "reordered",  # entries the log committed to are there, at other positions
    "forged_receipt",  # a receipt whose signature or claims do not hold
]

ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))


class LedgerError(Exception):
    """A refused ledger artefact or an audit finding.

    ``code`` is one of :data:`ErrorCode`; ``message`` says what was wrong in words.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message

    def __repr__(self) -> str:
        return f"LedgerError({self.code!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LedgerError):
            return NotImplemented
        return (self.code, self.message) == (other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.message))


def malformed(message: str) -> LedgerError:
    """Shorthand for the most common error."""
    return LedgerError("malformed", message)
