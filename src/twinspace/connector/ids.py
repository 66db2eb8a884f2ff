"""Identifiers."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any


def new_pid() -> str:
    """A fresh process id, as DSP suggests: ``urn:uuid:<GUID>``."""
    return f"urn:uuid:{uuid.uuid4()}"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def offer_id(contract_definition_id: str, asset_id: str) -> str:
    """A stable offer id naming the contract definition and asset it was made from."""
    return f"{_b64(contract_definition_id)}:{_b64(asset_id)}"


def parse_offer_id(value: str) -> tuple[str, str] | None:
    parts = value.split(":")
    if len(parts) != 2:
        return None
    try:
        return _unb64(parts[0]), _unb64(parts[1])
    except (ValueError, UnicodeDecodeError):
        return None


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
