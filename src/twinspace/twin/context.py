"""Resolving ``@context`` values for the NGSI-LD broker (the I/O adapter of ``twin.terms``).

:class:`ContextLoader` resolves context URLs: bundled documents, then a preload folder (an
``index.json`` mapping URL -> file name is required there), then hosted/cached entries, then
one HTTP fetch per URL (timeout, default 3 s). Failed fetches are remembered for
:data:`RETRY_AFTER` seconds, then tried again; nested URL references are followed up to
:data:`MAX_DEPTH` levels, cycles refused. It also keeps the ``/jsonldContexts`` entries
(Hosted, Cached, ImplicitlyCreated) in memory. Everything of ``twin.terms`` (``TermMap``,
``core_terms``, ``bundled_context``, ``parse_context_value``...) is re-exported here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from twinspace.clock import Clock, SystemClock, isoformat
from twinspace.twin.errors import NgsiError
from twinspace.twin.terms import (
    CORE_CONTEXT_URL,
    CORE_CONTEXT_URLS,
    DEFAULT_VOCAB,
    GEOJSON,
    NGSI_LD,
    SDM_CONTEXT_URL,
    TermMap,
    _bundled_raw,
    bundled_context,
    bundled_urls,
    core_terms,
    parse_context_value,
)

__all__ = [
    "CORE_CONTEXT_URL",
    "CORE_CONTEXT_URLS",
    "DEFAULT_VOCAB",
    "GEOJSON",
    "MAX_DEPTH",
    "NGSI_LD",
    "RETRY_AFTER",
    "SDM_CONTEXT_URL",
    "ContextEntry",
    "ContextLoader",
    "TermMap",
    "bundled_context",
    "bundled_urls",
    "core_terms",
    "parse_context_value",
]

MAX_DEPTH = 8
RETRY_AFTER = 30.0


@dataclass
class ContextEntry:
    """One ``@context`` the broker holds, as listed by ``GET /jsonldContexts``."""

    id: str
    url: str
    kind: str  # "Hosted" | "Cached" | "ImplicitlyCreated"
    document: Any  # the @context value: an object, a URL or an array of those
    created_at: datetime
    last_usage: datetime | None = None
    hits: int = 0

    def info(self) -> dict[str, Any]:
        """The listing entry: id, url, localId, kind, createdAt, lastUsage, numberOfHits."""
        return {
            "id": self.id,
            "url": self.url,
            "localId": self.id,
            "kind": self.kind,
            "createdAt": isoformat(self.created_at),
            "lastUsage": None if self.last_usage is None else isoformat(self.last_usage),
            "numberOfHits": self.hits,
        }


def _unavailable(url: str, why: str) -> NgsiError:
    return NgsiError("LdContextNotAvailable", f"@context {url} is not available: {why}")


def _context_of(url: str, document: Any) -> Any:
    """The @context value of a fetched or preloaded document."""
    if not isinstance(document, dict) or "@context" not in document:
        raise _unavailable(url, "not a JSON-LD document with an @context member")
    try:
        parse_context_value(document["@context"])
    except NgsiError as exc:
        raise _unavailable(url, exc.detail) from None
    return document["@context"]


_Key = tuple[str, ...] | str


class ContextLoader:
    """Resolves ``@context`` values to term maps and keeps the ``/jsonldContexts`` entries."""

    MAPS_MAX = 256
    IMPLICIT_MAX = 1000

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        preload_dir: Path | None = None,
        timeout: float = 3.0,
        clock: Clock | None = None,
        base_url: str = "http://localhost/ngsi-ld/v1/jsonldContexts",
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._clock: Clock = clock or SystemClock()
        self._base_url = base_url.rstrip("/")
        self._preload: dict[str, Path] = {}
        if preload_dir is not None:
            index_path = Path(preload_dir) / "index.json"
            try:
                index = json.loads(index_path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(
                    f"context preload folder needs a valid {index_path}: {exc}"
                ) from exc
            if not isinstance(index, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in index.items()
            ):
                raise ValueError(f"{index_path} must map URLs to file names")
            self._preload = {url: Path(preload_dir) / name for url, name in index.items()}
        self._by_id: dict[str, ContextEntry] = {}
        self._by_url: dict[str, ContextEntry] = {}
        self._failures: dict[str, tuple[datetime, str]] = {}
        self._inflight: dict[str, asyncio.Event] = {}
        self._maps: OrderedDict[_Key, TermMap] = OrderedDict()

    # -- term maps

    async def term_map(self, context: Sequence[str | dict[str, Any]]) -> TermMap:
        """The term map of an ``@context`` value (as :func:`parse_context_value` gives it)."""
        if not context:
            return core_terms()
        key = _key(context)
        cached = self._maps.get(key)
        if cached is not None:
            self._maps.move_to_end(key)
            for item in context:
                if isinstance(item, str):
                    self._touch(self._by_url.get(item))
            return cached
        terms = TermMap.build(await self._flatten(context, 0, ()))
        if isinstance(key, str):
            self._implicit(list(context), key)
        self._remember(key, terms)
        return terms

    def cached_term_map(self, context: Sequence[str | dict[str, Any]]) -> TermMap:
        """:meth:`term_map` without I/O: from the cache or from documents already held
        (bundled, preloaded, hosted, cached); LdContextNotAvailable if a URL isn't held."""
        if not context:
            return core_terms()
        key = _key(context)
        cached = self._maps.get(key)
        if cached is not None:
            return cached
        terms = TermMap.build(self._flatten_held(context, 0, ()))
        self._remember(key, terms)
        return terms

    async def _flatten(
        self, items: Sequence[str | dict[str, Any]], depth: int, stack: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, str):
                out.append(item)
            elif item not in CORE_CONTEXT_URLS:
                _check_nesting(item, depth, stack)
                inner = parse_context_value(await self.document(item))
                out.extend(await self._flatten(inner, depth + 1, (*stack, item)))
        return out

    def _flatten_held(
        self, items: Sequence[str | dict[str, Any]], depth: int, stack: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, str):
                out.append(item)
            elif item not in CORE_CONTEXT_URLS:
                _check_nesting(item, depth, stack)
                held = self._held(item)
                if held is None:
                    raise _unavailable(item, "not held yet (it has never been fetched)")
                inner = parse_context_value(held)
                out.extend(self._flatten_held(inner, depth + 1, (*stack, item)))
        return out

    def _remember(self, key: _Key, terms: TermMap) -> None:
        self._maps[key] = terms
        if len(self._maps) > self.MAPS_MAX:
            self._maps.popitem(last=False)

    # -- documents

    async def document(self, url: str) -> Any:
        """The @context value of the document at ``url``: bundled, preloaded, hosted or cached,
        else fetched (once; a failure is remembered for :data:`RETRY_AFTER` seconds)."""
        held = self._held(url)
        if held is not None:
            return held
        failure = self._failures.get(url)
        if failure is not None:
            if (self._clock.now() - failure[0]).total_seconds() < RETRY_AFTER:
                raise _unavailable(url, failure[1])
            del self._failures[url]
        pending = self._inflight.get(url)
        if pending is not None:
            await pending.wait()
            return await self.document(url)
        event = asyncio.Event()
        self._inflight[url] = event
        try:
            fetched = await self._fetch(url)
        except _FetchFailed as failed:
            self._failures[url] = (self._clock.now(), failed.reason)
            raise _unavailable(url, failed.reason) from None
        finally:
            del self._inflight[url]
            event.set()
        return self._cache(url, fetched).document

    def _held(self, url: str) -> Any:
        entry = self._by_url.get(url)
        if entry is not None:
            self._touch(entry)
            return entry.document
        bundled = _bundled_raw(url)
        if bundled is not None:
            return self._cache(url, bundled["@context"]).document
        path = self._preload.get(url)
        if path is None:
            return None
        try:
            loaded = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise _unavailable(url, f"preloaded file {path.name} unreadable ({exc})") from None
        return self._cache(url, _context_of(url, loaded)).document

    async def _fetch(self, url: str) -> Any:
        headers = {"Accept": "application/ld+json, application/json;q=0.9"}
        try:
            response = await self._client.get(
                url, headers=headers, timeout=self._timeout, follow_redirects=True
            )
        except httpx.TimeoutException:
            raise _FetchFailed(f"no answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise _FetchFailed(f"fetch failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise _FetchFailed(f"HTTP status {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise _FetchFailed("the body is not JSON") from None
        try:
            return _context_of(url, document)
        except NgsiError as exc:
            raise _FetchFailed(exc.detail.split(" is not available: ", 1)[-1]) from None

    # -- entries (/jsonldContexts)

    def add(self, context: Any) -> ContextEntry:
        """Host an @context (``POST /jsonldContexts``): its value, or a whole document with an
        ``@context`` member. The entry's URL is ``<base_url>/<id>``."""
        if isinstance(context, dict) and "@context" in context:
            context = context["@context"]
        if not isinstance(context, dict | list):
            raise NgsiError("BadRequestData", "A hosted @context must be an object or an array")
        parse_context_value(context)
        return self._register("Hosted", context)

    def entries(self, kind: str | None = None) -> list[ContextEntry]:
        """The held contexts, oldest first, optionally of one kind."""
        return [entry for entry in self._by_id.values() if kind is None or entry.kind == kind]

    def get(self, entry_id: str) -> ContextEntry | None:
        """The entry with this local id (or URL), if any."""
        return self._by_id.get(entry_id) or self._by_url.get(entry_id)

    def delete(self, entry_id: str, *, reload: bool = False) -> bool:
        """Forget an entry (by local id or URL); a cached one is fetched again on next use.
        ``reload`` applies to cached entries only (BadRequestData otherwise). False if unknown."""
        entry = self.get(entry_id)
        if entry is None:
            return False
        if reload and entry.kind != "Cached":
            raise NgsiError("BadRequestData", f"Only cached @contexts can be reloaded: {entry.url}")
        del self._by_id[entry.id]
        if self._by_url.get(entry.url) is entry:
            del self._by_url[entry.url]
        self._failures.pop(entry.url, None)
        self._maps.clear()
        return True

    def _register(
        self, kind: str, document: Any, url: str | None = None, entry_id: str = ""
    ) -> ContextEntry:
        entry_id = entry_id or uuid.uuid4().hex
        entry = ContextEntry(
            id=entry_id,
            url=url or f"{self._base_url}/{entry_id}",
            kind=kind,
            document=document,
            created_at=self._clock.now(),
        )
        self._by_id[entry_id] = entry
        self._by_url[entry.url] = entry
        return entry

    def _cache(self, url: str, document: Any) -> ContextEntry:
        entry = self._register("Cached", document, url)
        self._touch(entry)
        return entry

    def _implicit(self, context: list[str | dict[str, Any]], key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        entry = self._by_id.get(digest)
        if entry is None:
            implicit = [e for e in self._by_id.values() if e.kind == "ImplicitlyCreated"]
            if len(implicit) >= self.IMPLICIT_MAX:
                self.delete(implicit[0].id)
            entry = self._register("ImplicitlyCreated", context, entry_id=digest)
        self._touch(entry)

    def _touch(self, entry: ContextEntry | None) -> None:
        if entry is not None:
            entry.hits += 1
            entry.last_usage = self._clock.now()


class _FetchFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _key(context: Sequence[str | dict[str, Any]]) -> _Key:
    if all(isinstance(item, str) for item in context):
        return tuple(item for item in context if isinstance(item, str))
    return json.dumps(list(context), sort_keys=True, separators=(",", ":"))


def _check_nesting(url: str, depth: int, stack: tuple[str, ...]) -> None:
    if url in stack:
        raise _unavailable(url, "it includes itself (a cycle of @context references)")
    if depth >= MAX_DEPTH:
        raise _unavailable(url, f"nested deeper than {MAX_DEPTH} @context references")
