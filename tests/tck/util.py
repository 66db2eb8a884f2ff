"""A stand-in for the Eclipse DSP TCK, in process: it plays the other side of each TCK case.

``bench()`` starts one connector under test (CUT, host ``cut.test``) in TCK mode and a fake TCK
(host ``tck.test``) that records every DSP message the CUT sends it and acknowledges it (201 with
a fresh providerPid for an initial request, as a provider would). ``Conversation`` then walks a
case the way the TCK's pipelines do: send a message, expect one back, check the CUT's state.
Scripted messages are sent without delay here (``step_delay=0``).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tests.connector.harness import API_KEY, HostRouter

from twinspace.app import create_app
from twinspace.clock import isoformat
from twinspace.connector.service import Connector
from twinspace.protocol import messages as m
from twinspace.protocol.negotiation import negotiation_kind
from twinspace.settings import Settings
from twinspace.tck import Strategy
from twinspace.tck.seed import tck_offer_id

Json = dict[str, Any]
TCK = "http://tck.test/dsp"
TCK_ID = "urn:eclipse:dsp-tck"

#: Short names of the messages a case expects, by the label the fake TCK records.
LABELS = {
    "ContractRequestMessage": "Request",
    "ContractOfferMessage": "Offer",
    "ContractAgreementMessage": "Agreement",
    "ContractAgreementVerificationMessage": "Verification",
    "ContractNegotiationEventMessage:ACCEPTED": "ACCEPTED",
    "ContractNegotiationEventMessage:FINALIZED": "FINALIZED",
    "ContractNegotiationTerminationMessage": "Termination",
    "TransferRequestMessage": "Request",
    "TransferStartMessage": "Start",
    "TransferSuspensionMessage": "Suspension",
    "TransferCompletionMessage": "Completion",
    "TransferTerminationMessage": "Termination",
}


@dataclass
class Received:
    path: str
    body: Json
    label: str
    assigned_pid: str | None = None  # the providerPid the fake TCK gave an initial request


class FakeTck:
    """Records what the CUT sends and acknowledges it."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._ids = itertools.count(1)
        self.app = FastAPI()
        self.app.post("/dsp/{path:path}")(self._receive)

    async def _receive(self, path: str, request: Request) -> JSONResponse:
        body = await request.json()
        label = LABELS.get(negotiation_kind(body), str(body.get("@type")))
        entry = Received(path, body, label)
        self.received.append(entry)
        if path in ("negotiations/request", "transfers/request"):
            entry.assigned_pid = f"urn:tck:{path.split('/')[0]}:{next(self._ids)}"
            build = m.contract_negotiation if path.startswith("neg") else m.transfer_process
            ack = build(
                provider_pid=entry.assigned_pid, consumer_pid=body["consumerPid"], state="REQUESTED"
            )
            return JSONResponse(ack, status_code=201)
        return JSONResponse({}, status_code=200)


@dataclass
class Bench:
    connector: Connector
    client: httpx.AsyncClient  # speaks to the CUT as the TCK would
    tck: FakeTck


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def cut_settings(tmp_path: Path, *, tck_mode: bool = True) -> Settings:
    return Settings(
        name="cut",
        participant_id="urn:twinspace:cut",
        auth="none",
        public_url="http://cut.test",
        data_dir=tmp_path / "cut",
        api_key=API_KEY,
        tck_mode=tck_mode,
        manager_interval=0.01,
        backoff_base=0.01,
    )


@asynccontextmanager
async def bench(tmp_path: Path, *, tck_mode: bool = True) -> AsyncIterator[Bench]:
    router = HostRouter()
    tck = FakeTck()
    router.add("tck.test", tck.app)
    async with httpx.AsyncClient(transport=router) as shared:
        app = create_app(cut_settings(tmp_path, tck_mode=tck_mode), http_client=shared)
        router.add("cut.test", app)
        connector: Connector = app.state.connector
        if tck_mode:
            connector.ctx.script = Strategy(
                connector.negotiations, connector.transfers, step_delay=0
            )
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://cut.test",
                headers={"Authorization": TCK_ID},
            ) as client,
            connector.running(),
        ):
            yield Bench(connector, client, tck)


def _with_id(message: Json) -> Json:
    """The TCK gives every message a fresh ``@id``."""
    return {**message, "@id": f"urn:uuid:{uuid.uuid4()}"}


