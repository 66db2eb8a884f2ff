"""Store errors: services translate these into protocol errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StoreError(Exception):
    pass


class NotFound(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class AlreadyExists(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} already exists")
        self.kind = kind
        self.key = key


class Conflict(StoreError):
    """A concurrent writer changed the row first (optimistic locking)."""


def retry_on_conflict(fn: Callable[[], T], attempts: int = 5) -> T:
    """Run a transactional function again when a concurrent writer won (optimistic locking)."""
    for _ in range(attempts - 1):
        try:
            return fn()
        except Conflict:
            continue
    return fn()
