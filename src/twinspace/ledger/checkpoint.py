"""Checkpoints (signed tree heads): the log's signed statement "my tree of ``size`` entries has
root ``root``", and witnesses' cosignatures of the same statement.

A checkpoint is a compact JWS by the log's key (``typ: ts-checkpoint+jwt``) over the canonical
JSON ``{"origin": <log DID>, "root": <base64url>, "size": n, "timestamp": "...Z"}``. A witness
that has checked the checkpoint is consistent with the last one it saw cosigns it: a JWS by the
witness's key (``typ: ts-cosignature+jwt``) over the *same* payload. A participant that holds a
checkpoint with cosignatures from witnesses it trusts knows the log showed that same tree to
them too, so the log cannot show different histories to different parties (a split view)
without one of them holding the evidence (two checkpoints that do not fit one tree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

CHECKPOINT_TYP = "ts-checkpoint+jwt"
COSIGNATURE_TYP = "ts-cosignature+jwt"
_CLAIMS = frozenset({"origin", "size", "root", "timestamp"})


@dataclass(frozen=True)
class Checkpoint:
    """The log ``origin`` (its DID) had ``size`` entries with root ``root`` at ``timestamp``."""

    origin: str
    size: int
    root: bytes
    timestamp: datetime

    def __post_init__(self) -> None:
        check_did(self.origin, "checkpoint origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise malformed("checkpoint size must be an integer")
        if not 0 <= self.size <= MAX_SAFE_INTEGER:
            raise malformed(f"checkpoint size {self.size} is out of range")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise malformed(f"checkpoint root must be {HASH_SIZE} bytes")
        format_time(self.timestamp)

    def claims(self) -> dict[str, Any]:
        """The JWS payload, in canonical member order."""
        return {
            "origin": self.origin,
            "root": b64url(self.root),
            "size": self.size,
            "timestamp": format_time(self.timestamp),
        }

    @classmethod
    def from_claims(cls, claims: object) -> Checkpoint:
        if not isinstance(claims, Mapping) or set(claims) != _CLAIMS:
            raise malformed(f"checkpoint claims must be exactly {sorted(_CLAIMS)}")
        return cls(
            origin=claims["origin"],
            size=claims["size"],
            root=b64url_decode(claims["root"], "checkpoint root", size=HASH_SIZE),
            timestamp=parse_time(claims["timestamp"], "checkpoint timestamp"),
        )

    def describe(self) -> str:
        return f"size {self.size}, root {self.root.hex()[:16]}..."


def _payload(token: str) -> bytes:
    return b64url_decode(token.split(".")[1], "checkpoint payload")


def _read(token: object, typ: str, what: str) -> tuple[dict[str, Any], Checkpoint]:
    header, _ = peek(token, what)
    assert isinstance(token, str)
    if header.get("typ") != typ:
        raise malformed(f"{what} has typ {header.get('typ')!r}, expected {typ!r}")
    return header, Checkpoint.from_claims(parse_canonical(_payload(token)))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint JWS (the log's signature) and any witness cosignature JWSs over it."""

    jws: str
    cosignatures: tuple[str, ...] = field(default=())

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint it states, **unverified** (see :func:`verify_checkpoint`)."""
        return _read(self.jws, CHECKPOINT_TYP, "checkpoint")[1]

    @property
    def kid(self) -> str:
        """The key id the log signed with, unverified."""
        return str(peek(self.jws, "checkpoint")[0]["kid"])

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint": self.jws, "cosignatures": list(self.cosignatures)}

    @classmethod
    def from_json(cls, data: object) -> SignedCheckpoint:
        """From :meth:`to_json`'s shape; ``malformed`` otherwise (signatures not checked)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("checkpoint"), str):
            raise malformed("a signed checkpoint is {'checkpoint': JWS, 'cosignatures': [JWS]}")
        cosignatures = data.get("cosignatures", [])
        if not isinstance(cosignatures, list) or not all(isinstance(c, str) for c in cosignatures):
            raise malformed("'cosignatures' must be a list of JWS strings")
        signed = cls(data["checkpoint"], tuple(cosignatures))
        signed.checkpoint  # noqa: B018 - parse it now, so a bad one fails here
        return signed


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> SignedCheckpoint:
    """The log's signature over ``checkpoint``; ``key`` must be a key of its origin DID."""
    if not isinstance(checkpoint, Checkpoint) or not isinstance(key, SigningKey):
        raise malformed("sign_checkpoint(Checkpoint, SigningKey)")
    if did_of(key.kid) != checkpoint.origin:
        raise malformed(f"key {key.kid!r} is not a key of the log {checkpoint.origin!r}")
    claims = parse_canonical(canonical_json(checkpoint.claims()))
    return SignedCheckpoint(sign_jwt(claims, key, typ=CHECKPOINT_TYP))


