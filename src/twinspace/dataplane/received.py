"""Where a consumer keeps what it received for a transfer: ``<data_dir>/received/<name>``."""

from __future__ import annotations

import re
from pathlib import Path

RECEIVED_DIR = "received"


def received_name(transfer_id: str) -> str:
    """A file name safe on any file system, derived from the transfer id."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", transfer_id).strip("._") or "transfer"
    return safe[:200]


def received_path(data_dir: Path, transfer_id: str) -> Path:
    return data_dir / RECEIVED_DIR / received_name(transfer_id)
