"""Asset sources: open the data an asset's (EDC-like) data address points at, as a byte stream.

Supported ``type`` values:

``File``
    ``{"type": "File", "path": "/abs/file.csv", "contentType": "text/csv"}``; read in chunks, its
    size known up front.
``HttpData``
    ``{"type": "HttpData", "baseUrl": "http://backend/x", "proxyPath": "true",
    "proxyQueryParams": "true", "authKey": "X-Api-Key", "authCode": "secret"}``; a proxied ``GET``
    whose body is streamed through as it arrives (it may be endless).

Other types are served by extensions registered on the connector (``Connector.sources``, a
``SourceOpener`` per lower-case type), e.g. ``NgsiLdQuery`` by ``twinspace.twin.dataspace``.

Nothing is ever read into memory whole: a source yields chunks of at most ``chunk_size`` bytes.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

CHUNK_SIZE = 256 * 1024
SUPPORTED_TYPES = ("File", "HttpData")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_EXCERPT = 200


class SourceError(Exception):
    """The source cannot be read; ``status`` is the backend's HTTP status when it answered one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


async def _nothing() -> None:
    return None


@dataclass
class SourceStream:
    """An opened source: iterate ``chunks`` once, then ``aclose`` (or use ``async with``)."""

    chunks: AsyncIterator[bytes]
    content_type: str
    size: int | None = None
    closer: Callable[[], Awaitable[None]] = field(default=_nothing, repr=False)
    #: Extra response headers of a pull (e.g. the JSON-LD context ``Link`` of twin data).
    headers: dict[str, str] = field(default_factory=dict)

    async def aclose(self) -> None:
        await self.closer()

    async def __aenter__(self) -> SourceStream:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


#: Opens an extension source: (the asset's data address, the asset id, the request's query).
SourceOpener = Callable[[Mapping[str, Any], str, str], Awaitable[SourceStream]]


async def _pieces(parts: AsyncIterator[bytes], chunk_size: int) -> AsyncIterator[bytes]:
    async for part in parts:
        for start in range(0, len(part), chunk_size):
            yield part[start : start + chunk_size]


