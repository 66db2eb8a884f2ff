"""The log service: accepts signed entries, appends them to an RFC 9162 tree kept in the store,
answers with a signed receipt, publishes signed checkpoints, serves entries and proofs.

One writer: appends are serialised by a lock in this process (run one log process per store).
The tree is rebuilt from the stored leaf hashes at start-up. A resubmitted entry (same signed
bytes) gets its first index and receipt time again, so a client that lost the answer may retry.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any

from twinspace.clock import Clock
from twinspace.identity import IdentityError, SigningKey
from twinspace.ledger.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from twinspace.ledger.entries import SignedEntry, read_entry, verify_entry
from twinspace.ledger.errors import LedgerError
from twinspace.ledger.merkle import MerkleTree
from twinspace.ledger.receipts import Receipt, issue_receipt
from twinspace.store import AlreadyExists, Conflict, LogCheckpoint, LogLeaf, Store
from twinspace.trust.keyring import KeyRing
from twinspace.trust.participant import LOG_SERVICE as LOG_SERVICE
from twinspace.trust.resolver import HttpDidResolver

#: Most entries one page of ``entries()`` returns.
MAX_PAGE = 1000


class LogServiceError(Exception):
    """A request the log refuses: ``status`` 400/404, ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _subject(entry: dict[str, Any]) -> str:
    """What an entry is about (for trails): the agreement, else the transfer or consent id."""
    for key in ("agreement", "transfer", "consent"):
        if isinstance(entry.get(key), str):
            return str(entry[key])
    return str(entry.get("submitter"))


