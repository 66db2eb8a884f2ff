"""Asset sources on their own: File chunking and errors, HttpData proxying, unknown types."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.dataplane.backend import CSV, STREAM_PARTS, backend_app

from twinspace.dataplane import SUPPORTED_TYPES, SourceError, open_source
from twinspace.dataplane.sources import CHUNK_SIZE, backend_url


async def collect(address: Mapping[str, Any], **kw: Any) -> tuple[list[bytes], str, int | None]:
    async with await open_source(address, **kw) as source:
        chunks = [c async for c in source.chunks]
        return chunks, source.content_type, source.size


async def test_file_streams_in_chunks_and_knows_its_size(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE * 2 + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    chunks, ctype, size = await collect({"type": "File", "path": str(path)})
    assert size == len(data)
    assert len(chunks) == 3 and all(len(c) <= CHUNK_SIZE for c in chunks)
    assert b"".join(chunks) == data
    assert ctype == "application/octet-stream"


async def test_file_chunk_size_and_content_type(tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_text("a,b\n" * 10)
    chunks, ctype, size = await collect({"type": "File", "path": str(path)}, chunk_size=7)
    assert [len(c) for c in chunks] == [7] * 5 + [5]
    assert ctype == "text/csv" and size == 40
    declared = {"type": "File", "path": str(path), "contentType": "application/x-counts"}
    assert (await collect(declared))[1] == "application/x-counts"


async def test_file_never_reads_past_the_announced_size(tmp_path: Path) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(b"x" * 10)
    async with await open_source({"type": "File", "path": str(path)}, chunk_size=4) as source:
        first = await anext(source.chunks)
        with path.open("ab") as f:
            f.write(b"y" * 100)
        rest = [c async for c in source.chunks]
    assert source.size == 10 and len(first + b"".join(rest)) == 10


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ({"type": "File", "path": "/no/such/file.csv"}, "'/no/such/file.csv' does not exist"),
        ({"type": "File", "path": "relative.csv"}, "is not absolute"),
        ({"type": "File"}, "needs a 'path'"),
    ],
)
async def test_file_errors_are_clear(address: dict[str, object], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        await open_source(address)


async def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a directory"):
        await open_source({"type": "File", "path": str(tmp_path)})


@pytest.mark.parametrize(
    ("address", "shown"),
    [({"type": "AmazonS3", "bucket": "b"}, "'AmazonS3'"), ({"path": "/x"}, "no type")],
)
async def test_unknown_type_names_the_supported_ones(
    address: dict[str, object], shown: str
) -> None:
    with pytest.raises(SourceError) as caught:
        await open_source(address)
    assert shown in str(caught.value)
    assert all(t in str(caught.value) for t in SUPPORTED_TYPES)


def test_backend_url_proxies_only_what_is_allowed() -> None:
    base = {"type": "HttpData", "baseUrl": "http://b.test/api/"}
    assert str(backend_url(base, "x/y", "q=1")) == "http://b.test/api/"
    proxied = {**base, "proxyPath": "true", "proxyQueryParams": "true"}
    assert str(backend_url(proxied, "x/y", "q=1")) == "http://b.test/api/x/y?q=1"
    fixed = {**proxied, "path": "v1", "queryParams": "fmt=csv"}
    assert str(backend_url(fixed, "x", "q=1")) == "http://b.test/api/v1/x?fmt=csv&q=1"
    with pytest.raises(SourceError, match="baseUrl"):
        backend_url({"type": "HttpData", "baseUrl": "ftp://b.test"})


@pytest.fixture
async def backend() -> httpx.AsyncClient:
    app, _ = backend_app()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


async def test_http_source_streams_the_backend_body(backend: httpx.AsyncClient) -> None:
    address = {"type": "HttpData", "baseUrl": "http://backend.test/counts.csv"}
    chunks, ctype, size = await collect(address, client=backend)
    assert b"".join(chunks).decode() == CSV
    assert ctype.startswith("text/csv") and size == len(CSV)

    chunked = {"type": "HttpData", "baseUrl": "http://backend.test/stream"}
    chunks, ctype, size = await collect(chunked, client=backend, chunk_size=100)
    assert b"".join(chunks) == b"".join(STREAM_PARTS)
    assert size is None and len(chunks) > 1 and ctype == "application/x-ndjson"


async def test_http_source_sends_the_auth_key(backend: httpx.AsyncClient) -> None:
    address = {"type": "HttpData", "baseUrl": "http://backend.test/secret"}
    with pytest.raises(SourceError, match="answered 401: no key") as caught:
        await open_source(address, client=backend)
    assert caught.value.status == 401
    keyed = {**address, "authKey": "X-Api-Key", "authCode": "s3cret"}
    assert b"".join((await collect(keyed, client=backend))[0]) == b"classified"


async def test_http_source_passes_backend_errors_with_status(backend: httpx.AsyncClient) -> None:
    with pytest.raises(SourceError, match="answered 503: backend is down") as caught:
        await open_source({"type": "HttpData", "baseUrl": "http://b.test/broken"}, client=backend)
    assert caught.value.status == 503


async def test_http_source_unreachable_backend() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(SourceError, match="cannot be reached") as caught:
            await open_source({"type": "HttpData", "baseUrl": "http://gone.test/"}, client=client)
    assert caught.value.status is None


async def test_http_source_needs_a_client() -> None:
    with pytest.raises(SourceError, match="needs an HTTP client"):
        await open_source({"type": "HttpData", "baseUrl": "http://b.test/"})
