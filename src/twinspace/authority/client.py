"""A small async client for the authority's admin API (``<url>/admin/participants``, header
``X-Api-Key``), used by ``twinspace authority``. Every failure a user can cause or fix (nothing
listening, a wrong key, a refused request) is an :class:`AdminClientError` with the authority's
own words, never an httpx exception."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_AUTHORITY_URL = "http://127.0.0.1:8100/authority"

Json = dict[str, Any]


class AdminClientError(Exception):
    """A failed admin call: ``message`` in one line, and a ``hint`` at the fix if there is one."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class AuthorityClient:
    """Talks to ``<url>/admin/participants`` with ``X-Api-Key``."""

    PATH = "/admin/participants"

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise AdminClientError(
                f"--url {url!r} is not an http(s) URL", f"for example --url {DEFAULT_AUTHORITY_URL}"
            )
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.url,
            headers={"X-Api-Key": api_key} if api_key else {},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AuthorityClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self.http.request(method, path, json=body)
        except httpx.ConnectError:
            raise AdminClientError(
                f"cannot reach the authority at {self.url} (connection refused)",
                "is it running? start one with `twinspace authority serve`, or point --url "
                "(TWINSPACE_AUTHORITY_URL) at it",
            ) from None
        except httpx.TimeoutException:
            raise AdminClientError(f"the authority at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise AdminClientError(f"talking to {self.url} failed: {type(exc).__name__}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 401:
            raise AdminClientError(
                f"the authority at {self.url} refused the API key (HTTP 401)",
                "pass --api-key or set TWINSPACE_API_KEY to the key the authority was started with",
            )
        if response.is_error:
            if isinstance(answer, dict) and "message" in answer:
                detail = f"{answer.get('error', 'error')}: {answer['message']}"
            else:
                detail = response.text.strip()[:300] or response.reason_phrase
            raise AdminClientError(f"the authority refused (HTTP {response.status_code}): {detail}")
        if answer is None:
            raise AdminClientError(
                f"{method} {self.url}: the authority answered something not JSON"
            )
        return answer

    async def onboard(self, body: Json) -> Json:
        result: Json = await self.call("POST", self.PATH, body)
        return result

    async def members(self) -> list[Json]:
        result = await self.call("GET", self.PATH)
        return [m for m in result if isinstance(m, dict)] if isinstance(result, list) else []

    async def change(self, did: str, action: str, reason: str | None) -> Json:
        body = {"reason": reason} if reason else None
        result: Json = await self.call("POST", f"{self.PATH}/{quote(did, safe=':')}/{action}", body)
        return result
