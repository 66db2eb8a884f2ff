"""Sending DSP messages over HTTP (the adapter the outbound manager talks through)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


@dataclass
class Delivery:
    """What came back from one attempt: ``ok`` means the counter-party acknowledged (2xx)."""

    ok: bool
    status: int | None
    body: Any
    error: str | None = None


class Dispatcher(Protocol):
    async def send(self, url: str, payload: dict[str, Any], audience: str | None) -> Delivery: ...


#: Makes the ``Authorization`` value for a call to ``audience`` (the recipient's participant id);
#: raises ``ValueError`` when no credentials can be made (e.g. the recipient is unknown).
Authorizer = Callable[[str | None], str]


class HttpDispatcher:
    """POSTs JSON with the credentials ``authorizer`` makes for the recipient (a self-issued ID
    token under DCP; this participant's id in the unauthenticated development profile)."""

    def __init__(self, client: httpx.AsyncClient, authorizer: Authorizer, timeout: float) -> None:
        self.client = client
        self.authorizer = authorizer
        self.timeout = timeout

    async def send(self, url: str, payload: dict[str, Any], audience: str | None) -> Delivery:
        try:
            authorization = self.authorizer(audience)
        except ValueError as exc:
            return Delivery(False, None, None, f"no credentials for {url}: {exc}")
        try:
            response = await self.client.post(
                url,
                json=payload,
                headers={"Authorization": authorization},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            return Delivery(
                False, None, None, f"{type(exc).__name__}: {exc or 'no detail'} ({url})"
            )
        try:
            body = response.json() if response.content else None
        except json.JSONDecodeError:
            body = None
        if response.is_success:
            return Delivery(True, response.status_code, body)
        detail = body.get("reason") if isinstance(body, dict) else None
        text = "; ".join(map(str, detail)) if isinstance(detail, list) else response.text[:300]
        return Delivery(
            False, response.status_code, body, f"HTTP {response.status_code} from {url}: {text}"
        )
