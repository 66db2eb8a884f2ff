"""Self-issued ID tokens (DCP 1.0 §4.3): create and verify, with a jti replay store.

Every DSP request carries one: a JWT with ``iss`` = ``sub`` = the caller's DID, ``aud`` = the
callee's DID, ``jti``, ``iat``, ``exp`` and optionally ``token`` (an access token the callee may
present to the caller's Credential Service, DCP §4.3.2). Signed with an ``authentication`` key of
the caller; ``kid`` is the DID URL of that verification method (§4.3.1).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ._time import check_window, numeric_date, required_date
from .context import TrustContext, verify_signed_jwt
from .did import split_did_url
from .errors import IdentityError, malformed
from .keys import SigningKey, peek_jwt, sign_jwt

ID_TOKEN_TYP = "JWT"
#: A self-issued token that lives longer than this is refused (``lifetime``): it keeps replay
#: windows (and the replay store) bounded.
MAX_LIFETIME = timedelta(minutes=10)


class ReplayStore(Protocol):
    def remember(self, jti: str, expires_at: datetime, now: datetime) -> bool:
        """Record ``jti`` until ``expires_at``; ``False`` if it was already recorded."""
        ...


class InMemoryReplayStore:
    """A dict of jti -> expiry; entries are dropped once the token could no longer be valid."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}

    def remember(self, jti: str, expires_at: datetime, now: datetime) -> bool:
        for key in [k for k, until in self._seen.items() if until <= now]:
            del self._seen[key]
        if jti in self._seen:
            return False
        self._seen[jti] = expires_at
        return True

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class IdToken:
    """A verified self-issued ID token."""

    issuer: str  # the caller's DID (iss == sub)
    audience: str  # our DID
    jti: str
    issued_at: datetime
    expires_at: datetime
    kid: str
    access_token: str | None = None


def create_id_token(
    key: SigningKey,
    *,
    audience: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=5),
    access_token: str | None = None,
    jti: str | None = None,
) -> str:
    """A self-issued ID token for a call to ``audience``, signed with ``key``
    (whose DID is the issuer and subject)."""
    did, _ = split_did_url(key.kid)
    issued = int(now.timestamp())
    claims: dict[str, object] = {
        "iss": did,
        "sub": did,
        "aud": audience,
        "jti": jti or str(uuid.uuid4()),
        "iat": issued,
        "exp": issued + int(lifetime.total_seconds()),
    }
    if access_token is not None:
        claims["token"] = access_token
    return sign_jwt(claims, key, typ=ID_TOKEN_TYP)


def verify_id_token(
    token: object,
    ctx: TrustContext,
    *,
    audience: str,
    replay: ReplayStore,
    max_lifetime: timedelta = MAX_LIFETIME,
) -> IdToken:
    """Verify a self-issued ID token addressed to ``audience`` (our DID), DCP 1.0 §4.3.3:

    1. structure: compact JWS, claims iss/sub/aud/jti/iat/exp present and typed (``malformed``);
    2. ``kid`` is a DID URL of ``iss``, in the caller's DID document under ``authentication``,
       not retired (``issuer_mismatch``, ``unknown_key``, ``key_retired``), signature verifies
       (``signature``);
    3. ``iss == sub`` (``issuer_mismatch``); ``aud`` names us (``audience``);
    4. ``iat``/``nbf``/``exp`` with leeway (``not_yet_valid``, ``expired``), bounded lifetime
       (``lifetime``);
    5. ``jti`` never seen before from this issuer (``replay``), recorded only for tokens that
       passed every other check, so forgeries cannot burn a jti.
    """
    _, claims = peek_jwt(token)
    iss, sub, aud, jti = (claims.get(n) for n in ("iss", "sub", "aud", "jti"))
    for name, value in (("iss", iss), ("sub", sub), ("jti", jti)):
        if not isinstance(value, str) or not value:
            raise malformed(f"claim {name!r} must be a non-empty string")
    audiences = aud if isinstance(aud, list) else [aud]
    if not audiences or not all(isinstance(a, str) for a in audiences):
        raise malformed("claim 'aud' must be a string or a list of strings")
    issued = required_date(claims, "iat")
    expires = required_date(claims, "exp")
    not_before = numeric_date(claims, "nbf", required=False)
    access_token = claims.get("token")
    if access_token is not None and not isinstance(access_token, str):
        raise malformed("claim 'token' must be a string")
    signed = verify_signed_jwt(token, ctx, typs=None, purpose="authentication", signer=str(iss))
    if iss != sub:
        raise IdentityError("issuer_mismatch", f"iss {iss!r} differs from sub {sub!r}")
    if audience not in audiences:
        raise IdentityError("audience", f"token is for {aud!r}, not {audience!r}")
    now = ctx.now()
    check_window(
        now,
        not_before=max(issued, not_before or issued),
        not_after=expires,
        leeway=ctx.leeway,
        what="ID token",
    )
    if expires - issued > max_lifetime:
        raise IdentityError("lifetime", f"token lives {expires - issued}, over {max_lifetime}")
    if not _remember(replay, str(iss), str(jti), expires + ctx.leeway, now):
        raise IdentityError("replay", f"jti {jti!r} from {iss} was already used")
    return IdToken(
        issuer=str(iss),
        audience=audience,
        jti=str(jti),
        issued_at=issued,
        expires_at=expires,
        kid=signed.kid,
        access_token=access_token,
    )


def _remember(store: ReplayStore, issuer: str, jti: str, until: datetime, now: datetime) -> bool:
    # jtis are scoped per issuer: two callers may pick the same jti (RFC 7519 §4.1.7)
    return store.remember(f"{issuer} {jti}", until, now)
