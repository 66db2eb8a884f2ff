"""W3C VC Data Model 2.0 credentials secured with JOSE (VC-JOSE-COSE 1.0 §3.1.1): issue, verify.

The JWT payload *is* the credential (VC-JOSE-COSE §3.1.1), header ``typ: vc+jwt`` (the older
``vc+ld+json+jwt`` is accepted on verification), ``kid`` = DID URL of an ``assertionMethod`` of
the issuer. Verification order: structure (VC DM 2.0 §4), trust list, signature, validity period
(§4.9), status (Bitstring Status List §3.2), subject binding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._time import check_window, format_datetime, numeric_date, parse_datetime
from .context import TrustContext, verify_signed_jwt
from .did import split_did_url
from .errors import IdentityError, malformed
from .keys import SigningKey, peek_jwt, sign_jwt
from .status_list import VC_CONTEXT, StatusList, parse_status_entry

VC_TYP = "vc+jwt"
VC_TYPS = frozenset({VC_TYP, "vc+ld+json+jwt"})
MEMBERSHIP = "MembershipCredential"
LEGAL_PARTICIPANT = "LegalParticipantCredential"
STATUS_LIST = "BitstringStatusListCredential"
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class VerifiedCredential:
    """A credential that passed :func:`verify_credential`."""

    id: str | None
    types: frozenset[str]
    issuer: str
    subject_id: str | None
    subject: Mapping[str, Any]
    valid_from: datetime | None
    valid_until: datetime | None
    claims: Mapping[str, Any]


def _issuer_id(credential: Mapping[str, Any]) -> str:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer.startswith("did:"):
        raise malformed("credential 'issuer' must be a DID (or an object with a DID 'id')")
    return issuer


def _parse(credential: Mapping[str, Any]) -> VerifiedCredential:
    """Structural checks of VC DM 2.0 §4.1 (@context), §4.4 (type), §4.7 (issuer),
    §4.8 (credentialSubject), §4.9 (validity period)."""
    context = credential.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT:
        raise malformed(f"credential @context must be a list starting with {VC_CONTEXT}")
    types = credential.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise malformed("credential 'type' must be a list containing VerifiableCredential")
    if not all(isinstance(t, str) for t in types):
        raise malformed("credential 'type' entries must be strings")
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    if not isinstance(subject, Mapping):
        raise malformed("credentialSubject must be one object")
    subject_id = subject.get("id")
    if subject_id is not None and not isinstance(subject_id, str):
        raise malformed("credentialSubject.id must be a string")
    cred_id = credential.get("id")
    if cred_id is not None and not isinstance(cred_id, str):
        raise malformed("credential 'id' must be a string")
    valid_from, valid_until = (
        None if credential.get(n) is None else parse_datetime(credential[n], n)
        for n in ("validFrom", "validUntil")
    )
    return VerifiedCredential(
        id=cred_id,
        types=frozenset(types),
        issuer=_issuer_id(credential),
        subject_id=subject_id,
        subject=dict(subject),
        valid_from=valid_from,
        valid_until=valid_until,
        claims=dict(credential),
    )


def issue_credential(credential: Mapping[str, Any], key: SigningKey) -> str:
    """Sign an unsecured credential as a ``vc+jwt``; the key must belong to the issuer."""
    parsed = _parse(credential)
    if split_did_url(key.kid)[0] != parsed.issuer:
        raise IdentityError("issuer_mismatch", f"{key.kid!r} is not a key of {parsed.issuer}")
    claims = dict(credential)
    claims["iss"] = parsed.issuer
    if parsed.subject_id is not None:
        claims["sub"] = parsed.subject_id
    if parsed.id is not None:
        claims["jti"] = parsed.id
    return sign_jwt(claims, key, typ=VC_TYP)


def verify_credential(
    token: object, ctx: TrustContext, *, expected_subject: str | None = None
) -> VerifiedCredential:
    """Verify a ``vc+jwt``. Codes: ``malformed``, ``untrusted_issuer``, ``issuer_mismatch``,
    ``unknown_key``/``key_retired``/``signature``, ``not_yet_valid``/``expired``,
    ``revoked``/``suspended``, ``holder_mismatch`` (subject id != ``expected_subject``)."""
    credential = _verify_secured(token, ctx)
    for entry in _status_entries(credential.claims):
        _check_status(entry, credential.issuer, ctx)
    if expected_subject is not None and credential.subject_id != expected_subject:
        raise IdentityError(
            "holder_mismatch",
            f"credential subject {credential.subject_id!r} is not {expected_subject!r}",
        )
    return credential


def _verify_secured(token: object, ctx: TrustContext) -> VerifiedCredential:
    header, claims = peek_jwt(token)
    if header.get("typ") not in VC_TYPS:
        raise malformed(f"credential typ {header.get('typ')!r} is not one of {sorted(VC_TYPS)}")
    credential = _parse(claims)
    if "iss" in claims and claims["iss"] != credential.issuer:
        raise IdentityError("issuer_mismatch", "JWT 'iss' differs from the credential issuer")
    if "sub" in claims and claims["sub"] != credential.subject_id:
        raise IdentityError("holder_mismatch", "JWT 'sub' differs from credentialSubject.id")
    if credential.issuer not in ctx.trusted_issuers:
        raise IdentityError("untrusted_issuer", f"{credential.issuer} is not a trusted issuer")
    verify_signed_jwt(token, ctx, typs=VC_TYPS, purpose="assertionMethod", signer=credential.issuer)
    for start, end in (
        (credential.valid_from, credential.valid_until),
        (numeric_date(claims, "nbf", required=False), numeric_date(claims, "exp", required=False)),
    ):
        check_window(
            ctx.now(), not_before=start, not_after=end, leeway=ctx.leeway, what="credential"
        )
    return credential


def _status_entries(claims: Mapping[str, Any]) -> Sequence[object]:
    status = claims.get("credentialStatus")
    if status is None:
        return []
    return status if isinstance(status, list) else [status]


def check_status(credential: VerifiedCredential, ctx: TrustContext) -> None:
    """Check again only the status list entries of an already verified credential (``revoked``,
    ``suspended``, or the codes of fetching the list): cheap enough for every call while the
    rest of a presentation is reused from a cache."""
    for entry in _status_entries(credential.claims):
        _check_status(entry, credential.issuer, ctx)


def _check_status(entry: object, issuer: str, ctx: TrustContext) -> None:
    """Bitstring Status List §3.2: the list credential must verify, come from the same issuer,
    have the same purpose, and the bit at the index must be clear."""
    url, index, purpose = parse_status_entry(entry)
    try:
        listing = _verify_secured(ctx.status_lists.fetch(url), ctx)
    except IdentityError as exc:
        raise IdentityError(exc.code, f"status list {url}: {exc.message}") from None
    subject = listing.subject
    if STATUS_LIST not in listing.types or subject.get("type") != "BitstringStatusList":
        raise malformed(f"{url} is not a BitstringStatusListCredential")
    if listing.issuer != issuer or listing.id not in (None, url):
        raise IdentityError(
            "issuer_mismatch", f"status list {url} is not {issuer}'s list at that URL"
        )
    if subject.get("statusPurpose") != purpose:
        raise malformed(f"status list {url} has purpose {subject.get('statusPurpose')!r}")
    if StatusList.decode(subject.get("encodedList")).get(index):
        raise IdentityError(
            "revoked" if purpose == "revocation" else "suspended",
            f"credential is {'revoked' if purpose == 'revocation' else 'suspended'} ({url} #{index})",
        )


def _envelope(
    *,
    issuer: str,
    subject: Mapping[str, Any],
    extra_type: str,
    valid_from: datetime,
    valid_until: datetime | None,
    credential_id: str | None,
    status: Mapping[str, Any] | None,
) -> dict[str, Any]:
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "type": ["VerifiableCredential", extra_type],
    }
    if credential_id is not None:
        credential["id"] = credential_id
    credential["issuer"] = issuer
    credential["validFrom"] = format_datetime(valid_from)
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    credential["credentialSubject"] = dict(subject)
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


def membership_credential(
    *,
    issuer: str,
    subject: str,
    member_of: str,
    roles: Sequence[str] = (),
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_id: str | None = None,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsecured ``MembershipCredential``: ``subject`` is a member of data space
    ``member_of`` with ``roles`` (our vocabulary, e.g. ``provider``, ``consumer``)."""
    body = {"id": subject, "type": "Membership", "memberOf": member_of, "roles": list(roles)}
    return _envelope(
        issuer=issuer, subject=body, extra_type=MEMBERSHIP, valid_from=valid_from,
        valid_until=valid_until, credential_id=credential_id, status=status,
    )  # fmt: skip


def legal_participant_credential(
    *,
    issuer: str,
    subject: str,
    legal_name: str,
    registration_number: str,
    country: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_id: str | None = None,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsecured Gaia-X style ``LegalParticipantCredential``; ``country`` is ISO 3166-1
    alpha-2 (e.g. ``FR``)."""
    if not legal_name.strip() or not registration_number.strip():
        raise malformed("legal name and registration number must not be empty")
    if not _COUNTRY.match(country):
        raise malformed(f"country {country!r} is not an ISO 3166-1 alpha-2 code")
    body = {
        "id": subject,
        "type": "LegalParticipant",
        "legalName": legal_name,
        "registrationNumber": registration_number,
        "country": country,
    }
    return _envelope(
        issuer=issuer, subject=body, extra_type=LEGAL_PARTICIPANT, valid_from=valid_from,
        valid_until=valid_until, credential_id=credential_id, status=status,
    )  # fmt: skip
