"""I/O adapters of the trust core: did:web resolution and status lists over HTTP, cached.

Async fetch into bounded TTL caches, then hand the core synchronous views::

    await prefetch_presentation(vp, resolver=dids, status_lists=lists)
    ctx = TrustContext(resolver=dids.view(), status_lists=lists.view(), clock=clock, ...)
    claims = verify_presentation(vp, ctx, caller=..., audience=...)

See docs/identity.md ("I/O adapters").
"""

from ._cache import OnUnreachable
from .prefetch import prefetch_presentation
from .resolver import MAX_DID_DOCUMENT_BYTES, CachedDidResolver, HttpDidResolver
from .status_cache import MAX_STATUS_LIST_BYTES, CachedStatusLists, StatusListCache

__all__ = [
    "MAX_DID_DOCUMENT_BYTES",
    "MAX_STATUS_LIST_BYTES",
    "CachedDidResolver",
    "CachedStatusLists",
    "HttpDidResolver",
    "OnUnreachable",
    "StatusListCache",
    "prefetch_presentation",
]
