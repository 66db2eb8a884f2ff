"""A small log: the log's key, two submitters, two witnesses, and an honest history."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from twinspace.identity import SigningKey, generate_key
from twinspace.ledger import (
    Checkpoint,
    MerkleTree,
    Receipt,
    SignedCheckpoint,
    entry_leaf,
    issue_receipt,
    make_entry,
    sign_checkpoint,
    sign_entry,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
LOG = "did:web:localhost%3A8100:authority"
CITY = "did:web:localhost%3A8101:city"
MOBILITY = "did:web:localhost%3A8102:mobility"
WITNESS = "did:web:localhost%3A8103:witness"
HASH = "ab" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tamper(token: str, change: Callable[[dict[str, Any]], None]) -> str:
    """Alter the payload of a JWS, keeping header and signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    change(claims)
    raw = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return f"{header}.{b64(raw)}.{signature}"


@dataclass
class Log:
    """An honest log as its operator runs it: entries, tree, checkpoints, receipts."""

    key: SigningKey
    city: SigningKey
    mobility: SigningKey
    witness: SigningKey
    entries: list[str] = field(default_factory=list)
    tree: MerkleTree = field(default_factory=MerkleTree)
    receipts: dict[int, str] = field(default_factory=dict)

    def submit(self, entry_jws: str, at: datetime) -> str:
        index = self.tree.append(entry_leaf(entry_jws))
        self.entries.append(entry_jws)
        receipt = Receipt(LOG, entry_leaf(entry_jws), index, at)
        self.receipts[index] = issue_receipt(receipt, self.key)
        return self.receipts[index]

    def transfer(self, n: int) -> str:
        """A transfer entry signed by the city."""
        at = START + timedelta(minutes=n)
        entry = make_entry(
            "transfer",
            {"transfer": f"urn:uuid:t-{n}", "agreement": "urn:uuid:a-1", "state": "STARTED"},
            submitter=CITY,
            at=at,
        )
        return sign_entry(entry, self.city)

    def grow(self, count: int) -> None:
        for _ in range(count):
            n = len(self.entries)
            self.submit(self.transfer(n), START + timedelta(minutes=n))

    def checkpoint(
        self, size: int | None = None, key: SigningKey | None = None
    ) -> SignedCheckpoint:
        size = self.tree.size if size is None else size
        cp = Checkpoint(LOG, size, self.tree.root(size), START + timedelta(hours=size))
        key = key or self.key
        return sign_checkpoint(cp, key) if key.kid.startswith(LOG + "#") else _sign_as(cp, key)

    def resolver(self, kid: str) -> SigningKey:
        return {k.kid: k for k in (self.city, self.mobility)}[kid]


def _sign_as(cp: Checkpoint, key: SigningKey) -> SignedCheckpoint:
    """A checkpoint of LOG signed by a key of another DID (an impostor)."""
    from twinspace.identity.keys import sign_jwt

    return SignedCheckpoint(sign_jwt(cp.claims(), key, typ="ts-checkpoint+jwt"))


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    return {
        "log": generate_key(f"{LOG}#log-1"),
        "city": generate_key(f"{CITY}#key-1"),
        "mobility": generate_key(f"{MOBILITY}#key-1", "P-256"),
        "witness": generate_key(f"{WITNESS}#key-1"),
    }


@pytest.fixture
def log(keys: dict[str, SigningKey]) -> Log:
    return Log(keys["log"], keys["city"], keys["mobility"], keys["witness"])
