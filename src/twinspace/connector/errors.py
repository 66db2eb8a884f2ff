"""Errors a service raises; the API layer maps each to the protocol's own error format."""

from __future__ import annotations

from typing import TypedDict


class Pids(TypedDict, total=False):
    """The process ids to echo in an error body."""

    provider_pid: str | None
    consumer_pid: str | None


class BothPids(TypedDict):
    """Both process ids of a known process (for building messages)."""

    provider_pid: str
    consumer_pid: str


class ProtocolError(Exception):
    """A DSP request that cannot be honoured.

    ``area`` picks the error body: ``negotiation`` -> ContractNegotiationError,
    ``transfer`` -> TransferError, ``catalog`` -> CatalogError.
    """

    def __init__(
        self,
        area: str,
        status: int,
        code: str,
        reason: str,
        *,
        provider_pid: str | None = None,
        consumer_pid: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.area = area
        self.status = status
        self.code = code
        self.reason = reason
        self.provider_pid = provider_pid
        self.consumer_pid = consumer_pid


class ManagementError(Exception):
    """A management API request that cannot be honoured (mapped to an EDC-style error list)."""

    def __init__(self, status: int, message: str, kind: str = "InvalidRequest") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def not_found(area: str, what: str, **pids: str | None) -> ProtocolError:
    return ProtocolError(area, 404, "NOT_FOUND", f"{what} not found", **pids)


def bad_request(
    area: str, reason: str, code: str = "BAD_REQUEST", **pids: str | None
) -> ProtocolError:
    return ProtocolError(area, 400, code, reason, **pids)
