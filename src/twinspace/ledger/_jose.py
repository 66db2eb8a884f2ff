"""JWS, keys, base64url and time helpers shared by entries, checkpoints and receipts (internal).

Signing and verification go through :mod:`twinspace.identity.keys` (Ed25519 / P-256, no
algorithm confusion); here its :class:`IdentityError` codes become :class:`LedgerError` codes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from twinspace.identity import IdentityError, SigningKey, load_public_jwk
from twinspace.identity.keys import PublicKey, peek_jwt, verify_jws

from .errors import ErrorCode, LedgerError, malformed

#: What may stand for a verification key: a :class:`SigningKey` (its ``kid`` is checked too), a
#: joserfc public key object, or a public JWK (its ``kid`` member, if any, is checked too).
KeyLike = SigningKey | PublicKey | Mapping[str, Any]

_JWK_MEMBERS = ("kty", "crv", "x", "y")


def resolve_key(key: object) -> tuple[str | None, PublicKey]:
    """``(kid or None, public key)`` for any :data:`KeyLike`; ``malformed`` otherwise."""
    if isinstance(key, SigningKey):
        return key.kid, key.key
    if isinstance(key, Mapping):
        kid = key.get("kid")
        try:
            public = load_public_jwk({k: key[k] for k in _JWK_MEMBERS if k in key})
        except IdentityError as exc:
            raise malformed(f"not a usable public key: {exc.message}") from None
        return (kid if isinstance(kid, str) else None), public
    try:
        public = load_public_jwk(
            {k: v for k, v in key.as_dict(private=False).items() if k in _JWK_MEMBERS}  # type: ignore[attr-defined]
        )
    except (AttributeError, TypeError, IdentityError):
        raise malformed(f"not a key: {type(key).__name__}") from None
    return None, public


def did_of(kid: str) -> str:
    """The DID of a key id (``did:web:x#key-1`` -> ``did:web:x``); ``malformed`` otherwise."""
    did, sep, fragment = kid.partition("#")
    if not did.startswith("did:") or not sep or not fragment or len(did.split(":")) < 3:
        raise malformed(f"key id {kid!r} is not a DID URL with a fragment")
    return did


def peek(token: object, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Unverified (header, claims) of a compact JWS; ``malformed`` if it is none."""
    try:
        return peek_jwt(token)
    except IdentityError as exc:
        raise malformed(f"{what} is not a usable compact JWS: {exc.message}") from None


def verify(
    token: str,
    key: object,
    *,
    typ: str,
    what: str,
    failure: ErrorCode = "signature",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check ``token``'s type, key id and signature with ``key``; (header, claims).

    ``unknown_key`` when the token names another key id than ``key`` carries, ``failure``
    (default ``signature``) when the signature does not verify or the algorithm does not fit
    the key."""
    header, claims = peek(token, what)
    if header.get("typ") != typ:
        raise malformed(f"{what} has typ {header.get('typ')!r}, expected {typ!r}")
    kid, public = resolve_key(key)
    if kid is not None and header["kid"] != kid:
        raise LedgerError(
            "unknown_key", f"{what} is signed with key {header['kid']!r}, expected {kid!r}"
        )
    try:
        verify_jws(token, public, typs=(typ,))
    except IdentityError as exc:
        if exc.code in ("signature", "algorithm"):
            raise LedgerError(
                failure, f"{what}: the signature does not verify with the expected key"
            ) from None
        raise malformed(f"{what}: {exc.message}") from None
    return header, claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_decode(value: object, what: str, *, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not _B64URL.match(value) or len(value) % 4 == 1:
        raise malformed(f"{what} is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - excluded by the pattern
        raise malformed(f"{what} is not valid base64url") from None
    if b64url(raw) != value:
        raise malformed(f"{what} is not in canonical base64url")
    if size is not None and len(raw) != size:
        raise malformed(f"{what} must decode to {size} bytes, got {len(raw)}")
    return raw


def format_time(moment: datetime) -> str:
    """UTC, ``Z`` suffix, microseconds only when there are any: ``2026-01-01T00:00:00Z``."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise malformed("a time must be a timezone-aware datetime")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$")


def parse_time(value: object, what: str) -> datetime:
    """The inverse of :func:`format_time`; any other spelling is ``malformed``."""
    if not isinstance(value, str) or not _TIME.match(value):
        raise malformed(f"{what} must be a UTC time like 2026-01-01T00:00:00Z, got {value!r}")
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        raise malformed(f"{what} {value!r} is not a valid date-time") from None
    if format_time(moment) != value:  # e.g. ".000000" where the fraction is left out
        raise malformed(f"{what} {value!r} is not in canonical form")
    return moment


def check_did(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > 512:
        raise malformed(f"{what} must be a DID (a string of at most 512 characters)")
    parts = value.split(":")
    if len(parts) < 3 or parts[0] != "did" or not all(parts) or any(c in value for c in "#?/ @"):
        raise malformed(f"{what} {value!r} is not a DID")
    return value
