"""One participant's connector: the services, the outbound manager, and their lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from twinspace.clock import Clock, SystemClock
from twinspace.connector.catalog import Catalog
from twinspace.connector.context import AssetKind, Context
from twinspace.connector.dispatcher import HttpDispatcher
from twinspace.connector.manager import OutboxManager, Pusher
from twinspace.connector.negotiations import Negotiations
from twinspace.connector.transfers import Transfers
from twinspace.dataplane.received import StreamReceiver
from twinspace.dataplane.sources import SourceOpener
from twinspace.settings import Settings
from twinspace.store import DutyRecord, Store, Tx
from twinspace.transparency.submitter import LogSubmitter
from twinspace.trust.enrolment import Enrolment
from twinspace.trust.holder import CredentialService
from twinspace.trust.participant import ParticipantIdentity, load_identity
from twinspace.trust.runtime import TrustRuntime
from twinspace.usage.decisions import UsageControl
from twinspace.usage.duties import DutyRunner
from twinspace.usage.log import log_event
from twinspace.usage.monitor import PolicyMonitor


class Connector:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        http_client: httpx.AsyncClient | None = None,
        pusher_factory: Callable[[Connector], Pusher] | None = None,
        identity: ParticipantIdentity | None = None,
    ) -> None:
        self._own_store = store is None
        self.store = store or Store.open(settings.effective_database_url())
        kinds: dict[str, AssetKind] = {}
        self.ctx = Context(
            settings=settings,
            store=self.store,
            clock=clock or SystemClock(),
            catalog=Catalog(settings.participant_id, settings.dsp_url(), kinds),
            usage=UsageControl(settings.dataspace),
            kinds=kinds,
        )
        #: Extra data-plane sources by lower-case data-address type (the twin's NgsiLdQuery).
        self.sources: dict[str, SourceOpener] = {}
        #: Receives the notifications of twin streams we consume (None: no twin here).
        self.stream_receiver: StreamReceiver | None = None
        self._own_client = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=settings.send_timeout)
        #: The DCP trust layer (None with ``auth=none``, the unauthenticated development profile).
        self.trust: TrustRuntime | None = None
        self.credentials: CredentialService | None = None
        self.ledger: LogSubmitter | None = None
        self.enrolment: Enrolment | None = None
        if settings.auth == "dcp":
            identity = identity or load_identity(settings, self.ctx.clock)
            self.trust = TrustRuntime(
                settings,
                did=identity.did,
                key=identity.keyring,
                store=self.store,
                clock=self.ctx.clock,
                http=self.http,
            )
            self.credentials = CredentialService(self.trust)
            log_did = settings.log_did()
            if log_did:
                self.ledger = LogSubmitter(
                    log_did=log_did, trust=self.trust, store=self.store, clock=self.ctx.clock
                )
                self.ctx.ledger = self.ledger
            if settings.authority:
                self.enrolment = Enrolment(self.trust, settings.authority)
        #: This participant's DID and keys (None only with auth=none and no identity given).
        self.identity = identity
        self.negotiations = Negotiations(self.ctx)
        self.transfers = Transfers(self.ctx)
        self.monitor = PolicyMonitor(self.ctx, self.transfers, self.trust, self.wake)
        self.duties = DutyRunner(self.ctx, self.notify)
        pusher: Pusher | None = pusher_factory(self) if pusher_factory else None
        self.manager = OutboxManager(
            self.ctx,
            self.negotiations,
            self.transfers,
            HttpDispatcher(self.http, self.authorization, settings.send_timeout),
            pusher,
        )

    async def notify(self, duty: DutyRecord) -> None:
        """Carry out a notify duty: tell the provider its data was used (DSP-authenticated)."""
        with self.store.transaction() as tx:
            agreement = tx.agreements.get(duty.agreement_id)
        address = str(duty.detail.get("address") or "")
        body = {
            "agreementId": agreement.id,
            "transferId": duty.transfer_id,
            "event": "used",
            "duty": duty.detail.get("path"),
            "at": self.ctx.clock.now().isoformat(),
        }
        response = await self.http.post(
            address.rstrip("/") + "/usage/notifications",
            json=body,
            headers={"Authorization": self.authorization(agreement.provider_id)},
            timeout=self.ctx.settings.send_timeout,
        )
        if not response.is_success:
            raise RuntimeError(f"the provider answered HTTP {response.status_code}")

    def record_notification(
        self, agreement_id: str, caller: str | None, body: dict[str, Any]
    ) -> bool:
        """Provider: a consumer's usage notification for one of our agreements with it."""
        with self.store.transaction() as tx:
            agreement = tx.agreements.find(agreement_id)
            if agreement is None or agreement.provider_id != self.ctx.participant_id:
                return False
            if caller is not None and agreement.consumer_id not in (caller, "unknown"):
                return False
            log_event(
                tx,
                agreement_id,
                "notification",
                self.ctx.clock.now(),
                consumer=caller,
                reported=str(body.get("event", ""))[:64],
                consumerTransfer=str(body.get("transferId", ""))[:512],
            )
        return True

    def authorization(self, audience: str | None) -> str:
        """The ``Authorization`` value for a DSP call to ``audience`` (a participant id).

        Under DCP a self-issued ID token for that DID (``ValueError`` if it is unknown);
        unauthenticated, this participant's id (the profile of decision record 0004)."""
        if self.trust is None:
            return self.ctx.settings.participant_id
        if not audience or not audience.startswith("did:"):
            raise ValueError(
                f"the counter-party's DID is not known ({audience!r}); with auth=dcp every "
                "call is addressed to a DID (give counterPartyId)"
            )
        return self.trust.bearer(audience)

    def wake(self) -> None:
        self.manager.wake()

    def visible_to(self, claims: dict[str, Any] | None, tx: Tx) -> Callable[[dict[str, Any]], bool]:
        """Whether an access policy lets the caller (``claims`` snapshot) see an offer."""
        facts = self.ctx.usage.facts(claims, now=self.ctx.clock.now(), tx=tx)
        caller = (claims or {}).get("did")

        def visible(policy: dict[str, Any]) -> bool:
            decision = self.ctx.usage.decide(policy, moment="catalog", facts=facts, assignee=caller)
            return decision.allowed

        return visible

    def catalog_page(
        self, offset: int, limit: int, claims: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        with self.store.transaction() as tx:
            datasets = self.ctx.catalog.datasets(tx, self.visible_to(claims, tx))
        return datasets[offset : offset + limit], len(datasets)

    def dataset(
        self, dataset_id: str, claims: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        with self.store.transaction() as tx:
            asset = tx.assets.find(dataset_id)
            if asset is None:
                return None
            return self.ctx.catalog.dataset(tx, asset, self.visible_to(claims, tx))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Connector]:
        """Run the outbound manager (if enabled) and the credential enrolment (if an authority is
        configured) for the duration of the block."""
        stop = asyncio.Event()
        tasks = []
        name = self.ctx.settings.name
        if self.ctx.settings.run_managers:
            tasks.append(asyncio.create_task(self.manager.run(stop), name=f"manager-{name}"))
        if self.enrolment is not None:
            tasks.append(asyncio.create_task(self.enrolment.run(stop), name=f"enrolment-{name}"))
        if self.ctx.settings.run_managers:
            every = self.ctx.settings.policy_monitor_seconds
            tasks.append(asyncio.create_task(self.monitor.run(stop, every), name=f"monitor-{name}"))
            tasks.append(asyncio.create_task(self.duties.run(stop, every), name=f"duties-{name}"))
        if self.ledger is not None:
            interval = max(self.ctx.settings.manager_interval * 5, 0.1)
            tasks.append(
                asyncio.create_task(self.ledger.run(stop, interval), name=f"ledger-{name}")
            )
        try:
            yield self
        finally:
            stop.set()
            for task in tasks:
                await task
            if self._own_client:
                await self.http.aclose()
            if self._own_store:  # ends the WAL checkpointer; the engine reconnects if used
                self.store.close()
