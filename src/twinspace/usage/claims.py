"""The caller's verified claims as stored with a process, and as facts for the policy engine.

A provider keeps a snapshot of what it verified about the consumer when a negotiation or a
transfer was requested (``caller_claims`` on the process): the DID, membership, roles, legal
data, the credential types, and for each credential its issuer, status entries and expiry, so
that the policy monitor can check later whether they still hold without asking the consumer for
a new presentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinspace.identity import ParticipantClaims

Json = dict[str, Any]


def snapshot(claims: ParticipantClaims | None, caller: str | None) -> Json | None:
    """What to keep about a caller (None when nothing is known about it)."""
    if claims is None:
        return {"did": caller} if caller else None
    return {
        "did": claims.did,
        "member": claims.member,
        "memberOf": sorted(claims.member_of),
        "roles": sorted(claims.roles),
        "legalName": claims.legal_name,
        "registrationNumber": claims.registration_number,
        "country": claims.country,
        "securityLevel": claims.security_level,
        "credentialTypes": sorted(claims.credential_types),
        # enough to check again later whether the credentials still hold
        "status": [
            {
                "issuer": c.issuer,
                "entries": c.claims.get("credentialStatus") or [],
                "validUntil": c.valid_until.isoformat() if c.valid_until else None,
            }
            for c in claims.credentials
        ],
    }


def facts_of(claims: Mapping[str, Any] | None, dataspace: str) -> dict[str, Any]:
    """Policy facts from a snapshot: only what was verified; nothing for what was not (so a
    constraint on it is unsatisfied, never satisfied)."""
    if not claims:
        return {}
    facts: dict[str, Any] = {}
    if isinstance(claims.get("did"), str):
        facts["recipient"] = claims["did"]
    if "member" in claims:
        active = bool(claims.get("member")) and dataspace in (claims.get("memberOf") or [])
        facts["membership"] = "active" if active else "none"
    if claims.get("revoked"):
        facts["membership"] = "revoked"
    for key, fact in (("roles", "role"), ("credentialTypes", "credentialType")):
        if isinstance(claims.get(key), list):
            facts[fact] = frozenset(str(v) for v in claims[key])
    for key in ("country", "legalName", "securityLevel"):
        if isinstance(claims.get(key), str):
            facts[key] = claims[key]
    return facts
