"""The consumer's journeys over the management API, shared by the CLI commands and the demo:
find an offer in a provider's catalog, negotiate it to an agreement, transfer and pull the data.

Each journey reports what it is doing through plain callbacks, so the CLI and the demo can draw it
their own way (spinners, progress bars) while the steps stay in one place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from twinspace.cli.client import Json, ManagementClient
from twinspace.cli.console import CliError
from twinspace.dataplane.pull import Progress, PullError, pull_to_file

StateCallback = Callable[[str], None]

POLL_INTERVAL = 0.1
PULL = "HttpData-PULL"
PUSH = "HttpData-PUSH"
#: A twin stream: the provider's twin notifies ours until the transfer is stopped.
STREAM = "NgsiLd-PUSH"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def datasets_of(catalog: Json) -> list[Json]:
    """Every dataset of a DSP catalog, nested catalogs included."""
    found = [d for d in as_list(catalog.get("dataset")) if isinstance(d, dict)]
    for nested in as_list(catalog.get("catalog")):
        if isinstance(nested, dict):
            found.extend(datasets_of(nested))
    return found


def pick_offer(catalog: Json, dataset_id: str, offer_id: str | None = None) -> Json:
    """The offer to negotiate for ``dataset_id``, ready to send (``target`` filled in)."""
    datasets = datasets_of(catalog)
    dataset = next((d for d in datasets if d.get("@id") == dataset_id), None)
    if dataset is None:
        known = ", ".join(str(d.get("@id")) for d in datasets) or "none"
        raise CliError(f"the provider's catalog has no dataset {dataset_id!r} (it has: {known})")
    offers = [o for o in as_list(dataset.get("hasPolicy")) if isinstance(o, dict)]
    if offer_id is not None:
        offers = [o for o in offers if o.get("@id") == offer_id]
    if not offers:
        wanted = f"an offer {offer_id!r}" if offer_id else "any offer"
        raise CliError(f"dataset {dataset_id!r} has {wanted} in the provider's catalog")
    offer = dict(offers[0])
    offer.setdefault("@type", "Offer")
    offer["target"] = dataset_id
    return offer


async def wait_for_state(
    fetch: Callable[[], Awaitable[Json]],
    wanted: set[str],
    *,
    what: str,
    timeout: float,
    on_state: StateCallback | None = None,
) -> Json:
    """Poll ``fetch`` until its ``state`` is one of ``wanted``; TERMINATED (if unwanted) fails."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        current = await fetch()
        state = str(current.get("state"))
        label = state + _retrying(current.get("pendingMessage"))
        if label != last and on_state is not None:
            on_state(label)
        last = label
        if state in wanted:
            return current
        if state == "TERMINATED":
            detail = current.get("errorDetail") or "no reason given"
            raise CliError(f"{what} was TERMINATED: {detail}")
        if time.monotonic() > deadline:
            raise CliError(f"{what} is still {state} after {timeout:.0f} s")
        await asyncio.sleep(POLL_INTERVAL)


async def wait_logged(
    fetch: Callable[[], Awaitable[Json]], current: Json, *, what: str, timeout: float
) -> list[int]:
    """Starting from ``current`` (the process as last fetched), poll ``fetch`` until its
    transparency-log entries have their receipts (a process is done for its user only then);
    their log indexes. No log configured: []."""
    deadline = time.monotonic() + timeout
    while True:
        status = current.get("transparencyLog")
        if not isinstance(status, dict):
            return []
        if status.get("state") == "LOGGED":
            return [int(i) for i in status.get("indexes") or []]
        if status.get("state") == "FAILED" or time.monotonic() > deadline:
            raise CliError(
                f"{what} is not in the transparency log yet: {status.get('lastError') or 'pending'}"
            )
        await asyncio.sleep(POLL_INTERVAL)
        current = await fetch()


def _retrying(pending: Any) -> str:
    """Why a message of ours is still waiting to be delivered, if the connector says so."""
    if not isinstance(pending, dict) or not pending.get("lastError"):
        return ""
    return f" (retrying {pending.get('type', 'a message')}: {pending['lastError']})"


@dataclass
class Negotiated:
    negotiation_id: str
    agreement_id: str
    offer_id: str
    provider_id: str | None
    state: str
    log_indexes: list[int] = field(default_factory=list)


