"""What a verifier needs, injected: resolvers (already-fetched documents), clock, trust list.

The core never fetches: a :class:`DidResolver` hands over parsed DID documents and a
:class:`StatusListSource` hands over status list credentials (compact JWTs). The I/O adapters
(HTTP did:web fetch with caching, status list download) implement these protocols later; tests
use the in-memory ones here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from twinspace.clock import Clock

from .did import DidDocument, Purpose, parse_did_document, split_did_url
from .errors import IdentityError
from .keys import peek_jwt, verify_jws


class DidResolver(Protocol):
    def resolve(self, did: str) -> DidDocument:
        """The DID document of ``did``, or ``IdentityError('unresolved')``."""
        ...


class StatusListSource(Protocol):
    def fetch(self, url: str) -> str:
        """The status list credential (a ``vc+jwt``) at ``url``, or ``IdentityError('unresolved')``."""
        ...


class InMemoryDidResolver:
    """DID documents held in memory (tests, and a cache adapter's backing store)."""

    def __init__(self, documents: Iterable[Mapping[str, Any]] = ()) -> None:
        self._documents: dict[str, DidDocument] = {}
        for document in documents:
            self.publish(document)

    def publish(self, document: Mapping[str, Any]) -> DidDocument:
        """Validate and store (or replace: a rotation) a DID document under its ``id``."""
        did = document.get("id")
        parsed = parse_did_document(document, expected_did=did if isinstance(did, str) else "")
        self._documents[parsed.id] = parsed
        return parsed

    def resolve(self, did: str) -> DidDocument:
        try:
            return self._documents[did]
        except KeyError:
            raise IdentityError("unresolved", f"no DID document for {did}") from None


class InMemoryStatusLists:
    def __init__(self) -> None:
        self._lists: dict[str, str] = {}

    def put(self, url: str, credential_jwt: str) -> None:
        self._lists[url] = credential_jwt

    def fetch(self, url: str) -> str:
        try:
            return self._lists[url]
        except KeyError:
            raise IdentityError("unresolved", f"no status list credential at {url}") from None


@dataclass(frozen=True)
class TrustContext:
    """Everything a verification depends on besides the artefact itself.

    ``trusted_issuers``: DIDs of the governance authorities whose credentials count.
    ``leeway``: clock skew tolerated on every time check. ``retired_keys``: kid -> cut-over time,
    for rotations learnt out of band (in addition to ``expires`` in DID documents).
    """

    resolver: DidResolver
    clock: Clock
    trusted_issuers: frozenset[str] = frozenset()
    status_lists: StatusListSource = field(default_factory=InMemoryStatusLists)
    leeway: timedelta = timedelta(seconds=30)
    retired_keys: Mapping[str, datetime] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()


@dataclass(frozen=True)
class SignedJwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    signer: str  # the DID whose key signed
    kid: str


def verify_signed_jwt(
    token: object,
    ctx: TrustContext,
    *,
    typs: Collection[str] | None,
    purpose: Purpose,
    signer: str | None = None,
) -> SignedJwt:
    """Parse ``token``, find its ``kid`` in the signer's DID document (for ``purpose``, not
    retired) and check the signature. ``signer``, when given, is the DID that must have signed
    (the ``kid``'s DID must equal it: ``issuer_mismatch`` otherwise)."""
    header, claims = peek_jwt(token)
    if typs is not None and header.get("typ") not in typs:
        raise IdentityError("malformed", f"typ {header.get('typ')!r} is not one of {sorted(typs)}")
    kid = header["kid"]
    did, _ = split_did_url(kid)
    if signer is not None and did != signer:
        raise IdentityError(
            "issuer_mismatch", f"signed with {kid!r}, a key of another DID than {signer}"
        )
    key = ctx.resolver.resolve(did).find_key(
        kid, purpose=purpose, at=ctx.now(), retired=ctx.retired_keys
    )
    verify_jws(cast(str, token), key)  # peek_jwt refused anything but a string
    return SignedJwt(header=header, claims=claims, signer=did, kid=kid)