class LogService:
    def __init__(
        self,
        *,
        did: str,
        key: SigningKey | KeyRing,
        store: Store,
        clock: Clock,
        resolver: HttpDidResolver,
    ) -> None:
        self.did = did
        self._key = key
        self.store = store
        self.clock = clock
        self.resolver = resolver
        self._tree: MerkleTree | None = None
        self._append = asyncio.Lock()
        self._load = threading.Lock()
        self._sign = threading.Lock()

    @property
    def key(self) -> SigningKey:
        """The key the log signs with now (a participant's follows its key rotation)."""
        return self._key.current if isinstance(self._key, KeyRing) else self._key

    @property
    def tree(self) -> MerkleTree:
        with self._load:
            if self._tree is None:
                with self.store.transaction() as tx:
                    hashes = tx.log_leaves.hashes()
                self._tree = MerkleTree.from_leaves(bytes.fromhex(h) for h in hashes)
            return self._tree

    # --- appending ------------------------------------------------------------------------------

    async def submit(self, entry_jws: object) -> dict[str, Any]:
        """Verify a signed entry (the submitter's key from its DID document), append it, and
        answer ``{"index", "receipt"}``; ``LogServiceError`` (400) for anything refused."""
        [answer] = await self.submit_many([entry_jws])
        if "error" in answer:
            raise LogServiceError(400, answer["error"], answer["message"])
        return answer

    async def submit_many(self, entries: list[object]) -> list[dict[str, Any]]:
        """Verify each entry, then append all accepted ones in one transaction (group commit);
        per entry ``{"index", "receipt"}`` or ``{"error", "message"}``, in the given order."""
        now = self.clock.now()
        answers: list[dict[str, Any]] = []
        accepted: list[tuple[int, SignedEntry]] = []
        for position, entry_jws in enumerate(entries):
            try:
                signed = await self._verified(entry_jws, now)
            except LogServiceError as exc:
                answers.append({"error": exc.code, "message": exc.message})
                continue
            answers.append({})
            accepted.append((position, signed))
        if accepted:
            tree = await asyncio.to_thread(lambda: self.tree)
            async with self._append:
                placed = await asyncio.to_thread(
                    self._store_leaves, tree, [s for _, s in accepted], now
                )
            for (position, signed), (index, at) in zip(accepted, placed, strict=True):
                receipt = Receipt(log=self.did, leaf=signed.leaf, index=index, timestamp=at)
                answers[position] = {"index": index, "receipt": issue_receipt(receipt, self.key)}
        return answers

    async def _verified(self, entry_jws: object, now: datetime) -> SignedEntry:
        try:
            signed = read_entry(entry_jws)
        except LedgerError as exc:
            raise LogServiceError(400, exc.code, exc.message) from None
        try:
            document = await self.resolver.resolve(signed.submitter)
            key = document.find_key(signed.kid, purpose="assertionMethod", at=now)
        except IdentityError as exc:
            raise LogServiceError(400, exc.code, exc.message) from None
        try:
            verify_entry(signed.jws, key)
        except LedgerError as exc:
            raise LogServiceError(400, exc.code, exc.message) from None
        return signed

    def _store_leaves(
        self, tree: MerkleTree, entries: list[SignedEntry], now: datetime
    ) -> list[tuple[int, datetime]]:
        """Store new leaves in one transaction, then add them to the tree (a resubmitted entry
        keeps its first index and time)."""
        placed: list[tuple[int, datetime]] = []
        new: list[LogLeaf] = []
        seen: dict[str, int] = {}
        with self.store.transaction() as tx:
            for signed in entries:
                leaf = signed.leaf.hex()
                known = tx.log_leaves.find_hash(leaf)
                if known is not None:
                    placed.append((known.idx, known.received_at))
                    continue
                if leaf in seen:  # the same entry twice in one batch
                    placed.append((seen[leaf], now))
                    continue
                index = tree.size + len(new)
                seen[leaf] = index
                new.append(
                    LogLeaf(
                        idx=index,
                        leaf_hash=leaf,
                        entry=signed.jws,
                        submitter=signed.submitter,
                        kind=signed.kind,
                        subject=_subject(dict(signed.entry)),
                        received_at=now,
                    )
                )
                placed.append((index, now))
            tx.log_leaves.add_many(new)
        tree.extend(bytes.fromhex(leaf.leaf_hash) for leaf in new)  # only once stored
        return placed

    # --- reading --------------------------------------------------------------------------------

    def checkpoint(self) -> SignedCheckpoint:
        """The signed tree head of the current size (signed once per size, then kept: every
        caller gets the same JWS for a size, which witnesses cosign)."""
        tree = self.tree
        with self._sign:
            size = tree.size
            with self.store.transaction() as tx:
                stored = tx.log_checkpoints.find(size)
            if stored is not None:
                return SignedCheckpoint.from_json(stored.signed)
            now = self.clock.now()
            signed = sign_checkpoint(
                Checkpoint(origin=self.did, size=size, root=tree.root(size), timestamp=now),
                self.key,
            )
            try:
                with self.store.transaction() as tx:
                    tx.log_checkpoints.insert(
                        LogCheckpoint(size, tree.root(size).hex(), signed.to_json(), now)
                    )
            except (AlreadyExists, Conflict):  # another log process signed this size first
                with self.store.transaction() as tx:
                    return SignedCheckpoint.from_json(tx.log_checkpoints.get(size).signed)
            return signed

    def add_cosignature(self, data: object) -> SignedCheckpoint:
        """A witness's cosignature of a checkpoint this log published (kept with it)."""
        try:
            offered = SignedCheckpoint.from_json(data)
        except LedgerError as exc:
            raise LogServiceError(400, exc.code, exc.message) from None
        with self.store.transaction() as tx:
            stored = tx.log_checkpoints.find(offered.checkpoint.size)
            if stored is None:
                raise LogServiceError(404, "not_found", "this log published no such checkpoint")
            ours = SignedCheckpoint.from_json(stored.signed)
            if ours.jws != offered.jws:
                raise LogServiceError(400, "fork", "that is not the checkpoint this log signed")
            merged = SignedCheckpoint(
                ours.jws, tuple(dict.fromkeys([*ours.cosignatures, *offered.cosignatures]))
            )
            stored.signed = merged.to_json()
            tx.log_checkpoints.replace(stored)
        return merged

    def _size(self, value: int, what: str, *, upto: int | None = None) -> int:
        limit = self.tree.size if upto is None else upto
        if not 0 <= value <= limit:
            raise LogServiceError(400, "malformed", f"{what} {value} is outside 0..{limit}")
        return value

    def inclusion(self, index: int, size: int) -> list[str]:
        self._size(size, "size")
        if not 0 <= index < size:
            raise LogServiceError(400, "malformed", f"index {index} is not below size {size}")
        return [h.hex() for h in self.tree.inclusion_proof(index, size)]

    def consistency(self, old: int, new: int) -> list[str]:
        self._size(new, "new size")
        self._size(old, "old size", upto=new)
        return [h.hex() for h in self.tree.consistency_proof(old, new)]

    def entries(self, start: int, end: int) -> list[dict[str, Any]]:
        size = self.tree.size
        if start < 0 or end < start:
            raise LogServiceError(400, "malformed", "start must be >= 0 and end >= start")
        end = min(end, size, start + MAX_PAGE)
        with self.store.transaction() as tx:
            leaves = tx.log_leaves.range(start, end)
        return [{"index": leaf.idx, "entry": leaf.entry} for leaf in leaves]

    def trail(self, subject: str) -> dict[str, Any]:
        """Everything logged about ``subject`` (an agreement or transfer id), each entry with
        its inclusion proof against the current checkpoint."""
        signed = self.checkpoint()
        size = signed.checkpoint.size
        with self.store.transaction() as tx:
            leaves = [leaf for leaf in tx.log_leaves.about(subject) if leaf.idx < size]
        return {
            "checkpoint": signed.to_json(),
            "entries": [
                {
                    "index": leaf.idx,
                    "entry": leaf.entry,
                    "kind": leaf.kind,
                    "submitter": leaf.submitter,
                    "receivedAt": leaf.received_at.isoformat(),
                    "proof": self.inclusion(leaf.idx, size),
                }
                for leaf in leaves
            ],
        }
