"""The consumer side of a pull transfer: read the EDR a start message carries, and fetch the data.

``edr_from(data_address)`` turns a DSP ``DataAddress`` (endpoint + endpointProperties) into an
``Edr``; ``pull_to_file`` downloads the data to a file, refreshing an expired token once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from twinspace.dataplane.sources import CHUNK_SIZE
from twinspace.protocol.messages import endpoint_properties

Progress = Callable[[int, int | None], None]
_EXCERPT = 200


class PullError(Exception):
    """The data could not be pulled; the message says why."""


@dataclass(frozen=True)
class Edr:
    """An endpoint data reference: where the data is and the tokens that open it."""

    endpoint: str
    token: str
    refresh_token: str | None = None
    refresh_endpoint: str | None = None
    expires_in: int | None = None

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.refresh_endpoint)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def edr_from(data_address: Mapping[str, Any]) -> Edr:
    """The EDR in a DSP DataAddress; PullError when it has no endpoint or token."""
    endpoint = data_address.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise PullError(f"the data address has no http(s) endpoint (got {endpoint!r})")
    # EDC may write property names as IRIs (https://w3id.org/edc/v0.0.1/ns/authorization)
    props = {
        name.rsplit("/", 1)[-1]: value
        for name, value in endpoint_properties(dict(data_address)).items()
    }
    token = props.get("authorization")
    if not token:
        raise PullError("the data address carries no 'authorization' token")
    scheme, _, rest = token.partition(" ")
    if rest and scheme.lower() == "bearer":
        token = rest.strip()
    expires = props.get("expiresIn", "")
    return Edr(
        endpoint=endpoint,
        token=token,
        refresh_token=props.get("refreshToken") or None,
        refresh_endpoint=props.get("refreshEndpoint") or None,
        expires_in=int(expires) if expires.isdigit() else None,
    )


def _why(response: httpx.Response) -> str:
    """A short reason from an error response: its JSON ``reason``/``error`` or a text excerpt."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "reason", "error_description") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return response.text[:_EXCERPT].strip()


async def refresh_edr(client: httpx.AsyncClient, edr: Edr) -> Edr:
    """Trade the EDR's refresh token for a new pair (the old pair stops working)."""
    if not edr.refresh_token or not edr.refresh_endpoint:
        raise PullError("the data address offers no token refresh")
    response = await client.post(
        edr.refresh_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": edr.refresh_token},
    )
    if not response.is_success:
        raise PullError(
            f"refreshing the token at {edr.refresh_endpoint} failed "
            f"({response.status_code}): {_why(response)}"
        )
    body = response.json()
    access = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(access, str) or not access:
        raise PullError(f"the token endpoint {edr.refresh_endpoint} returned no access_token")
    expires = body.get("expires_in")
    return replace(
        edr,
        token=access,
        refresh_token=body.get("refresh_token") or edr.refresh_token,
        expires_in=expires if isinstance(expires, int) else None,
    )


async def _save(
    response: httpx.Response, dest: Path, progress: Progress | None, chunk_size: int
) -> int:
    length = response.headers.get("content-length")
    total = int(length) if length is not None and length.isdigit() else None
    part = dest.with_name(dest.name + ".part")
    handle: BinaryIO = await asyncio.to_thread(part.open, "wb")
    done = 0
    try:
        try:
            if progress is not None:
                progress(0, total)
            async for chunk in response.aiter_bytes(chunk_size):
                await asyncio.to_thread(handle.write, chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        finally:
            await asyncio.to_thread(handle.close)
        if total is not None and "content-encoding" not in response.headers and done != total:
            raise PullError(f"{response.url} sent {done} of {total} bytes")
        await asyncio.to_thread(os.replace, part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return done


async def pull_to_file(
    client: httpx.AsyncClient,
    data_address: Mapping[str, Any],
    dest: Path,
    *,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Download the data behind ``data_address`` to ``dest``; returns the bytes written.

    The data goes to ``dest.part`` first and is renamed when complete. A 401 is answered by one
    token refresh when the address offers it. Refusals raise PullError; network failures raise
    httpx's own errors.
    """
    edr = edr_from(data_address)
    refreshed = False
    while True:
        async with client.stream("GET", edr.endpoint, headers=edr.headers()) as response:
            if response.is_success:
                return await _save(response, dest, progress, chunk_size)
            await response.aread()
        if response.status_code == 401 and edr.can_refresh and not refreshed:
            edr = await refresh_edr(client, edr)
            refreshed = True
            continue
        raise PullError(f"GET {edr.endpoint} answered {response.status_code}: {_why(response)}")