async def negotiate(
    client: ManagementClient,
    provider_dsp: str,
    dataset_id: str,
    *,
    offer_id: str | None = None,
    catalog: Json | None = None,
    provider_id: str | None = None,
    timeout: float = 60.0,
    on_state: StateCallback | None = None,
) -> Negotiated:
    """Negotiate the dataset's offer with the provider and wait until FINALIZED.

    ``provider_id`` (the provider's DID) is needed to ask for the catalog under DCP."""
    if catalog is None:
        catalog = await client.request_catalog(provider_dsp, provider_id)
    offer = pick_offer(catalog, dataset_id, offer_id)
    provider_id = catalog.get("participantId") or provider_id
    negotiation_id = await client.start_negotiation(provider_dsp, provider_id, offer)
    final = await wait_for_state(
        lambda: client.negotiation(negotiation_id),
        {"FINALIZED"},
        what=f"negotiation {negotiation_id}",
        timeout=timeout,
        on_state=on_state,
    )
    agreement_id = final.get("contractAgreementId")
    if not agreement_id:
        raise CliError(f"negotiation {negotiation_id} is FINALIZED but names no agreement")
    logged = await wait_logged(
        lambda: client.negotiation(negotiation_id),
        final,
        what=f"agreement {agreement_id}",
        timeout=timeout,
    )
    return Negotiated(
        negotiation_id,
        str(agreement_id),
        str(offer["@id"]),
        provider_id,
        str(final["state"]),
        logged,
    )


def dsp_data_address(edr: Json) -> Json:
    """The EDC-style flat EDR turned into a DSP ``DataAddress`` (``endpointProperties``)."""
    if "endpointProperties" in edr:
        return edr
    skip = {"@type", "@context", "type", "endpoint", "endpointType"}
    return {
        "@type": "DataAddress",
        "endpointType": edr.get("endpointType", "https://w3id.org/idsa/v4.1/HTTP"),
        "endpoint": edr["endpoint"],
        "endpointProperties": [
            {"@type": "EndpointProperty", "name": key, "value": str(value)}
            for key, value in edr.items()
            if key not in skip and value is not None
        ],
    }


@dataclass
class Transferred:
    transfer_id: str
    state: str
    nbytes: int
    path: Path | None
    seconds: float
    log_indexes: list[int] = field(default_factory=list)


async def transfer(
    client: ManagementClient,
    provider_dsp: str,
    agreement_id: str,
    *,
    out: Path,
    transfer_type: str = PULL,
    purpose: str | None = None,
    timeout: float = 60.0,
    on_state: StateCallback | None = None,
    progress: Progress | None = None,
    tenant: str | None = None,
) -> Transferred:
    """Start a transfer under ``agreement_id`` (declaring ``purpose``); for a pull, fetch the
    data to ``out``; a twin stream (``NgsiLd-PUSH``, into our twin's ``tenant``) is left
    running once STARTED."""
    began = time.monotonic()
    transfer_id = await client.start_transfer(
        provider_dsp, agreement_id, transfer_type, purpose, tenant
    )
    what = f"transfer {transfer_id}"

    def fetch() -> Awaitable[Json]:
        return client.transfer(transfer_id)

    if transfer_type == STREAM:
        done = await wait_for_state(
            fetch, {"STARTED"}, what=what, timeout=timeout, on_state=on_state
        )
        nbytes = int(done.get("bytesTransferred") or 0)
        return Transferred(transfer_id, "STARTED", nbytes, None, time.monotonic() - began)

    if transfer_type != PULL:
        # The provider pushes to us and completes the transfer itself.
        done = await wait_for_state(
            fetch, {"COMPLETED"}, what=what, timeout=timeout, on_state=on_state
        )
        nbytes = int(done.get("bytesTransferred") or 0)
        logged = await wait_logged(fetch, done, what=what, timeout=timeout)
        return Transferred(transfer_id, "COMPLETED", nbytes, None, time.monotonic() - began, logged)

    await wait_for_state(fetch, {"STARTED"}, what=what, timeout=timeout, on_state=on_state)
    address = dsp_data_address(await client.edr_data_address(transfer_id))
    nbytes = await pull(address, out, progress=progress)
    # duties such as delete-after apply to this copy
    await client.record_received(transfer_id, str(out.resolve()))
    await client.complete_transfer(transfer_id)
    done = await wait_for_state(fetch, {"COMPLETED"}, what=what, timeout=timeout, on_state=on_state)
    logged = await wait_logged(fetch, done, what=what, timeout=timeout)
    return Transferred(
        transfer_id, str(done["state"]), nbytes, out, time.monotonic() - began, logged
    )


async def pull(address: Json, out: Path, *, progress: Progress | None = None) -> int:
    """Pull the data behind a DSP data address into ``out`` through the data plane."""
    out.parent.mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=300.0)) as http:
        try:
            return await pull_to_file(http, address, out, progress=progress)
        except PullError as exc:
            raise CliError(f"pulling the data failed: {exc}") from None
        except httpx.HTTPError as exc:
            raise CliError(f"pulling {address.get('endpoint')} failed: {exc}") from None
