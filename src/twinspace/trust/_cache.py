"""A bounded (LRU) TTL cache with the "authority unreachable" policy shared by both adapters."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from twinspace.clock import Clock
from twinspace.identity import IdentityError

from ._http import FetchFailure

log = logging.getLogger("twinspace.trust")

T = TypeVar("T")
OnUnreachable = Literal["refuse", "stale"]


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    expires: datetime


class TtlCache(Generic[T]):
    """Entries live ``ttl``; with ``on_unreachable="stale"`` an expired entry stays usable for
    ``stale_grace`` more, but only while refreshing it fails because the authority is
    unreachable. At most ``max_entries`` entries (least recently used evicted first); the last
    failure per key is kept so the synchronous views can repeat its message."""

    def __init__(
        self,
        clock: Clock,
        *,
        what: str,
        ttl_seconds: float,
        on_unreachable: OnUnreachable,
        stale_grace_seconds: float,
        max_entries: int,
    ) -> None:
        if ttl_seconds <= 0 or stale_grace_seconds < 0 or max_entries < 1:
            raise ValueError("ttl_seconds > 0, stale_grace_seconds >= 0, max_entries >= 1")
        if on_unreachable not in ("refuse", "stale"):
            raise ValueError(f"on_unreachable must be 'refuse' or 'stale', not {on_unreachable!r}")
        self._clock = clock
        self._what = what
        self._ttl = timedelta(seconds=ttl_seconds)
        self._grace = timedelta(seconds=stale_grace_seconds if on_unreachable == "stale" else 0)
        self._max = max_entries
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._errors: OrderedDict[str, IdentityError] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _error(self, key: str, error: IdentityError) -> None:
        self._errors[key] = error
        self._errors.move_to_end(key)
        while len(self._errors) > self._max:
            self._errors.popitem(last=False)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)
        self._errors.pop(key, None)

    def usable(self, key: str) -> T:
        """The cached value if fresh, or within the stale grace; else the last failure (or a
        plain ``unresolved``). Never does I/O: this is what the synchronous views call."""
        entry = self._entries.get(key)
        now = self._clock.now()
        if entry is not None and now < entry.expires + self._grace:
            self._entries.move_to_end(key)
            return entry.value
        error = self._errors.get(key)
        if error is not None:
            raise IdentityError(error.code, error.message)
        if entry is not None:
            raise IdentityError("unresolved", f"{self._what} {key}: cached copy expired")
        raise IdentityError("unresolved", f"{self._what} {key}: not fetched (prefetch it first)")

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Fresh cached value, or ``await load()``; on an unreachable authority fall back to
        the expired copy within the grace, otherwise refuse with the fetch's message."""
        entry = self._entries.get(key)
        now = self._clock.now()
        if entry is not None and now < entry.expires:
            self._entries.move_to_end(key)
            return entry.value
        try:
            value = await load()
        except FetchFailure as exc:
            if not exc.unreachable or entry is None:
                self._entries.pop(key, None)
                self._error(key, exc)
                raise
            if now < entry.expires + self._grace:
                log.warning(
                    "%s; using the copy cached until %s (stale grace until %s)",
                    exc.message,
                    entry.expires.isoformat(),
                    (entry.expires + self._grace).isoformat(),
                )
                self._entries.move_to_end(key)
                return entry.value
            error = IdentityError(
                "unresolved",
                f"{exc.message}; the cached copy expired at {entry.expires.isoformat()}"
                + (" and its stale grace is over" if self._grace else ""),
            )
            self._entries.pop(key, None)
            self._error(key, error)
            raise error from None
        self._entries[key] = _Entry(value, now + self._ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        self._errors.pop(key, None)
        return value
