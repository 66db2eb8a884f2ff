"""Status list credentials over HTTP with a TTL cache and a configurable degraded mode.

Same sync/async bridge as :mod:`twinspace.trust.resolver`: ``await cache.fetch(url)`` /
``await cache.prefetch(*urls)`` download, ``cache.view()`` is the synchronous
:class:`~twinspace.identity.StatusListSource` for the core. The credential is returned as the
compact ``vc+jwt`` it was served as; the core verifies signature, issuer, URL and purpose.
"""

from __future__ import annotations

import contextlib

import httpx

from twinspace.clock import Clock
from twinspace.identity import IdentityError

from ._cache import OnUnreachable, TtlCache
from ._http import FetchFailure, fetch_bytes

#: Status list credentials larger than this are refused (a 16 KiB list gzips to a few hundred
#: bytes; the core caps the decompressed list at 16 MiB).
MAX_STATUS_LIST_BYTES = 1024 * 1024


class StatusListCache:
    """Fetch status list credentials by URL, cache each for ``ttl_seconds``.

    When the issuing authority is unreachable (transport error, timeout, HTTP 5xx) and the
    cached copy has expired: ``on_unreachable="refuse"`` (default) raises
    ``IdentityError('unresolved')``; ``"stale"`` keeps using the expired copy for up to
    ``stale_grace_seconds`` after its expiry (logging a warning each time), then refuses. A
    definitive answer (404, a body that is not a JWT, too large) refuses at once and drops the
    cached copy. URLs must be ``https``; ``http`` only with ``allow_http`` and on localhost.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        ttl_seconds: float = 300,
        on_unreachable: OnUnreachable = "refuse",
        stale_grace_seconds: float = 0,
        allow_http: bool = False,
        timeout: float = 5.0,
        max_bytes: int = MAX_STATUS_LIST_BYTES,
        max_entries: int = 1024,
    ) -> None:
        self._client = client
        self._allow_http = allow_http
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._cache: TtlCache[str] = TtlCache(
            clock,
            what="status list",
            ttl_seconds=ttl_seconds,
            on_unreachable=on_unreachable,
            stale_grace_seconds=stale_grace_seconds,
            max_entries=max_entries,
        )

    async def fetch(self, url: str) -> str:
        """The status list credential (compact JWT) at ``url``, or ``IdentityError``."""
        return await self._cache.get(url, lambda: self._load(url))

    async def prefetch(self, *urls: str) -> None:
        """Fill the cache; failures are remembered for the view rather than raised."""
        for url in urls:
            with contextlib.suppress(IdentityError):
                await self.fetch(url)

    def view(self) -> CachedStatusLists:
        """A synchronous :class:`~twinspace.identity.StatusListSource` over the cache."""
        return CachedStatusLists(self._cache)

    async def _load(self, url: str) -> str:
        body = await fetch_bytes(
            self._client,
            url,
            allow_http=self._allow_http,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
            accept="application/vc+jwt, application/jwt",
        )
        try:
            token = body.decode("ascii").strip()
        except UnicodeDecodeError:
            token = ""
        if token.count(".") != 2 or any(c.isspace() for c in token):
            raise FetchFailure(f"{url}: response is not a compact vc+jwt", unreachable=False)
        return token


class CachedStatusLists:
    """The synchronous ``StatusListSource`` handed to the core: cache only, no I/O."""

    def __init__(self, cache: TtlCache[str]) -> None:
        self._cache = cache

    def fetch(self, url: str) -> str:
        return self._cache.usable(url)
