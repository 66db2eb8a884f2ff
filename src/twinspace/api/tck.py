"""TCK mode: the trigger endpoints the Eclipse DSP TCK calls to make this connector act as consumer.

``POST /tck/negotiations/requests`` (``dataspacetck.dsp.connector.negotiation.initiate.url``)
    ``{"providerId", "connectorAddress", "offerId", "datasetId"}``: request offer ``offerId`` for
    dataset ``datasetId`` from the TCK's connector at ``connectorAddress``.
``POST /tck/transfers/requests`` (``dataspacetck.dsp.connector.transfer.initiate.url``)
    ``{"providerId", "connectorAddress", "agreementId", "format"}``: request a transfer under a
    (seeded) agreement from the TCK's connector.
``GET /tck/config.properties``
    the TCK's configuration file for this connector (see ``twinspace.tck.properties``).

The TCK posts plain JSON and only looks at the status (2xx); the answer names the process started.
Without TCK mode the router is empty, so every ``/tck`` path answers 404. The triggers are not
protected by the management API key (the TCK sends none): TCK mode is for testing only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from twinspace.connector.service import Connector
from twinspace.tck.properties import DEFAULT_TCK_URL, DEFAULT_WAIT, render


class NegotiationTrigger(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider_id: str = Field(alias="providerId", min_length=1)
    connector_address: str = Field(alias="connectorAddress", min_length=1)
    offer_id: str = Field(alias="offerId", min_length=1)
    dataset_id: str = Field(alias="datasetId", min_length=1)


class TransferTrigger(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider_id: str = Field(alias="providerId", min_length=1)
    connector_address: str = Field(alias="connectorAddress", min_length=1)
    agreement_id: str = Field(alias="agreementId", min_length=1)
    format: str = Field(min_length=1)


def requested_offer(trigger: NegotiationTrigger) -> dict[str, Any]:
    """The offer the consumer requests: the TCK names only its id, dataset and provider."""
    return {
        "@id": trigger.offer_id,
        "@type": "Offer",
        "target": trigger.dataset_id,
        "assigner": trigger.provider_id,
        "permission": [{"action": "use"}],
    }


def router(connector: Connector) -> APIRouter:
    if not connector.ctx.settings.tck_mode:
        return APIRouter()
    api = APIRouter(prefix="/tck", tags=["tck"])

    @api.post("/negotiations/requests")
    async def start_negotiation(trigger: NegotiationTrigger) -> JSONResponse:
        n = await run_in_threadpool(
            lambda: connector.negotiations.initiate(
                counter_party_address=trigger.connector_address,
                offer=requested_offer(trigger),
                counter_party_id=trigger.provider_id,
            )
        )
        connector.wake()
        return JSONResponse(
            {"@type": "IdResponse", "@id": n.id, "consumerPid": n.consumer_pid}, status_code=200
        )

    @api.post("/transfers/requests")
    async def start_transfer(trigger: TransferTrigger) -> JSONResponse:
        t = await run_in_threadpool(
            lambda: connector.transfers.initiate(
                counter_party_address=trigger.connector_address,
                agreement_id=trigger.agreement_id,
                format_=trigger.format,
            )
        )
        connector.wake()
        return JSONResponse(
            {"@type": "IdResponse", "@id": t.id, "consumerPid": t.consumer_pid}, status_code=200
        )

    @api.get("/config.properties", response_class=PlainTextResponse)
    async def tck_config(
        tck_url: str = DEFAULT_TCK_URL, wait: int = DEFAULT_WAIT
    ) -> PlainTextResponse:
        return PlainTextResponse(render(connector.ctx.settings, tck_url=tck_url, wait=wait))

    return api
