"""Find and fetch everything the core will ask for while verifying a presentation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from twinspace.identity import IdentityError, split_did_url
from twinspace.identity.keys import peek_jwt

from .resolver import HttpDidResolver
from .status_cache import StatusListCache

_DATA_URL_PREFIXES = ("data:application/vc+jwt,", "data:application/vc+ld+json+jwt,")


def _signer(token: object) -> tuple[str | None, dict[str, Any]]:
    """The DID of the ``kid`` of an (unverified) JWT, and its claims; (None, {}) if unreadable."""
    try:
        header, claims = peek_jwt(token)
        return split_did_url(header["kid"])[0], claims
    except IdentityError:
        return None, {}


def _credentials(claims: Mapping[str, Any]) -> list[str]:
    entries = claims.get("verifiableCredential", [])
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            found.append(entry)
        elif isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            for prefix in _DATA_URL_PREFIXES:
                if entry["id"].startswith(prefix):
                    found.append(entry["id"][len(prefix) :])
    return found


def _status_urls(claims: Mapping[str, Any]) -> list[str]:
    status = claims.get("credentialStatus", [])
    entries = status if isinstance(status, list) else [status]
    return [
        e["statusListCredential"]
        for e in entries
        if isinstance(e, Mapping) and isinstance(e.get("statusListCredential"), str)
    ]


async def prefetch_presentation(
    token: object,
    *,
    resolver: HttpDidResolver,
    status_lists: StatusListCache,
    also: Iterable[str] = (),
) -> None:
    """Fetch (into the adapters' caches) the DID documents and status lists that verifying the
    ``vp+jwt`` ``token`` needs: the holder's, each enclosed credential's issuer, each status
    list credential and its issuer, plus the DIDs in ``also``. Nothing here is trusted: it only
    reads unverified ``kid``s and URLs, and fetch failures are left for the core to report
    (through the views) in its own order of checks."""
    dids: list[str] = list(also)
    holder, claims = _signer(token)
    if holder is not None:
        dids.append(holder)
    urls: list[str] = []
    for credential in _credentials(claims):
        issuer, vc_claims = _signer(credential)
        if issuer is not None:
            dids.append(issuer)
        urls.extend(_status_urls(vc_claims))
    for url in dict.fromkeys(urls):
        try:
            list_issuer, _ = _signer(await status_lists.fetch(url))
        except IdentityError:
            continue
        if list_issuer is not None:
            dids.append(list_issuer)
    await resolver.prefetch(*dict.fromkeys(dids))
