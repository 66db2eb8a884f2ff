"""The one error type of the identity core: a machine-readable ``code`` and a human message.

Every refusal (a forged token, an expired credential, a malformed DID document) surfaces as
:class:`IdentityError`; callers map ``code`` to a protocol response (e.g. DSP 401/403) and log
``message``. Nothing in this package lets a library exception (joserfc, cryptography, json, gzip)
escape for bad input.
"""

from __future__ import annotations

from typing import Literal, get_args

ErrorCode = Literal[
    "malformed",  # not a JWT, bad base64/JSON, missing or ill-typed member, bad DID, wrong typ
    "algorithm",  # JOSE alg not allowed (e.g. "none", HS256) or not matching the key
    "signature",  # the signature does not verify
    "expired",  # exp / validUntil in the past (beyond leeway)
    "not_yet_valid",  # nbf / iat / validFrom in the future (beyond leeway)
    "lifetime",  # a self-issued token that lives longer than allowed
    "audience",  # aud does not name us
    "nonce",  # presentation nonce differs from the one we asked for
    "replay",  # jti seen before
    "issuer_mismatch",  # iss != sub, or iss/kid/issuer disagree
    "unknown_key",  # kid is not a verification method (for that purpose) of the signer's DID
    "key_retired",  # kid was a key of the signer but its cut-over time has passed
    "unresolved",  # DID document or status list not available to the resolver
    "revoked",  # status list bit set, purpose revocation
    "suspended",  # status list bit set, purpose suspension
    "untrusted_issuer",  # credential issuer is not on the trust list
    "holder_mismatch",  # credential subject / presentation holder / caller disagree
    "not_member",  # every credential verified, but none says the caller is a member here
]

ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))


class IdentityError(Exception):
    """A refused or unreadable identity artefact.

    ``code`` is one of :data:`ErrorCode`; ``message`` says what was wrong in words.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message


def malformed(message: str) -> IdentityError:
    """Shorthand for the most common error."""
    return IdentityError("malformed", message)
