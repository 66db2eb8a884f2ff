"""JSON in and out of the authority's API: reading request bodies safely, member JSON, and the
DID in an admin path (raw or percent-encoded)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from fastapi import Request

from twinspace.clock import isoformat
from twinspace.store import Member

from .errors import AuthorityError

#: Largest request body accepted (a CredentialRequestMessage or an onboarding is far smaller).
MAX_BODY_BYTES = 64 * 1024


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """The JSON body, or ``bad_request``; with ``optional`` an empty body is ``None``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise AuthorityError("bad_request", f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise AuthorityError("bad_request", f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        if optional:
            return None
        raise AuthorityError("bad_request", "the body is empty; a JSON object is expected")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise AuthorityError("bad_request", "the body is not valid JSON") from None


def member_view(member: Member) -> dict[str, Any]:
    return {
        "did": member.did,
        "legalName": member.legal_name,
        "registrationNumber": member.registration_number,
        "country": member.country,
        "roles": list(member.roles),
        "securityLevel": member.security_level,
        "status": member.status,
        "statusIndex": member.status_index,
        "reason": member.reason,
        "onboardedAt": isoformat(member.onboarded_at),
        "updatedAt": isoformat(member.updated_at),
    }


def did_candidates(request: Request, decoded: str, marker: str, suffix: str = "") -> list[str]:
    """The DIDs an admin path may mean, most likely first.

    A did:web DID contains ``%3A`` (the port separator). A client that encodes the DID as a
    path segment sends ``%253A``: decoded once, that is the DID. A client that pastes the DID
    as it is sends ``%3A``, which the server decodes to ``:`` (another, valid, DID): the raw
    path still has it right. ``decoded`` is the path parameter, ``marker`` the path part
    before the DID and ``suffix`` the part after it.
    """
    candidates: list[str] = []
    raw_path = request.scope.get("raw_path")
    if isinstance(raw_path, bytes | bytearray):
        raw = bytes(raw_path).decode("latin-1")
        at = raw.find(marker)
        if at >= 0:
            raw = raw[at + len(marker) :]
            if suffix and raw.endswith(suffix):
                raw = raw[: -len(suffix)]
            if "%25" not in raw and raw.startswith("did:"):
                candidates.append(raw)  # pasted as is: keep its %3A
            candidates.append(unquote(raw))
    candidates.append(decoded)
    return list(dict.fromkeys(candidates))
