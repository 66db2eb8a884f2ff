"""The provider's pusher: streams a push transfer's asset to the consumer's data address.

The outbound manager runs one "push" job per push transfer once it has started; the job calls
the pusher, which returns the number of bytes sent or raises (the manager retries with backoff
and terminates the transfer after its last attempt).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import httpx

from twinspace.dataplane.sources import CHUNK_SIZE, SourceOpener, SourceStream, open_source
from twinspace.protocol.messages import endpoint_properties
from twinspace.protocol.transfer import TP
from twinspace.store import Asset, OutboxItem, Transfer

if TYPE_CHECKING:  # the connector imports the data plane's tokens: no import cycle at runtime
    from twinspace.connector.service import Connector

_EXCERPT = 200


class PushError(Exception):
    """The push could not be done; the message says why (the manager records it)."""


def authorization_header(value: str) -> str:
    """An ``authorization`` endpoint property as an ``Authorization`` header value."""
    scheme, _, rest = value.partition(" ")
    return value if rest and scheme.lower() == "bearer" else f"Bearer {value}"


def _load(connector: Connector, transfer_id: str) -> tuple[Transfer, Asset]:
    with connector.store.transaction() as tx:
        transfer: Transfer | None = tx.transfers.find(transfer_id)
        if transfer is None:
            raise PushError(f"transfer {transfer_id!r} does not exist")
        asset: Asset | None = tx.assets.find(transfer.asset_id) if transfer.asset_id else None
        if asset is None:
            raise PushError(f"the asset {transfer.asset_id!r} of transfer {transfer_id!r} is gone")
        if transfer.state != TP.STARTED:
            raise PushError(f"transfer {transfer_id!r} is {transfer.state}, not STARTED")
        return transfer, asset


async def _counted(source: SourceStream, sent: list[int]) -> AsyncIterator[bytes]:
    async for chunk in source.chunks:
        sent[0] += len(chunk)
        yield chunk


async def push(
    client: httpx.AsyncClient,
    transfer: Transfer,
    asset: Asset,
    chunk_size: int = CHUNK_SIZE,
    extensions: Mapping[str, SourceOpener] | None = None,
) -> int:
    """Stream ``asset``'s data to ``transfer``'s destination; returns the bytes sent."""
    destination = transfer.data_destination or {}
    endpoint = destination.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise PushError(f"transfer {transfer.id!r} has no http(s) destination endpoint")
    async with await open_source(
        asset.data_address,
        client=client,
        chunk_size=chunk_size,
        extensions=extensions,
        asset_id=asset.id,
    ) as source:
        headers = {"Content-Type": source.content_type}
        if source.size is not None:
            headers["Content-Length"] = str(source.size)
        auth = endpoint_properties(destination).get("authorization")
        if auth:
            headers["Authorization"] = authorization_header(auth)
        sent = [0]
        try:
            response = await client.post(endpoint, content=_counted(source, sent), headers=headers)
        except httpx.HTTPError as exc:
            raise PushError(
                f"sending to {endpoint} failed: {str(exc) or type(exc).__name__}"
            ) from exc
    if not response.is_success:
        excerpt = response.text[:_EXCERPT].strip()
        detail = f": {excerpt}" if excerpt else ""
        raise PushError(f"{endpoint} answered {response.status_code}{detail}")
    return sent[0]


def pusher_for(connector: Connector) -> Callable[[OutboxItem], Awaitable[int]]:
    """The pusher the outbound manager calls for a push job (``item.process_id``: the transfer)."""

    async def pusher(item: OutboxItem) -> int:
        transfer, asset = await asyncio.to_thread(_load, connector, item.process_id)
        return await push(connector.http, transfer, asset, extensions=connector.sources)

    return pusher