def cosign(
    signed: SignedCheckpoint, witness_key: SigningKey, *, log_key: KeyLike | None = None
) -> SignedCheckpoint:
    """Add ``witness_key``'s cosignature over the same checkpoint (replacing an earlier one
    by the same key). Given ``log_key``, the log's signature is verified first. Checking that
    the checkpoint is consistent with the last one the witness saw is the witness's job,
    before it calls this."""
    if not isinstance(witness_key, SigningKey):
        raise malformed("a witness cosigns with a twinspace.identity.SigningKey")
    if log_key is not None:
        verify_checkpoint(signed, log_key)
    checkpoint = signed.checkpoint
    claims = parse_canonical(canonical_json(checkpoint.claims()))
    cosignature = sign_jwt(claims, witness_key, typ=COSIGNATURE_TYP)
    kept = tuple(
        c for c in signed.cosignatures if peek(c, "cosignature")[0].get("kid") != witness_key.kid
    )
    return SignedCheckpoint(signed.jws, (*kept, cosignature))


def _witness_key(witnesses: Mapping[str, KeyLike], kid: str) -> KeyLike | None:
    if kid in witnesses:
        return witnesses[kid]
    try:
        return witnesses.get(did_of(kid))
    except LedgerError:
        return None


def verify_checkpoint(
    signed: SignedCheckpoint,
    log_key: KeyLike,
    *,
    witnesses: Mapping[str, KeyLike] | None = None,
    min_cosignatures: int = 0,
) -> Checkpoint:
    """The checkpoint, once the log's signature and enough witness cosignatures verify.

    ``log_key``: the log's key (a ``SigningKey``, public key or JWK; with a ``kid`` it must be
    the one the checkpoint names). The signing key must belong to the checkpoint's origin DID.
    ``witnesses`` maps a witness's key id (DID URL) or DID to its key; cosignatures by other
    keys are ignored, a cosignature by a listed witness that does not verify or covers another
    payload is a ``signature`` error, and fewer than ``min_cosignatures`` distinct witnesses is
    one too."""
    if not isinstance(signed, SignedCheckpoint):
        raise malformed("expected a SignedCheckpoint")
    header, checkpoint = _read(signed.jws, CHECKPOINT_TYP, "checkpoint")
    kid = str(header["kid"])
    if did_of(kid) != checkpoint.origin:
        raise LedgerError(
            "unknown_key", f"checkpoint of {checkpoint.origin!r} is signed with {kid!r}"
        )
    verify(signed.jws, log_key, typ=CHECKPOINT_TYP, what="checkpoint")
    payload = _payload(signed.jws)
    cosigned: set[str] = set()
    for cosignature in signed.cosignatures:
        witness_kid = str(peek(cosignature, "cosignature")[0]["kid"])
        key = _witness_key(witnesses or {}, witness_kid)
        if key is None:
            continue
        verify(cosignature, key, typ=COSIGNATURE_TYP, what=f"cosignature by {witness_kid!r}")
        if b64url_decode(cosignature.split(".")[1], "cosignature payload") != payload:
            raise LedgerError(
                "signature", f"the cosignature by {witness_kid!r} is over another checkpoint"
            )
        cosigned.add(did_of(witness_kid))
    if len(cosigned) < min_cosignatures:
        raise LedgerError(
            "signature",
            f"checkpoint ({checkpoint.describe()}) has {len(cosigned)} valid cosignature(s) "
            f"from known witnesses, {min_cosignatures} required",
        )
    return checkpoint


def cosigners(signed: SignedCheckpoint, witnesses: Mapping[str, KeyLike]) -> list[str]:
    """The DIDs of the known witnesses whose cosignatures verify (others are skipped)."""
    found: list[str] = []
    payload = _payload(signed.jws)
    for cosignature in signed.cosignatures:
        try:
            witness_kid = str(peek(cosignature, "cosignature")[0]["kid"])
            key = _witness_key(witnesses, witness_kid)
            if key is None:
                continue
            verify(cosignature, key, typ=COSIGNATURE_TYP, what="cosignature")
            if b64url_decode(cosignature.split(".")[1], "payload") == payload:
                found.append(did_of(witness_kid))
        except LedgerError:
            continue
    return sorted(set(found))
