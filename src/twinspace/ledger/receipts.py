"""Receipts: the log's signed promise that one entry is in the log, at one index.

When the log accepts an entry it answers with a receipt before the next checkpoint exists: a
compact JWS by the log's key (``typ: ts-receipt+jwt``) over the canonical JSON
``{"index": i, "leaf": <base64url leaf hash>, "log": <log DID>, "timestamp": "...Z"}``. Like a
Certificate Transparency SCT it is a promise, not a proof; it becomes a proof once a checkpoint
of a size above ``index`` is published, and the audit turns a broken promise (the leaf is not at
that index in the checkpointed tree) into evidence the log cannot deny, since it signed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twinspace.identity import SigningKey
from twinspace.identity.keys import sign_jwt

from ._jose import (
    KeyLike,
    b64url,
    b64url_decode,
    check_did,
    did_of,
    format_time,
    parse_time,
    peek,
    verify,
)
from .canonical import MAX_SAFE_INTEGER, canonical_json, parse_canonical
from .errors import LedgerError, malformed
from .merkle import HASH_SIZE

RECEIPT_TYP = "ts-receipt+jwt"
_CLAIMS = frozenset({"log", "leaf", "index", "timestamp"})


@dataclass(frozen=True)
class Receipt:
    """The log ``log`` (its DID) holds the entry with leaf hash ``leaf`` at ``index``,
    accepted at ``timestamp``."""

    log: str
    leaf: bytes
    index: int
    timestamp: datetime

    def __post_init__(self) -> None:
        check_did(self.log, "receipt log")
        if not isinstance(self.leaf, bytes) or len(self.leaf) != HASH_SIZE:
            raise malformed(f"receipt leaf must be {HASH_SIZE} bytes")
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise malformed("receipt index must be an integer")
        if not 0 <= self.index <= MAX_SAFE_INTEGER:
            raise malformed(f"receipt index {self.index} is out of range")
        format_time(self.timestamp)

    def claims(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "leaf": b64url(self.leaf),
            "log": self.log,
            "timestamp": format_time(self.timestamp),
        }

    @classmethod
    def from_claims(cls, claims: object) -> Receipt:
        if not isinstance(claims, Mapping) or set(claims) != _CLAIMS:
            raise malformed(f"receipt claims must be exactly {sorted(_CLAIMS)}")
        return cls(
            log=claims["log"],
            leaf=b64url_decode(claims["leaf"], "receipt leaf", size=HASH_SIZE),
            index=claims["index"],
            timestamp=parse_time(claims["timestamp"], "receipt timestamp"),
        )


def issue_receipt(receipt: Receipt, key: SigningKey) -> str:
    """The log's signature over ``receipt``; ``key`` must be a key of the log's DID."""
    if not isinstance(receipt, Receipt) or not isinstance(key, SigningKey):
        raise malformed("issue_receipt(Receipt, SigningKey)")
    if did_of(key.kid) != receipt.log:
        raise malformed(f"key {key.kid!r} is not a key of the log {receipt.log!r}")
    claims = parse_canonical(canonical_json(receipt.claims()))
    return sign_jwt(claims, key, typ=RECEIPT_TYP)


def read_receipt(receipt_jws: object) -> Receipt:
    """The receipt's claims, **unverified**; ``malformed`` if it is not a receipt at all."""
    header, _ = peek(receipt_jws, "receipt")
    assert isinstance(receipt_jws, str)
    if header.get("typ") != RECEIPT_TYP:
        raise malformed(f"receipt has typ {header.get('typ')!r}, expected {RECEIPT_TYP!r}")
    payload = b64url_decode(receipt_jws.split(".")[1], "receipt payload")
    return Receipt.from_claims(parse_canonical(payload))


def verify_receipt(receipt_jws: object, log_key: KeyLike, *, log: str | None = None) -> Receipt:
    """The receipt, once the log's signature verifies with ``log_key``.

    Anything that makes it not the log's word (a signature that does not verify, a key of
    another DID, a payload changed after signing, claims that do not parse, another ``log``
    than the one given) is ``forged_receipt``; only input that is not a JWS string at all is
    ``malformed``."""
    if not isinstance(receipt_jws, str) or receipt_jws.count(".") != 2:
        raise malformed("a receipt is a compact JWS string")
    try:
        receipt = read_receipt(receipt_jws)
        header, _ = verify(receipt_jws, log_key, typ=RECEIPT_TYP, what="receipt")
        kid = str(header["kid"])
        if did_of(kid) != receipt.log:
            raise malformed(f"receipt of log {receipt.log!r} is signed with {kid!r}")
        if log is not None and receipt.log != log:
            raise malformed(f"receipt is for log {receipt.log!r}, not {log!r}")
    except LedgerError as exc:
        raise LedgerError("forged_receipt", f"receipt refused: {exc.message}") from None
    return receipt
