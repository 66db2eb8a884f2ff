"""did:web resolution over HTTP with a bounded TTL cache (the I/O half of ``DidResolver``).

Sync/async bridge: the core's :class:`~twinspace.identity.DidResolver` is synchronous (the
verifiers are pure functions), while fetching is async. So fetching and verifying are two steps:

1. ``await resolver.resolve(did)`` / ``await resolver.prefetch(*dids)`` fetch what is missing or
   expired and fill the cache (:func:`twinspace.trust.prefetch_presentation` finds every DID a
   presentation needs);
2. ``resolver.view()`` is a synchronous ``DidResolver`` over that cache for a
   :class:`~twinspace.identity.TrustContext`: it never does I/O, serves cached documents still
   within their lifetime, and otherwise raises ``unresolved`` with the last fetch failure.

The view reads the live cache (it is not a copy), so one view can sit in a long-lived context.
"""

from __future__ import annotations

import contextlib
import json
from urllib.parse import urlsplit

import httpx

from twinspace.clock import Clock
from twinspace.identity import DidDocument, IdentityError, did_web_to_url, parse_did_document

from ._cache import OnUnreachable, TtlCache
from ._http import LOCAL_HOSTS, FetchFailure, fetch_bytes

#: did.json documents larger than this are refused.
MAX_DID_DOCUMENT_BYTES = 256 * 1024


class HttpDidResolver:
    """Fetch did:web documents (did:web §3.2) with ``client``, validate them with the core,
    cache each for ``ttl_seconds`` (at most ``max_entries``, least recently used evicted).

    Always ``https``; ``allow_http`` (development only, off by default) switches DIDs on
    ``localhost`` / ``127.0.0.1`` to plain ``http``, never any other host. Every failure
    (unreachable, non-200, not JSON, larger than ``max_bytes``, document ``id`` other than the
    DID, invalid document) is ``IdentityError('unresolved')`` naming the URL and the reason.
    ``on_unreachable="stale"`` keeps an expired document for ``stale_grace_seconds`` while the
    host is unreachable (transport error, timeout, 5xx); the default refuses.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        ttl_seconds: float = 300,
        allow_http: bool = False,
        timeout: float = 5.0,
        on_unreachable: OnUnreachable = "refuse",
        stale_grace_seconds: float = 0,
        max_bytes: int = MAX_DID_DOCUMENT_BYTES,
        max_entries: int = 1024,
    ) -> None:
        self._client = client
        self._allow_http = allow_http
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._cache: TtlCache[DidDocument] = TtlCache(
            clock,
            what="DID",
            ttl_seconds=ttl_seconds,
            on_unreachable=on_unreachable,
            stale_grace_seconds=stale_grace_seconds,
            max_entries=max_entries,
        )

    def url_for(self, did: str) -> str:
        """The document URL: ``https``, or ``http`` for a local host when ``allow_http``."""
        url = did_web_to_url(did)
        if self._allow_http and urlsplit(url).hostname in LOCAL_HOSTS:
            url = "http://" + url[len("https://") :]
        return url

    async def resolve(self, did: str) -> DidDocument:
        """The (cached or freshly fetched) document of ``did``, or ``IdentityError``."""
        url = self.url_for(did)  # a bad DID is `malformed`, and is not cached
        return await self._cache.get(did, lambda: self._load(did, url))

    async def prefetch(self, *dids: str) -> None:
        """Fill the cache for ``dids``; failures are not raised here but remembered, and the
        view raises them when the core asks for that DID."""
        for did in dids:
            with contextlib.suppress(IdentityError):
                await self.resolve(did)

    def invalidate(self, did: str) -> None:
        """Forget ``did`` (e.g. to refetch after an ``unknown_key`` during a key rotation)."""
        self._cache.drop(did)

    def view(self) -> CachedDidResolver:
        """A synchronous :class:`~twinspace.identity.DidResolver` over the cache."""
        return CachedDidResolver(self._cache)

    async def _load(self, did: str, url: str) -> DidDocument:
        body = await fetch_bytes(
            self._client,
            url,
            allow_http=self._allow_http,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
            accept="application/did+json, application/json",
        )
        try:
            data = json.loads(body)
        except ValueError:  # includes UnicodeDecodeError
            raise FetchFailure(f"{url}: response is not JSON", unreachable=False) from None
        found = data.get("id") if isinstance(data, dict) else None
        if found != did:
            raise FetchFailure(
                f"{url}: DID document id {found!r} is not {did!r}", unreachable=False
            )
        try:
            return parse_did_document(data, expected_did=did)
        except IdentityError as exc:
            raise FetchFailure(
                f"{url}: invalid DID document: {exc.message}", unreachable=False
            ) from None


class CachedDidResolver:
    """The synchronous ``DidResolver`` handed to the core: cache only, no I/O."""

    def __init__(self, cache: TtlCache[DidDocument]) -> None:
        self._cache = cache

    def resolve(self, did: str) -> DidDocument:
        return self._cache.usable(did)
