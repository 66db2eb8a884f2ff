"""Bounded HTTP GET for the trust adapters: scheme policy, timeout, size cap, error mapping."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from twinspace.identity import IdentityError

#: Hosts for which plain HTTP may be enabled (a development setting, off by default).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})


class FetchFailure(IdentityError):
    """An ``unresolved`` refusal from a fetch; ``unreachable`` says whether the authority could
    not be reached at all (transport error, timeout, HTTP 5xx), the only case where a stale
    cached copy may stand in. Anything the authority *said* (404, bad body) is definitive."""

    def __init__(self, message: str, *, unreachable: bool) -> None:
        super().__init__("unresolved", message)
        self.unreachable = unreachable


def check_url(url: str, *, allow_http: bool) -> None:
    """``https`` only; ``http`` only with ``allow_http`` and only for :data:`LOCAL_HOSTS`."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        if not allow_http:
            raise FetchFailure(
                f"{url}: plain HTTP is refused (allow_http is a development setting, off)",
                unreachable=False,
            )
        if parts.hostname not in LOCAL_HOSTS:
            raise FetchFailure(
                f"{url}: plain HTTP is only allowed for {sorted(LOCAL_HOSTS)}, even with allow_http",
                unreachable=False,
            )
        return
    raise FetchFailure(f"{url!r}: not an https URL", unreachable=False)


async def fetch_bytes(
    client: httpx.AsyncClient,
    url: str,
    *,
    allow_http: bool,
    timeout: float,
    max_bytes: int,
    accept: str,
) -> bytes:
    """The body of a ``200`` response to ``GET url``, at most ``max_bytes`` (read as a stream,
    so an oversized body is cut off early). Redirects are not followed."""
    check_url(url, allow_http=allow_http)
    try:
        async with client.stream(
            "GET", url, timeout=timeout, follow_redirects=False, headers={"Accept": accept}
        ) as response:
            status = response.status_code
            if status >= 500:
                raise FetchFailure(
                    f"{url}: authority unreachable (HTTP {status})", unreachable=True
                )
            if status != 200:
                raise FetchFailure(f"{url}: HTTP {status}, expected 200", unreachable=False)
            too_large = FetchFailure(
                f"{url}: response larger than {max_bytes} bytes", unreachable=False
            )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise too_large
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise too_large
            return bytes(body)
    except httpx.TimeoutException:
        raise FetchFailure(
            f"{url}: authority unreachable (no answer within {timeout} s)", unreachable=True
        ) from None
    except httpx.TransportError as exc:
        raise FetchFailure(
            f"{url}: authority unreachable ({type(exc).__name__}: {exc})", unreachable=True
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FetchFailure(f"{url}: {type(exc).__name__}: {exc}", unreachable=False) from None
