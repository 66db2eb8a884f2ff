from __future__ import annotations

from typing import Any

import httpx
import pytest

from twinspace.identity import IdentityError, build_did_document, generate_key
from twinspace.trust import HttpDidResolver

from .conftest import AUTHORITY, CITY, Space

CITY_URL = "https://localhost:8101/city/did.json"


def resolver(space: Space, **kw: Any) -> HttpDidResolver:
    args: dict[str, Any] = {"ttl_seconds": 60}
    args.update(kw)
    return HttpDidResolver(space.client, space.clock, **args)


async def refused(r: HttpDidResolver, did: str = CITY) -> str:
    with pytest.raises(IdentityError) as err:
        await r.resolve(did)
    assert err.value.code == "unresolved"
    return err.value.message


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:example.com", "https://example.com/.well-known/did.json"),
        ("did:web:example.com:user:alice", "https://example.com/user/alice/did.json"),
        ("did:web:example.com%3A8443", "https://example.com:8443/.well-known/did.json"),
        ("did:web:localhost%3A8101:city", "https://localhost:8101/city/did.json"),
    ],
)
def test_https_urls(space: Space, did: str, url: str) -> None:
    assert resolver(space).url_for(did) == url


def test_allow_http_only_for_local_hosts(space: Space) -> None:
    dev = resolver(space, allow_http=True)
    assert dev.url_for(CITY) == "http://localhost:8101/city/did.json"
    assert dev.url_for("did:web:127.0.0.1%3A9000") == "http://127.0.0.1:9000/.well-known/did.json"
    assert dev.url_for("did:web:example.com:a") == "https://example.com/a/did.json"
    assert dev.url_for("did:web:localhost.example.com") == (
        "https://localhost.example.com/.well-known/did.json"
    )


async def test_resolves_and_validates(space: Space) -> None:
    document = await resolver(space).resolve(CITY)
    assert document.id == CITY and f"{CITY}#key-1" in document.methods
    assert space.server.requests == [CITY_URL]


async def test_http_is_used_only_with_allow_http(space: Space) -> None:
    http_url = "http://localhost:8101/city/did.json"
    space.server.routes[http_url] = space.server.routes[CITY_URL]
    await resolver(space, allow_http=True).resolve(CITY)
    await resolver(space).resolve(CITY)
    assert space.server.requests == [http_url, CITY_URL]


async def test_cached_within_ttl_refetched_after(space: Space) -> None:
    r = resolver(space, ttl_seconds=60)
    first = await r.resolve(CITY)
    space.clock.advance(59)
    assert await r.resolve(CITY) is first
    assert r.view().resolve(CITY) is first
    assert space.server.count(CITY_URL) == 1
    space.clock.advance(1)
    with pytest.raises(IdentityError, match="expired"):
        r.view().resolve(CITY)  # the view never fetches
    await r.resolve(CITY)
    assert space.server.count(CITY_URL) == 2


async def test_rotation_seen_after_ttl_or_invalidate(space: Space) -> None:
    r = resolver(space, ttl_seconds=60)
    await r.resolve(CITY)
    new_key = generate_key(f"{CITY}#key-2")
    space.publish_document(CITY_URL, build_did_document(CITY, [new_key]))
    assert f"{CITY}#key-2" not in (await r.resolve(CITY)).methods
    r.invalidate(CITY)
    assert f"{CITY}#key-2" in (await r.resolve(CITY)).methods


async def test_bounded_size(space: Space) -> None:
    r = resolver(space, max_entries=1)
    await r.resolve(CITY)
    await r.resolve(AUTHORITY)
    await r.resolve(CITY)
    assert space.server.count(CITY_URL) == 2


async def test_unreachable(space: Space) -> None:
    space.server.down = True
    message = await refused(resolver(space))
    assert message.startswith(f"{CITY_URL}: authority unreachable (ConnectError")


async def test_timeout(space: Space) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    space.server.override[CITY_URL] = slow
    assert "no answer within 2.0 s" in await refused(resolver(space, timeout=2.0))


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(500), "authority unreachable (HTTP 500)"),
        (httpx.Response(404), "HTTP 404, expected 200"),
        (httpx.Response(302, headers={"location": "https://evil/"}), "HTTP 302"),
        (httpx.Response(200, content=b"<html>"), "response is not JSON"),
        (httpx.Response(200, content=b"\xff\xfe"), "response is not JSON"),
        (httpx.Response(200, json=[1]), "DID document id None is not"),
        (httpx.Response(200, json={"id": AUTHORITY}), f"id {AUTHORITY!r} is not {CITY!r}"),
        (
            httpx.Response(200, json={"id": CITY, "verificationMethod": 3}),
            "invalid DID document: DID document 'verificationMethod' must be a list",
        ),
        (httpx.Response(200, content=b" " * (256 * 1024 + 1)), "larger than 262144 bytes"),
    ],
)
async def test_bad_answers(space: Space, response: httpx.Response, reason: str) -> None:
    space.server.override[CITY_URL] = lambda _: response
    message = await refused(resolver(space))
    assert message.startswith(CITY_URL) and reason in message


async def test_oversized_stream_without_length(space: Space) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 4096

    space.server.override[CITY_URL] = lambda _: httpx.Response(200, content=chunks())
    assert "larger than 10000 bytes" in await refused(resolver(space, max_bytes=10_000))


async def test_failure_is_repeated_by_the_view(space: Space) -> None:
    space.server.override[CITY_URL] = lambda _: httpx.Response(200, content=b"nope")
    r = resolver(space)
    await r.prefetch(CITY)
    with pytest.raises(IdentityError, match="response is not JSON") as err:
        r.view().resolve(CITY)
    assert err.value.code == "unresolved"
    with pytest.raises(IdentityError, match="not fetched"):
        r.view().resolve(AUTHORITY)


async def test_definitive_failure_drops_cached_copy(space: Space) -> None:
    r = resolver(space, ttl_seconds=60, on_unreachable="stale", stale_grace_seconds=600)
    await r.resolve(CITY)
    space.clock.advance(61)
    del space.server.routes[CITY_URL]  # deactivated: 404, not "unreachable"
    assert "HTTP 404" in await refused(r)
    with pytest.raises(IdentityError, match="HTTP 404"):
        r.view().resolve(CITY)


async def test_stale_document_while_unreachable(space: Space) -> None:
    r = resolver(space, ttl_seconds=60, on_unreachable="stale", stale_grace_seconds=120)
    document = await r.resolve(CITY)
    space.server.down = True
    space.clock.advance(61)
    assert await r.resolve(CITY) is document
    space.clock.advance(120)
    assert "stale grace is over" in await refused(r)


def test_bad_settings(space: Space) -> None:
    with pytest.raises(ValueError):
        resolver(space, ttl_seconds=0)
    with pytest.raises(ValueError):
        resolver(space, on_unreachable="maybe")


async def test_bad_did_is_malformed(space: Space) -> None:
    with pytest.raises(IdentityError) as err:
        await resolver(space).resolve("did:key:z6Mk")
    assert err.value.code == "malformed" and space.server.requests == []
