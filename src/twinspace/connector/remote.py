"""Asking another connector for its catalog or one dataset (the management API's catalog routes).

The DSP request goes out at once (not through the outbox: the caller waits for the answer) with
``connector.http`` and the same credentials the dispatcher sends. A counter-party that cannot be
reached, answers late, answers with a DSP error or with something that is not a catalog gives
``502`` carrying the reason.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx

from twinspace.connector import views
from twinspace.connector.admin import invalid, text
from twinspace.connector.errors import ManagementError
from twinspace.connector.operations import check_protocol
from twinspace.connector.processes import join_url
from twinspace.connector.query import QuerySpec, apply, parse_query
from twinspace.connector.service import Connector
from twinspace.protocol import messages as m

Json = dict[str, Any]
#: Pages of a paginated catalog followed at most.
MAX_PAGES = 100
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def bad_gateway(message: str) -> ManagementError:
    return ManagementError(502, message, "BadGateway")


def _address(body: Json) -> str:
    key = "counterPartyAddress" if "counterPartyAddress" in body else "connectorAddress"
    address = text(body, key) if key in body else None
    if address is None:
        raise invalid("counterPartyAddress is required (the provider's DSP endpoint)")
    if not address.startswith(("http://", "https://")):
        raise invalid(f"counterPartyAddress {address!r} is not an http(s) URL")
    return address


def _audience(body: Json) -> str | None:
    """``counterPartyId``: the provider's participant id (its DID under DCP)."""
    return text(body, "counterPartyId", required=False)


def _query(body: Json) -> QuerySpec | None:
    raw = body.get("querySpec")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid("querySpec must be a JSON object")
    return parse_query(raw)


def _remote_reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        code = body.get("code")
        reason = body.get("reason")
        reasons = "; ".join(map(str, reason)) if isinstance(reason, list) else str(reason or "")
        return " ".join(p for p in (f"[{code}]" if code else "", reasons) if p) or str(body)[:300]
    return str(body)[:300]


async def _call(
    connector: Connector,
    method: str,
    url: str,
    payload: Json | None,
    what: str,
    audience: str | None,
) -> httpx.Response:
    settings = connector.ctx.settings
    try:
        authorization = connector.authorization(audience)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    try:
        response = await connector.http.request(
            method,
            url,
            json=payload,
            headers={"Authorization": authorization},
            timeout=settings.send_timeout,
        )
    except httpx.TimeoutException:
        raise bad_gateway(
            f"the counter-party at {url} did not answer the {what} within "
            f"{settings.send_timeout:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise bad_gateway(
            f"could not reach the counter-party at {url} for the {what}: "
            f"{type(exc).__name__}: {exc or 'no detail'}"
        ) from None
    if not response.is_success:
        raise bad_gateway(
            f"the counter-party at {url} refused the {what} "
            f"(HTTP {response.status_code}): {_remote_reason(response)}"
        )
    return response


def _json_object(response: httpx.Response, url: str, expected: str) -> Json:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise bad_gateway(f"the counter-party at {url} did not answer with a JSON {expected}")
    return body


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


async def request_catalog(connector: Connector, body: Json) -> Json:
    """``POST /catalog/request``: the counter-party's catalog (every page), as it sent it.

    With a ``querySpec`` its datasets are filtered, sorted and paged here (the DSP catalog request
    carries no query this connector's providers understand).
    """
    check_protocol(body)
    address = _address(body)
    spec = _query(body)
    audience = _audience(body)
    url: str | None = join_url(address, "catalog/request")
    catalog: Json | None = None
    datasets: list[Any] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        response = await _call(
            connector, "POST", url, m.catalog_request(), "catalog request", audience
        )
        page = _json_object(response, url, "catalog")
        if page.get("@type") not in ("Catalog", "dcat:Catalog"):
            raise bad_gateway(
                f"the counter-party at {url} answered a {page.get('@type')!r}, not a Catalog"
            )
        catalog = catalog or page
        datasets.extend(_listed(page.get("dataset")))
        found = _NEXT.search(response.headers.get("link", ""))
        url = found.group(1) if found else None
    assert catalog is not None
    result = dict(catalog)
    if spec is not None:
        datasets = apply([d for d in datasets if isinstance(d, dict)], spec)
    result["dataset"] = datasets
    return result


async def request_dataset(connector: Connector, body: Json) -> Json:
    """``POST /catalog/dataset/request``: one dataset of the counter-party's catalog."""
    check_protocol(body)
    address = _address(body)
    dataset_id = text(body, "@id")
    assert dataset_id is not None
    url = join_url(address, "catalog/datasets/" + quote(dataset_id, safe=":@"))
    response = await _call(connector, "GET", url, None, "dataset request", _audience(body))
    return _json_object(response, url, "dataset")


async def negotiate_automatically(connector: Connector, body: Json) -> Json:
    """``POST /contractnegotiations/automatic``: ``{counterPartyAddress, counterPartyId, assetId}``.

    Reads the provider's catalog and negotiates the first offer for the asset that the
    acceptance profile accepts; with no acceptable offer, sends the profile's first rule as a
    counter-offer (the provider decides). No profile: 409.
    """
    from twinspace.usage.acceptance import acceptable, counter_offer, profile

    asset_id = text(body, "assetId")
    address = _address(body)
    with connector.store.transaction() as tx:
        rules = profile(tx)
    if not rules:
        raise ManagementError(
            409, "no acceptance rules: add one (POST /acceptancerules) first", "ObjectConflict"
        )
    catalog = await request_catalog(connector, body)
    datasets = [d for d in _listed(catalog.get("dataset")) if isinstance(d, dict)]
    dataset = next((d for d in datasets if d.get("@id") == asset_id), None)
    if dataset is None:
        raise ManagementError(404, f"the provider offers no dataset {asset_id!r}", "ObjectNotFound")
    offers = [o for o in _listed(dataset.get("hasPolicy")) if isinstance(o, dict)]
    if not offers:
        raise ManagementError(404, f"dataset {asset_id!r} carries no offer", "ObjectNotFound")
    chosen = next((o for o in offers if acceptable(o, rules) is not None), None)
    offer = dict(chosen) if chosen is not None else counter_offer(offers[0], rules[0])
    provider = catalog.get("participantId")
    offer.setdefault("target", asset_id)
    if isinstance(provider, str):
        offer.setdefault("assigner", provider)
    n = connector.negotiations.initiate(
        counter_party_address=str(address),
        offer=offer,
        counter_party_id=_audience(body) or (provider if isinstance(provider, str) else None),
    )
    connector.wake()
    return {
        **views.id_response(n.id, n.created_at),
        "acceptedOffer": chosen.get("@id") if chosen is not None else None,
        "counterOffer": chosen is None,
    }
