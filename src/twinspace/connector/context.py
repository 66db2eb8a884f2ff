"""What every service needs, bundled: settings, store, clock, catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from twinspace.clock import Clock
from twinspace.connector.catalog import Catalog
from twinspace.settings import Settings
from twinspace.store import Conflict, Store

T = TypeVar("T")


@dataclass
class Context:
    settings: Settings
    store: Store
    clock: Clock
    catalog: Catalog

    @property
    def participant_id(self) -> str:
        return self.settings.participant_id


def retry_on_conflict(fn: Callable[[], T], attempts: int = 5) -> T:
    """Run a transactional function again when a concurrent writer won (optimistic locking)."""
    for _ in range(attempts - 1):
        try:
            return fn()
        except Conflict:
            continue
    return fn()
