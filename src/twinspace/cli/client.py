"""A small async client for one connector's management API (EDC-shaped, ``/management/v3``).

Every failure a user can cause or fix (nothing listening, a wrong API key, a request the connector
refuses) becomes a ``CliError`` with the connector's own words, never an httpx traceback.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from twinspace.cli.console import CliError

Json = dict[str, Any]
PROTOCOL = "dataspace-protocol-http:2025-1"
DEFAULT_CONNECTOR = "http://127.0.0.1:8181"


def describe_error(response: httpx.Response) -> str:
    """The connector's explanation of a failed request, in one line."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] if text else response.reason_phrase
    if isinstance(body, dict):
        body = body.get("detail", body.get("errors", body))
    if isinstance(body, list):
        parts = []
        for item in body:
            if isinstance(item, dict):
                message = item.get("message") or item.get("msg") or str(item)
                where = item.get("path") or item.get("loc")
                parts.append(f"{message} ({where})" if where else str(message))
            else:
                parts.append(str(item))
        return "; ".join(parts) or response.reason_phrase
    return str(body)[:300]


class ManagementClient:
    """Talks to ``<connector>/management/v3`` with ``X-Api-Key``."""

    def __init__(
        self,
        connector_url: str = DEFAULT_CONNECTOR,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not connector_url.startswith(("http://", "https://")):
            raise CliError(
                f"--connector {connector_url!r} is not an http(s) URL",
                "for example --connector http://127.0.0.1:8181",
            )
        self.connector_url = connector_url.rstrip("/")
        self.api_key = api_key
        headers = {"X-Api-Key": api_key} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=f"{self.connector_url}/management/v3",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> ManagementClient:
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
        except httpx.ConnectError as exc:
            raise CliError(
                f"cannot reach the connector at {self.connector_url} ({_reason(exc)})",
                "is it running? start one with `twinspace serve`, or point --connector "
                "(TWINSPACE_CONNECTOR_URL) at it",
            ) from None
        except httpx.TimeoutException:
            raise CliError(
                f"the connector at {self.connector_url} did not answer in time"
            ) from None
        except httpx.HTTPError as exc:
            raise CliError(f"talking to {self.connector_url} failed: {_reason(exc)}") from None
        if response.status_code in (401, 403):
            raise CliError(
                f"the connector at {self.connector_url} refused the API key "
                f"(HTTP {response.status_code})",
                "pass --api-key or set TWINSPACE_API_KEY to the key the connector was started with",
            )
        if response.is_error:
            raise CliError(
                f"{method} {path} failed (HTTP {response.status_code}): {describe_error(response)}"
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{method} {path}: the connector answered something not JSON") from None

    # --- provider side ------------------------------------------------------------------------

    async def create_asset(self, asset_id: str, properties: Json, data_address: Json) -> Json:
        body = {"@id": asset_id, "properties": properties, "dataAddress": data_address}
        result: Json = await self.call("POST", "/assets", body) or {}
        return result

    async def create_policy(self, policy_id: str, policy: Json) -> Json:
        result: Json = await self.call(
            "POST", "/policydefinitions", {"@id": policy_id, "policy": policy}
        )
        return result or {}

    async def create_contract_definition(
        self, definition_id: str, access_policy_id: str, contract_policy_id: str, asset_id: str
    ) -> Json:
        body = {
            "@id": definition_id,
            "accessPolicyId": access_policy_id,
            "contractPolicyId": contract_policy_id,
            "assetsSelector": [{"operandLeft": "id", "operator": "=", "operandRight": asset_id}],
        }
        result: Json = await self.call("POST", "/contractdefinitions", body)
        return result or {}

    # --- consumer side ------------------------------------------------------------------------

    async def request_catalog(self, provider_dsp: str, provider_id: str | None = None) -> Json:
        body = {"counterPartyAddress": provider_dsp, "protocol": PROTOCOL}
        if provider_id:  # the provider's DID: needed when the connector runs DCP
            body["counterPartyId"] = provider_id
        result: Json = await self.call("POST", "/catalog/request", body)
        return result

    async def start_negotiation(
        self, provider_dsp: str, provider_id: str | None, offer: Json
    ) -> str:
        body = {
            "counterPartyAddress": provider_dsp,
            "counterPartyId": provider_id,
            "protocol": PROTOCOL,
            "policy": offer,
        }
        result: Json = await self.call("POST", "/contractnegotiations", body)
        return str(result["@id"])

    async def negotiation(self, negotiation_id: str) -> Json:
        result: Json = await self.call("GET", f"/contractnegotiations/{negotiation_id}")
        return result

    async def start_transfer(
        self,
        provider_dsp: str,
        agreement_id: str,
        transfer_type: str,
        purpose: str | None = None,
        tenant: str | None = None,
    ) -> str:
        body = {
            "counterPartyAddress": provider_dsp,
            "contractId": agreement_id,
            "transferType": transfer_type,
            "protocol": PROTOCOL,
        }
        if purpose:  # declared to the provider; its policy may require one
            body["purpose"] = purpose
        if tenant:  # the tenant of our twin that receives an NgsiLd-PUSH stream
            body["tenant"] = tenant
        result: Json = await self.call("POST", "/transferprocesses", body)
        return str(result["@id"])

    async def transfer(self, transfer_id: str) -> Json:
        result: Json = await self.call("GET", f"/transferprocesses/{transfer_id}")
        return result

    async def record_received(self, transfer_id: str, path: str) -> None:
        """Tell the connector where a pulled copy is kept (its delete duties target it)."""
        await self.call("POST", f"/transferprocesses/{transfer_id}/received", {"path": path})

    async def complete_transfer(self, transfer_id: str) -> None:
        await self.call("POST", f"/transferprocesses/{transfer_id}/complete")

    async def edr_data_address(self, transfer_id: str) -> Json:
        result: Json = await self.call("GET", f"/edrs/{transfer_id}/dataaddress")
        return result

    async def list_negotiations(self) -> list[Json]:
        return await self._list("/contractnegotiations")

    async def list_transfers(self) -> list[Json]:
        return await self._list("/transferprocesses")

    async def _list(self, path: str) -> list[Json]:
        """EDC lists with ``POST <path>/request`` and a query spec."""
        result = await self.call("POST", f"{path}/request", {"offset": 0, "limit": 1000})
        return [item for item in result or [] if isinstance(item, dict)]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if "refused" in text.lower() or not text:
        return "connection refused"
    return text