@dataclass
class Conversation:
    """One TCK case against the CUT: ``area`` is "negotiations" or "transfers"."""

    bench: Bench
    area: str
    key: str  # dataset (negotiations) or agreement (transfers)
    provider_pid: str = ""
    consumer_pid: str = ""
    cut_is_provider: bool = True
    matched: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def cut_pid(self) -> str:
        return self.provider_pid if self.cut_is_provider else self.consumer_pid

    @property
    def pids(self) -> dict[str, str]:
        return {"provider_pid": self.provider_pid, "consumer_pid": self.consumer_pid}

    # --- opening --------------------------------------------------------------------------------

    async def request(self) -> None:
        """The TCK (consumer) opens: a contract or transfer request to the CUT (provider)."""
        self.consumer_pid = f"urn:tck:consumer:{uuid.uuid4()}"
        if self.area == "negotiations":
            offer: Json = {"@id": tck_offer_id(self.key), "@type": "Offer", "target": self.key}
            offer["permission"] = [{"action": "use"}]
            body = m.contract_request(
                consumer_pid=self.consumer_pid, offer=offer, callback_address=TCK
            )
        else:
            body = m.transfer_request(
                consumer_pid=self.consumer_pid,
                agreement_id=self.key,
                format_="HttpData-PULL",
                callback_address=TCK,
            )
        r = await self.bench.client.post(f"/dsp/{self.area}/request", json=_with_id(body))
        assert r.status_code == 201, r.text
        self.provider_pid = r.json()["providerPid"]

    async def trigger(self) -> None:
        """The TCK (provider) signals the CUT (consumer) to start, through the trigger endpoint."""
        self.cut_is_provider = False
        if self.area == "negotiations":
            body = {"offerId": f"{self.key}-offer", "datasetId": self.key}
        else:
            body = {"agreementId": self.key, "format": "HttpData-PULL"}
        body.update(providerId=TCK_ID, connectorAddress=TCK)
        r = await self.bench.client.post(f"/tck/{self.area}/requests", json=body)
        assert r.status_code == 200, r.text
        self.consumer_pid = r.json()["consumerPid"]
        first = await self.expect("Request")
        assert first.assigned_pid is not None
        self.provider_pid = first.assigned_pid

    # --- steps ----------------------------------------------------------------------------------

    async def expect(self, label: str) -> Received:
        """The next message the CUT sends the TCK is ``label``."""
        index = self.matched
        received = self.bench.tck.received
        await wait_for(lambda: len(received) > index)
        got = received[index]
        assert got.label == label, f"expected {label}, got {got.label}: {got.body}"
        self.matched += 1
        return got

    async def send(self, what: str, *, refused: bool = False) -> httpx.Response:
        """The TCK sends ``what`` to the CUT; ``refused``: the CUT must answer 4xx."""
        suffix, body = self._message(what)
        r = await self.bench.client.post(
            f"/dsp/{self.area}/{self.cut_pid}/{suffix}", json=_with_id(body)
        )
        if refused:
            assert 400 <= r.status_code < 500, f"{what} was not refused: {r.status_code} {r.text}"
        else:
            assert r.status_code == 200, f"{what}: {r.status_code} {r.text}"
        return r

    async def state(self) -> str | None:
        r = await self.bench.client.get(f"/dsp/{self.area}/{self.cut_pid}")
        return str(r.json()["state"]) if r.status_code == 200 else None

    async def until(self, state: str) -> None:
        """The CUT's own view of the process reaches ``state`` (what the TCK polls)."""
        deadline = asyncio.get_running_loop().time() + 5.0
        while (current := await self.state()) != state:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"CUT stays {current}, expected {state}")
            await asyncio.sleep(0.01)

    async def nothing_more(self, settle: float = 0.2) -> list[str]:
        """After a pause, the CUT sent nothing the case did not expect; returns all labels."""
        await asyncio.sleep(settle)
        labels = [r.label for r in self.bench.tck.received]
        assert len(labels) == self.matched, f"unexpected messages: {labels[self.matched :]}"
        return labels

    async def run(self, steps: str) -> None:
        """Walk a case written as "request; expect Offer; send terminate; state TERMINATED":
        ``request`` / ``trigger`` open it, ``expect`` a message from the CUT, ``send`` one to it,
        ``refused`` one it must answer 4xx, ``state`` the CUT must reach."""
        for step in filter(None, (s.strip() for s in steps.split(";"))):
            op, *args = step.split()
            if op == "request":
                await self.request()
            elif op == "trigger":
                await self.trigger()
            elif op == "expect":
                await self.expect(args[0])
            elif op == "send":
                await self.send(args[0])
            elif op == "refused":
                await self.send(args[0], refused=True)
            elif op == "state":
                await self.until(args[0])
            else:
                raise ValueError(step)
            self.log.append(step)

    # --- messages the TCK sends -----------------------------------------------------------------

    def _message(self, what: str) -> tuple[str, Json]:
        p = self.pids
        if self.area == "transfers":
            if what == "start":
                address = m.data_address("http://tck.test/data", {"authorization": "tck"})
                return "start", m.transfer_start(data_address=address, **p)
            if what == "suspend":
                return "suspension", m.transfer_suspension(code="TCK", reason="tck", **p)
            if what == "complete":
                return "completion", m.transfer_completion(**p)
            if what == "terminate":
                return "termination", m.transfer_termination(code="TCK", reason="tck", **p)
            raise ValueError(what)
        offer = {
            "@id": f"{self.key}-offer",
            "@type": "Offer",
            "target": self.key,
            "permission": [{"action": "use"}],
        }
        if what == "counter":
            offer["@id"] = tck_offer_id(self.key)
            return "request", m.contract_request(offer=offer, **p)
        if what == "accept":
            return "events", m.negotiation_event(event_type="ACCEPTED", **p)
        if what == "verify":
            return "agreement/verification", m.agreement_verification(**p)
        if what == "offer":
            return "offers", m.contract_offer(offer={**offer, "assigner": TCK_ID}, **p)
        if what == "agreement":
            agreement = {
                "@id": f"urn:tck:agreement:{uuid.uuid4()}",
                "@type": "Agreement",
                "target": self.key,
                "assigner": TCK_ID,
                "assignee": "urn:twinspace:cut",
                "timestamp": isoformat(self.bench.connector.ctx.clock.now()),
                "permission": [{"action": "use"}],
            }
            return "agreement", m.contract_agreement(agreement=agreement, **p)
        if what == "finalize":
            return "events", m.negotiation_event(event_type="FINALIZED", **p)
        if what == "terminate":
            return "termination", m.negotiation_termination(code="TCK", reason="tck", **p)
        raise ValueError(what)
