"""Verifiable Presentations secured with JOSE (VC-JOSE-COSE 1.0 §3.2, ``typ: vp+jwt``).

The holder signs a VC DM 2.0 presentation (§4.13) whose ``verifiableCredential`` entries are
``EnvelopedVerifiableCredential`` objects with a ``data:application/vc+jwt,<jwt>`` id
(VC DM 2.0 §4.13.1; a bare JWT string is accepted too). JWT claims: ``iss`` = holder, ``aud`` =
verifier DID, ``nonce`` (when the verifier asked for one), ``iat``, ``exp``, ``jti``.
Verification yields :class:`ParticipantClaims` for the policy engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._time import check_window, numeric_date, required_date
from .context import TrustContext, verify_signed_jwt
from .credentials import LEGAL_PARTICIPANT, MEMBERSHIP, VerifiedCredential, verify_credential
from .did import split_did_url
from .errors import IdentityError, malformed
from .keys import SigningKey, peek_jwt, sign_jwt
from .status_list import VC_CONTEXT

VP_TYP = "vp+jwt"
VP_TYPS = frozenset({VP_TYP, "vp+ld+json+jwt"})
_DATA_URL_PREFIXES = ("data:application/vc+jwt,", "data:application/vc+ld+json+jwt,")


@dataclass(frozen=True)
class ParticipantClaims:
    """What the policy engine may rely on about a caller, all from verified credentials."""

    did: str
    member: bool
    member_of: frozenset[str]
    roles: frozenset[str]
    legal_name: str | None
    registration_number: str | None
    country: str | None
    credential_types: frozenset[str]
    credentials: tuple[VerifiedCredential, ...]
    #: From the membership credential, when the authority certified one (base, trust, trust+).
    security_level: str | None = None


def create_presentation(
    key: SigningKey,
    credentials: Sequence[str],
    *,
    audience: str,
    now: datetime,
    nonce: str | None = None,
    lifetime: timedelta = timedelta(minutes=5),
) -> str:
    """A ``vp+jwt`` by the key's DID enveloping the given ``vc+jwt`` credentials."""
    holder, _ = split_did_url(key.kid)
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": [
            {
                "@context": VC_CONTEXT,
                "id": _DATA_URL_PREFIXES[0] + jwt,
                "type": "EnvelopedVerifiableCredential",
            }
            for jwt in credentials
        ],
        "iss": holder,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "exp": issued + int(lifetime.total_seconds()),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return sign_jwt(claims, key, typ=VP_TYP)


def _enveloped(entry: object, index: int) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping) and entry.get("type") == "EnvelopedVerifiableCredential":
        data_url = entry.get("id")
        if isinstance(data_url, str):
            for prefix in _DATA_URL_PREFIXES:
                if data_url.startswith(prefix):
                    return data_url[len(prefix) :]
    raise malformed(f"verifiableCredential[{index}] is not an enveloped vc+jwt")


def verify_presentation(
    token: object,
    ctx: TrustContext,
    *,
    caller: str,
    audience: str,
    nonce: str | None = None,
) -> ParticipantClaims:
    """Verify a ``vp+jwt`` presented by ``caller`` (the DID of the verified ID token) to us
    (``audience``), then every enclosed credential, and return the caller's claims.

    Codes: ``malformed``; ``issuer_mismatch`` (iss != holder); ``holder_mismatch`` (holder !=
    caller, or a credential about someone else: VC DM 2.0 §7.1 holder binding, checked as
    subject id == holder); ``unknown_key``/``key_retired``/``signature``; ``audience``;
    ``nonce``; ``not_yet_valid``/``expired``; plus every code of
    :func:`~twinspace.identity.credentials.verify_credential`.
    """
    header, claims = peek_jwt(token)
    if header.get("typ") not in VP_TYPS:
        raise malformed(f"presentation typ {header.get('typ')!r} is not one of {sorted(VP_TYPS)}")
    context, types = claims.get("@context"), claims.get("type")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT:
        raise malformed(f"presentation @context must be a list starting with {VC_CONTEXT}")
    if not isinstance(types, list) or "VerifiablePresentation" not in types:
        raise malformed("presentation 'type' must contain VerifiablePresentation")
    holder, entries = claims.get("holder"), claims.get("verifiableCredential", [])
    if not isinstance(holder, str) or not holder.startswith("did:"):
        raise malformed("presentation 'holder' must be a DID")
    if not isinstance(entries, list):
        raise malformed("presentation 'verifiableCredential' must be a list")
    jwts = [_enveloped(entry, i) for i, entry in enumerate(entries)]
    issued = required_date(claims, "iat")
    expires = required_date(claims, "exp")
    not_before = numeric_date(claims, "nbf", required=False)
    if claims.get("iss", holder) != holder:
        raise IdentityError("issuer_mismatch", f"iss {claims.get('iss')!r} is not the holder")
    if holder != caller:
        raise IdentityError("holder_mismatch", f"presentation by {holder}, caller is {caller}")
    verify_signed_jwt(token, ctx, typs=VP_TYPS, purpose="authentication", signer=holder)
    aud = claims.get("aud")
    if audience not in (aud if isinstance(aud, list) else [aud]):
        raise IdentityError("audience", f"presentation is for {aud!r}, not {audience!r}")
    if nonce is not None and claims.get("nonce") != nonce:
        raise IdentityError("nonce", "presentation nonce differs from the one requested")
    check_window(
        ctx.now(),
        not_before=max(issued, not_before or issued),
        not_after=expires,
        leeway=ctx.leeway,
        what="presentation",
    )
    verified = tuple(verify_credential(jwt, ctx, expected_subject=holder) for jwt in jwts)
    return summarise(holder, verified)


def summarise(did: str, credentials: Sequence[VerifiedCredential]) -> ParticipantClaims:
    """Fold verified credentials into :class:`ParticipantClaims` (first LegalParticipant wins)."""
    member_of: set[str] = set()
    roles: set[str] = set()
    levels: list[str] = []
    legal: Mapping[str, Any] = {}
    for credential in credentials:
        subject = credential.subject
        if MEMBERSHIP in credential.types:
            if isinstance(subject.get("memberOf"), str):
                member_of.add(subject["memberOf"])
            raw_roles = subject.get("roles", [])
            if isinstance(raw_roles, list):
                roles.update(r for r in raw_roles if isinstance(r, str))
            if isinstance(subject.get("securityLevel"), str):
                levels.append(subject["securityLevel"])
        if LEGAL_PARTICIPANT in credential.types and not legal:
            legal = subject

    def text(name: str) -> str | None:
        value = legal.get(name)
        return value if isinstance(value, str) else None

    return ParticipantClaims(
        did=did,
        member=any(MEMBERSHIP in c.types for c in credentials),
        member_of=frozenset(member_of),
        roles=frozenset(roles),
        legal_name=text("legalName"),
        registration_number=text("registrationNumber"),
        country=text("country"),
        credential_types=frozenset().union(*(c.types for c in credentials)),
        credentials=tuple(credentials),
        security_level=levels[0] if levels else None,
    )
