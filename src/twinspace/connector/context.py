"""What every service needs, bundled: settings, store, clock, catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from twinspace.clock import Clock
from twinspace.connector.catalog import Catalog
from twinspace.settings import Settings
from twinspace.store import Asset, Negotiation, Store, Transfer, Tx
from twinspace.store import retry_on_conflict as retry_on_conflict  # its home is the store
from twinspace.usage.decisions import UsageControl

T = TypeVar("T")


class Script(Protocol):
    """TCK mode hook (twinspace.tck): scripted next actions instead of the default reactions.

    Each method returns True when the process is scripted (its next action, if any, is queued)
    and False to leave the process to the default behaviour.
    """

    def negotiation(self, tx: Tx, n: Negotiation, now: datetime) -> bool: ...

    def transfer(self, tx: Tx, t: Transfer, now: datetime) -> bool: ...


class Ledger(Protocol):
    """The transparency log hook (twinspace.transparency): queue a signed entry in ``tx``."""

    def record(
        self, tx: Tx, kind: str, subject: str, fields: Mapping[str, object], now: datetime
    ) -> None: ...


class AssetKind(Protocol):
    """An extension of the data plane serving one data-address ``type`` (e.g. the twin's
    ``NgsiLdQuery``): it validates such addresses, may offer extra distribution formats, and
    follows its transfers' states (called in the transaction that changes the state)."""

    def check(self, address: Mapping[str, Any]) -> None:
        """Raise ValueError (its message names the bad member) when ``address`` is invalid."""

    def formats(self, address: Mapping[str, Any]) -> tuple[str, ...]:
        """The formats offered for such an asset beyond the generic ones."""

    def refusal(self, asset: Asset, fmt: str) -> str | None:
        """Why a transfer of ``asset`` in ``fmt`` is refused (None: it is not)."""

    def transfer_changed(
        self, tx: Tx, t: Transfer, asset: Asset | None, now: datetime, *, stopping: bool = False
    ) -> None:
        """A provider stream of such an asset changed state, or (``stopping``) this side just
        queued its suspension, completion or termination; ``asset`` is None when deleted."""


@dataclass
class Context:
    settings: Settings
    store: Store
    clock: Clock
    catalog: Catalog
    #: Usage control: policies compiled once, decisions with reasons (twinspace.usage).
    usage: UsageControl
    #: TCK mode hook: consulted first by ``Negotiations.react`` / ``Transfers.react``; None = off.
    script: Script | None = None
    #: Transparency log: agreements and transfer states are logged (None: no log configured).
    ledger: Ledger | None = None
    #: Data-plane extensions by lower-case data-address type (shared with the catalog).
    kinds: dict[str, AssetKind] = field(default_factory=dict)

    @property
    def participant_id(self) -> str:
        return self.settings.participant_id
