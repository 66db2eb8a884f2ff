from __future__ import annotations

from typing import Any

import httpx
import pytest

from twinspace.identity import IdentityError
from twinspace.trust import StatusListCache

from .conftest import LIST_URL, Space


def cache(space: Space, **kw: Any) -> StatusListCache:
    args: dict[str, Any] = {"ttl_seconds": 60}
    args.update(kw)
    return StatusListCache(space.client, space.clock, **args)


async def refused(c: StatusListCache, url: str = LIST_URL) -> str:
    with pytest.raises(IdentityError) as err:
        await c.fetch(url)
    assert err.value.code == "unresolved"
    return err.value.message


async def test_fetch_and_cache(space: Space) -> None:
    c = cache(space)
    token = await c.fetch(LIST_URL)
    assert token == space.server.routes[LIST_URL].decode()
    space.clock.advance(59)
    assert await c.fetch(LIST_URL) == token and c.view().fetch(LIST_URL) == token
    assert space.server.count(LIST_URL) == 1
    space.clock.advance(1)
    fresh = space.publish_status()  # same bits, same token; a new fetch anyway
    assert await c.fetch(LIST_URL) == fresh and space.server.count(LIST_URL) == 2


async def test_refuse_mode(space: Space) -> None:
    c = cache(space, on_unreachable="refuse", stale_grace_seconds=600)
    await c.fetch(LIST_URL)
    space.server.down = True
    space.clock.advance(30)
    await c.fetch(LIST_URL)  # still fresh: no request
    assert space.server.count(LIST_URL) == 1
    space.clock.advance(30)
    message = await refused(c)
    assert "authority unreachable" in message and "cached copy expired" in message
    assert "grace" not in message
    with pytest.raises(IdentityError, match="authority unreachable"):
        c.view().fetch(LIST_URL)


async def test_stale_mode_within_and_after_grace(space: Space) -> None:
    c = cache(space, on_unreachable="stale", stale_grace_seconds=300)
    token = await c.fetch(LIST_URL)
    space.server.down = True
    space.clock.advance(60 + 299)
    assert await c.fetch(LIST_URL) == token
    assert c.view().fetch(LIST_URL) == token
    space.clock.advance(1)
    assert "stale grace is over" in await refused(c)
    with pytest.raises(IdentityError, match="stale grace is over"):
        c.view().fetch(LIST_URL)


async def test_stale_mode_recovers(space: Space) -> None:
    c = cache(space, on_unreachable="stale", stale_grace_seconds=300)
    await c.fetch(LIST_URL)
    space.server.override[LIST_URL] = lambda _: httpx.Response(503)
    space.clock.advance(100)
    await c.fetch(LIST_URL)  # stale copy served
    del space.server.override[LIST_URL]
    space.status.set(3)
    fresh = space.publish_status()
    assert await c.fetch(LIST_URL) == fresh  # refetched, new 60 s lifetime
    space.clock.advance(59)
    assert c.view().fetch(LIST_URL) == fresh


async def test_stale_mode_does_not_cover_definitive_answers(space: Space) -> None:
    c = cache(space, on_unreachable="stale", stale_grace_seconds=300)
    await c.fetch(LIST_URL)
    space.clock.advance(61)
    space.server.override[LIST_URL] = lambda _: httpx.Response(200, content=b"not a jwt")
    assert "not a compact vc+jwt" in await refused(c)


async def test_unreachable_without_any_copy(space: Space) -> None:
    space.server.down = True
    assert "authority unreachable" in await refused(cache(space, on_unreachable="stale"))


@pytest.mark.parametrize(
    ("url", "kw", "reason"),
    [
        ("http://localhost:8100/authority/status/1", {}, "plain HTTP is refused"),
        (
            "http://authority.example/status/1",
            {"allow_http": True},
            "plain HTTP is only allowed for",
        ),
        ("ftp://localhost/status/1", {}, "not an https URL"),
    ],
)
async def test_scheme_policy(space: Space, url: str, kw: dict[str, Any], reason: str) -> None:
    assert reason in await refused(cache(space, **kw), url)
    assert space.server.requests == []


async def test_http_on_localhost_in_development(space: Space) -> None:
    url = "http://127.0.0.1:8100/authority/status/1"
    space.server.routes[url] = space.server.routes[LIST_URL]
    assert await cache(space, allow_http=True).fetch(url)


async def test_oversized_and_404(space: Space) -> None:
    space.server.routes[LIST_URL] = b"a.b." + b"c" * 2000
    assert "larger than 1000 bytes" in await refused(cache(space, max_bytes=1000))
    assert "HTTP 404" in await refused(cache(space), LIST_URL + "x")
