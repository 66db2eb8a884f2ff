"""DCP 1.0 messages and the access token of the presentation flow (pure).

A caller that sends a DSP request puts an **access token** in its self-issued ID token (claim
``token``, DCP 1.0 §4.3.2). The callee (the *verifier*) presents that token back to the caller's
Credential Service inside its own ID token when it asks for a presentation (§5.4). We make the
access token a JWT signed by the holder itself (``typ: at+jwt``, RFC 9068 shape): the Credential
Service can check it without remembering anything.

Scopes name credential types: ``org.eclipse.dspace.dcp.vc.type:<Type>`` (§5.4.1.2).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._time import check_window, required_date
from .credentials import LEGAL_PARTICIPANT, MEMBERSHIP
from .did import split_did_url
from .errors import IdentityError, malformed
from .keys import SigningKey, peek_jwt, sign_jwt, verify_jws

DCP_CONTEXT = "https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"
SCOPE_PREFIX = "org.eclipse.dspace.dcp.vc.type:"
ACCESS_TOKEN_TYP = "at+jwt"
#: What a verifier asks for and what a caller grants by default.
DEFAULT_TYPES = (MEMBERSHIP, LEGAL_PARTICIPANT)


def scope_for(credential_type: str) -> str:
    return SCOPE_PREFIX + credential_type


DEFAULT_SCOPES = tuple(scope_for(t) for t in DEFAULT_TYPES)


def type_of_scope(scope: object) -> str:
    """The credential type a scope names, or ``malformed``."""
    if not isinstance(scope, str) or not scope.startswith(SCOPE_PREFIX):
        raise malformed(f"scope {scope!r} is not of the form {SCOPE_PREFIX}<Type>")
    credential_type = scope[len(SCOPE_PREFIX) :]
    if not credential_type or not credential_type.replace("_", "").isalnum():
        raise malformed(f"scope {scope!r} names no credential type")
    return credential_type


# --- the access token --------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessGrant:
    """A verified access token: ``verifier`` may read credentials of ``types``."""

    holder: str
    verifier: str
    types: frozenset[str]
    expires_at: datetime


def create_access_token(
    key: SigningKey,
    *,
    verifier: str,
    now: datetime,
    lifetime: timedelta,
    scopes: Iterable[str] = DEFAULT_SCOPES,
) -> str:
    """An access token by the key's DID (the holder) letting ``verifier`` query ``scopes``."""
    holder, _ = split_did_url(key.kid)
    issued = int(now.timestamp())
    claims = {
        "iss": holder,
        "sub": holder,
        "aud": verifier,
        "scope": " ".join(scopes),
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "exp": issued + int(lifetime.total_seconds()),
    }
    return sign_jwt(claims, key, typ=ACCESS_TOKEN_TYP)


def verify_access_token(
    token: object, key: SigningKey, *, verifier: str, now: datetime, leeway: timedelta
) -> AccessGrant:
    """Check an access token we (``key``) issued and that ``verifier`` presents.

    Codes: ``malformed``; ``unknown_key`` (not signed by us); ``signature``; ``audience``
    (issued to another verifier); ``expired`` / ``not_yet_valid``.
    """
    header, claims = peek_jwt(token)
    if header.get("typ") != ACCESS_TOKEN_TYP:
        raise malformed(f"access token typ {header.get('typ')!r} is not {ACCESS_TOKEN_TYP!r}")
    holder, _ = split_did_url(key.kid)
    if header.get("kid") != key.kid or claims.get("iss") != holder:
        raise IdentityError("unknown_key", "the access token was not issued by this holder")
    verify_jws(str(token), key.key)
    if claims.get("aud") != verifier:
        raise IdentityError(
            "audience", f"the access token was issued to {claims.get('aud')!r}, not {verifier}"
        )
    scope = claims.get("scope")
    if not isinstance(scope, str):
        raise malformed("access token claim 'scope' must be a string")
    issued, expires = required_date(claims, "iat"), required_date(claims, "exp")
    check_window(now, not_before=issued, not_after=expires, leeway=leeway, what="access token")
    return AccessGrant(
        holder=holder,
        verifier=verifier,
        types=frozenset(type_of_scope(s) for s in scope.split()),
        expires_at=expires,
    )


