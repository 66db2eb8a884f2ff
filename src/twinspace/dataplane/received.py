"""Where a consumer keeps what it received for a transfer: ``<data_dir>/received/<name>``;
and who receives a stream's notifications (the twin: ``StreamReceiver``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from twinspace.store import Transfer

RECEIVED_DIR = "received"


def received_name(transfer_id: str) -> str:
    """A file name safe on any file system, derived from the transfer id."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", transfer_id).strip("._") or "transfer"
    return safe[:200]


def received_path(data_dir: Path, transfer_id: str) -> Path:
    return data_dir / RECEIVED_DIR / received_name(transfer_id)


class StreamRefused(Exception):
    """A pushed notification is refused: ``status`` and a clear ``reason`` (nothing applied)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


#: Applies one pushed notification of a stream: (the consumer's transfer, the body, its
#: Content-Type, its Link header); raises StreamRefused.
StreamReceiver = Callable[[Transfer, bytes, str, str | None], Awaitable[Any]]