def generated(
    parts: AsyncIterator[bytes],
    content_type: str,
    *,
    headers: dict[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> SourceStream:
    """A source produced piece by piece (each cut to ``chunk_size``), size unknown."""
    return SourceStream(
        chunks=_pieces(parts, chunk_size), content_type=content_type, headers=dict(headers or {})
    )


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _content_type(address: Mapping[str, Any], fallback: str | None) -> str:
    declared = address.get("contentType")
    if isinstance(declared, str) and declared:
        return declared
    return fallback or DEFAULT_CONTENT_TYPE


def source_type(address: Mapping[str, Any]) -> str:
    """The address's ``type`` (EDC also writes it as ``@type`` or in its own namespace)."""
    for key in ("type", "@type", "https://w3id.org/edc/v0.0.1/ns/type"):
        value = address.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


# --- File -----------------------------------------------------------------------------------------


async def _read_file(handle: BinaryIO, size: int, chunk_size: int) -> AsyncGenerator[bytes, None]:
    """At most ``size`` bytes (the size announced), so a growing file never overruns it."""
    left = size
    try:
        while left > 0:
            chunk = await asyncio.to_thread(handle.read, min(chunk_size, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()


async def open_file(address: Mapping[str, Any], chunk_size: int = CHUNK_SIZE) -> SourceStream:
    raw = address.get("path")
    if not isinstance(raw, str) or not raw:
        raise SourceError("a File data address needs a 'path'")
    path = Path(raw)
    if not path.is_absolute():
        raise SourceError(f"the File data address path {raw!r} is not absolute")
    try:
        handle = await asyncio.to_thread(path.open, "rb")
    except FileNotFoundError as exc:
        raise SourceError(f"the asset's file {raw!r} does not exist") from exc
    except IsADirectoryError as exc:
        raise SourceError(f"the asset's path {raw!r} is a directory, not a file") from exc
    except OSError as exc:
        raise SourceError(f"the asset's file {raw!r} cannot be opened: {exc.strerror}") from exc
    size = os.fstat(handle.fileno()).st_size
    chunks = _read_file(handle, size, chunk_size)

    async def close() -> None:
        await chunks.aclose()
        handle.close()  # also when the chunks were never iterated

    guessed, _ = mimetypes.guess_type(path.name)
    return SourceStream(
        chunks=chunks, content_type=_content_type(address, guessed), size=size, closer=close
    )


# --- HttpData -------------------------------------------------------------------------------------


def backend_url(address: Mapping[str, Any], sub_path: str = "", query: str = "") -> httpx.URL:
    """The backend URL for a request: ``baseUrl`` plus ``path``, sub-path and query as allowed."""
    base = address.get("baseUrl")
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise SourceError("an HttpData data address needs an http(s) 'baseUrl'")
    url = base
    for part in (address.get("path"), sub_path if _truthy(address.get("proxyPath")) else ""):
        if isinstance(part, str) and part.strip("/"):
            url = url.rstrip("/") + "/" + part.lstrip("/")
    fixed = address.get("queryParams")
    queries = [fixed.lstrip("?")] if isinstance(fixed, str) and fixed.lstrip("?") else []
    if query and _truthy(address.get("proxyQueryParams")):
        queries.append(query.lstrip("?"))
    if queries:
        url += ("&" if "?" in url else "?") + "&".join(queries)
    return httpx.URL(url)


def _auth_headers(address: Mapping[str, Any]) -> dict[str, str]:
    key, code = address.get("authKey"), address.get("authCode")
    if isinstance(code, str) and code:
        return {key if isinstance(key, str) and key else "Authorization": code}
    return {}


async def open_http(
    address: Mapping[str, Any],
    client: httpx.AsyncClient,
    *,
    sub_path: str = "",
    query: str = "",
    chunk_size: int = CHUNK_SIZE,
) -> SourceStream:
    url = backend_url(address, sub_path, query)
    request = client.build_request("GET", url, headers=_auth_headers(address))
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise SourceError(f"the backend {url} cannot be reached: {exc}") from exc
    if not response.is_success:
        try:
            excerpt = (await response.aread())[:_EXCERPT].decode(errors="replace").strip()
        except httpx.HTTPError:
            excerpt = ""
        finally:
            await response.aclose()
        detail = f": {excerpt}" if excerpt else ""
        raise SourceError(
            f"the backend {url} answered {response.status_code}{detail}",
            status=response.status_code,
        )
    size = None
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and "content-encoding" not in response.headers:
        size = int(length)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            # as they arrive (aiter_bytes(n) would hold a live stream back until n bytes came)
            async for chunk in response.aiter_bytes():
                for start in range(0, len(chunk), chunk_size):
                    yield chunk[start : start + chunk_size]
        except httpx.HTTPError as exc:
            raise SourceError(f"reading from the backend {url} failed: {exc}") from exc
        finally:
            await response.aclose()

    return SourceStream(
        chunks=chunks(),
        content_type=_content_type(address, response.headers.get("content-type")),
        size=size,
        closer=response.aclose,
    )


# --- dispatch -------------------------------------------------------------------------------------


async def open_source(
    address: Mapping[str, Any],
    *,
    client: httpx.AsyncClient | None = None,
    sub_path: str = "",
    query: str = "",
    chunk_size: int = CHUNK_SIZE,
    extensions: Mapping[str, SourceOpener] | None = None,
    asset_id: str = "",
) -> SourceStream:
    """Open the source ``address`` describes; raises SourceError when it cannot be read.
    ``extensions``: openers of further types (``asset_id``: the asset they serve)."""
    kind = source_type(address)
    opener = (extensions or {}).get(kind.lower())
    if opener is not None:
        return await opener(address, asset_id, query)
    if kind.lower() == "file":
        return await open_file(address, chunk_size)
    if kind.lower() == "httpdata":
        if client is None:
            raise SourceError("an HttpData source needs an HTTP client")
        return await open_http(
            address, client, sub_path=sub_path, query=query, chunk_size=chunk_size
        )
    shown = repr(kind) if kind else "no type"
    raise SourceError(
        f"unsupported data address type ({shown}); supported types: {', '.join(SUPPORTED_TYPES)}"
    )