# --- messages ----------------------------------------------------------------------------------


def _message(body: object, type_: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise malformed(f"a {type_} must be a JSON object")
    if body.get("type") != type_:
        raise malformed(f"expected a {type_}, got type {body.get('type')!r}")
    context = body.get("@context")
    if not isinstance(context, list) or DCP_CONTEXT not in context:
        raise malformed(f"a {type_} must have @context [{DCP_CONTEXT!r}]")
    return body


def presentation_query(scopes: Iterable[str] = DEFAULT_SCOPES) -> dict[str, Any]:
    """A ``PresentationQueryMessage`` asking by scope (§5.4.1)."""
    return {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": list(scopes)}


def parse_presentation_query(body: object) -> frozenset[str]:
    """The credential types a ``PresentationQueryMessage`` asks for (scope form only)."""
    message = _message(body, "PresentationQueryMessage")
    if "presentationDefinition" in message:
        raise malformed("presentationDefinition queries are not supported; query by scope")
    scopes = message.get("scope")
    if not isinstance(scopes, list) or not scopes:
        raise malformed("'scope' must be a non-empty list")
    return frozenset(type_of_scope(s) for s in scopes)


def presentation_response(presentations: Iterable[str]) -> dict[str, Any]:
    return {
        "@context": [DCP_CONTEXT],
        "type": "PresentationResponseMessage",
        "presentation": list(presentations),
    }


def parse_presentation_response(body: object) -> list[str]:
    """The ``vp+jwt`` presentations of a ``PresentationResponseMessage``."""
    message = _message(body, "PresentationResponseMessage")
    found = message.get("presentation")
    if not isinstance(found, list) or not found or not all(isinstance(p, str) for p in found):
        raise malformed("'presentation' must be a non-empty list of vp+jwt strings")
    return list(found)


def credential_request(types: Collection[str] = DEFAULT_TYPES) -> dict[str, Any]:
    """A ``CredentialRequestMessage`` (DCP 1.0 §6.4) for credential types."""
    return {
        "@context": [DCP_CONTEXT],
        "type": "CredentialRequestMessage",
        "holderPid": str(uuid.uuid4()),
        "credentials": [{"id": t} for t in types],
    }


def parse_credential_request(body: object) -> tuple[str, list[str]]:
    """``(holderPid, credential types)`` of a ``CredentialRequestMessage``."""
    message = _message(body, "CredentialRequestMessage")
    holder_pid, wanted = message.get("holderPid"), message.get("credentials")
    if not isinstance(holder_pid, str) or not holder_pid:
        raise malformed("'holderPid' must be a non-empty string")
    if not isinstance(wanted, list) or not wanted:
        raise malformed("'credentials' must be a non-empty list of {id}")
    types = []
    for entry in wanted:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            raise malformed("each entry of 'credentials' must be an object with an 'id'")
        types.append(str(entry["id"]))
    return holder_pid, types


def credential_message(
    *, holder_pid: str, issuer_pid: str, credentials: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    """A ``CredentialMessage`` (§6.5) carrying ``(type, vc+jwt)`` pairs."""
    return {
        "@context": [DCP_CONTEXT],
        "type": "CredentialMessage",
        "issuerPid": issuer_pid,
        "holderPid": holder_pid,
        "status": "ISSUED",
        "credentials": [
            {"credentialType": t, "payload": jwt, "format": "jwt"} for t, jwt in credentials
        ],
    }


def parse_credential_message(body: object) -> list[tuple[str, str]]:
    """The ``(type, vc+jwt)`` pairs of a ``CredentialMessage``."""
    message = _message(body, "CredentialMessage")
    entries = message.get("credentials")
    if not isinstance(entries, list):
        raise malformed("'credentials' must be a list")
    found = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise malformed("each credential must be an object")
        type_, payload = entry.get("credentialType"), entry.get("payload")
        if not isinstance(type_, str) or not isinstance(payload, str):
            raise malformed("each credential needs a 'credentialType' and a string 'payload'")
        if entry.get("format", "jwt") != "jwt":
            raise malformed(f"credential format {entry.get('format')!r} is not supported")
        found.append((type_, payload))
    return found
