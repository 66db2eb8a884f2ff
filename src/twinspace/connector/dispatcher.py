"""Sending DSP messages over HTTP (the adapter the outbound manager talks through)."""

from __future__ import annotations

import json
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
    async def send(self, url: str, payload: dict[str, Any]) -> Delivery: ...


class HttpDispatcher:
    """POSTs JSON with the caller's credentials.

    Until the trust layer lands, the ``Authorization`` header carries this participant's id (the
    DSP binding leaves token semantics to the deployment; this is the unauthenticated profile).
    """

    def __init__(self, client: httpx.AsyncClient, participant_id: str, timeout: float) -> None:
        self.client = client
        self.participant_id = participant_id
        self.timeout = timeout

    async def send(self, url: str, payload: dict[str, Any]) -> Delivery:
        try:
            response = await self.client.post(
                url,
                json=payload,
                headers={"Authorization": self.participant_id},
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
