"""A participant's side of the transparency log: what it must get logged, and getting it there.

Persist, then talk: an event (agreement concluded, transfer state reached, usage denied, duty
carried out) is written as a signed entry into ``log_submissions`` in the same transaction as the
change itself. :meth:`LogSubmitter.run_once` posts due entries to the log (the ``TransparencyLog``
service of the log's DID document), verifies the receipt (the log's key, this entry's leaf) and
stores it; failures are retried with backoff and stay visible (state, attempts, last error). It
also keeps every checkpoint the log showed it (``seen_checkpoints``) for later audits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from twinspace.clock import Clock
from twinspace.identity import IdentityError, SigningKey, export_public_jwk
from twinspace.identity.keys import peek_jwt
from twinspace.ledger.checkpoint import SignedCheckpoint, cosign, verify_checkpoint
from twinspace.ledger.entries import entry_leaf, make_entry, read_entry, sign_entry
from twinspace.ledger.errors import LedgerError
from twinspace.ledger.merkle import verify_consistency, verify_inclusion
from twinspace.ledger.receipts import verify_receipt
from twinspace.retry import backoff
from twinspace.store import (
    AlreadyExists,
    Conflict,
    LogSubmission,
    SeenCheckpoint,
    Store,
    Tx,
    tables,
)
from twinspace.trust.runtime import TrustRuntime

from .log import LOG_SERVICE

log = logging.getLogger("twinspace.transparency")

#: Submissions given up after this many attempts (they stay visible as FAILED).
MAX_ATTEMPTS = 50


def digest(document: Any) -> str:
    """SHA-256 (hex) of a JSON document's canonical form (what an entry says of an agreement)."""
    raw = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


class LogSubmitter:
    def __init__(self, *, log_did: str, trust: TrustRuntime, store: Store, clock: Clock) -> None:
        self.log_did = log_did
        self.trust = trust
        self.store = store
        self.clock = clock

    @property
    def key(self) -> SigningKey:
        return self.trust.key

    # --- recording (inside the caller's transaction) ---------------------------------------------

    def record(
        self, tx: Tx, kind: str, subject: str, fields: Mapping[str, object], now: datetime
    ) -> None:
        """Queue a signed entry about ``subject`` (idempotent for the same entry content)."""
        entry = make_entry(kind, fields, submitter=self.trust.did, at=now)
        submission_id = digest({"kind": kind, "subject": subject, **entry})[:32]
        if tx.log_submissions.find(submission_id) is not None:
            return
        tx.log_submissions.insert(
            LogSubmission(
                id=submission_id,
                kind=kind,
                subject=subject,
                entry=sign_entry(entry, self.key),
                next_attempt_at=now,
                created_at=now,
            )
        )

    # --- delivering -----------------------------------------------------------------------------

    async def endpoint(self) -> str:
        document = await self.trust.resolver.resolve(self.log_did)
        service = document.service(LOG_SERVICE)
        if service is None:
            raise IdentityError("unresolved", f"{self.log_did} lists no {LOG_SERVICE} service")
        return service.endpoint.rstrip("/")

    async def run_once(self) -> int:
        """Send every due submission once, as one batch; how many got their receipt."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            due = tx.log_submissions.due(now)
        if not due:
            return 0
        try:
            results = await self._send(due)
        except (IdentityError, LedgerError, OSError, ValueError) as exc:
            for submission in due:
                self._failed(submission, f"{type(exc).__name__}: {exc}")
            return 0
        done = 0
        for submission, result in zip(due, results, strict=True):
            try:
                index, receipt = await self._check(submission, result)
            except (IdentityError, LedgerError, ValueError) as exc:
                self._failed(submission, f"{type(exc).__name__}: {exc}")
                continue
            with self.store.transaction() as tx:
                tx.log_submissions.logged(submission.id, receipt, index, self.clock.now())
            done += 1
        if done:
            with contextlib.suppress(IdentityError, LedgerError, OSError, ValueError):
                await self.remember_checkpoint()
        return done

    async def _send(self, due: list[LogSubmission]) -> list[Any]:
        """POST the batch; the log's per-entry answers, in order."""
        import httpx

        url = await self.endpoint() + "/entries"
        try:
            response = await self.trust.http.post(
                url,
                json={"entries": [s.entry for s in due]},
                timeout=self.trust.settings.send_timeout,
            )
        except httpx.HTTPError as exc:
            raise OSError(f"the log at {url} is unreachable: {type(exc).__name__}") from None
        if response.status_code not in (200, 201):
            raise ValueError(f"the log answered HTTP {response.status_code}: {response.text[:300]}")
        results = response.json().get("results")
        if not isinstance(results, list) or len(results) != len(due):
            raise ValueError("the log's answer does not match the batch")
        return results

    async def _check(self, submission: LogSubmission, result: Any) -> tuple[int, str]:
        """The receipt of one entry, verified: the log's signature, this entry's leaf."""
        if not isinstance(result, dict) or "receipt" not in result:
            detail = result.get("message") if isinstance(result, dict) else result
            raise ValueError(f"the log refused the entry: {detail}")
        receipt_jws = result["receipt"]
        key = await self._log_key(receipt_jws)
        receipt = verify_receipt(receipt_jws, key, log=self.log_did)
        if receipt.leaf != entry_leaf(submission.entry):
            raise LedgerError("forged_receipt", "the receipt is for another entry")
        return receipt.index, str(receipt_jws)

    async def _log_key(self, token: object) -> Any:
        header, _ = peek_jwt(token)
        document = await self.trust.resolver.resolve(self.log_did)
        return document.find_key(str(header["kid"]), purpose="assertionMethod", at=self.clock.now())

    async def remember_checkpoint(self) -> None:
        """Fetch the log's current checkpoint, verify its signature and that it extends the last
        one seen (consistency proof), cosign it as a witness, and keep it (for audits)."""
        url = await self.endpoint() + "/checkpoint"
        response = await self.trust.http.get(url, timeout=self.trust.settings.send_timeout)
        signed = SignedCheckpoint.from_json(response.json())
        key = await self._log_key(signed.jws)
        checkpoint = verify_checkpoint(signed, key)
        with self.store.transaction() as tx:
            seen = [s for s in tx.seen_checkpoints.list() if s.size <= checkpoint.size]
        previous = max(seen, key=lambda s: s.size) if seen else None
        if previous is not None and previous.size != checkpoint.size:
            old = SignedCheckpoint.from_json(previous.signed).checkpoint
            proof_url = f"{await self.endpoint()}/proof/consistency"
            answer = await self.trust.http.get(
                proof_url, params={"old": old.size, "new": checkpoint.size}
            )
            proof = [bytes.fromhex(h) for h in answer.json().get("proof", [])]
            verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof)
        # witness: cosign what we verified, so others can see the log showed us the same
        cosigned = cosign(signed, self.key)
        with contextlib.suppress(OSError, ValueError):
            await self.trust.http.post(
                await self.endpoint() + "/cosignatures", json=cosigned.to_json()
            )
        try:
            with self.store.transaction() as tx:
                if tx.seen_checkpoints.find(checkpoint.size) is None:
                    tx.seen_checkpoints.insert(
                        SeenCheckpoint(
                            size=checkpoint.size,
                            root=checkpoint.root.hex(),
                            signed=cosigned.to_json(),
                            seen_at=self.clock.now(),
                        )
                    )
        except (AlreadyExists, Conflict):
            pass  # another round (or replica) kept the same checkpoint meanwhile

    def _failed(self, submission: LogSubmission, error: str) -> None:
        give_up = submission.attempts + 1 >= MAX_ATTEMPTS
        delay = timedelta(seconds=backoff(submission.attempts + 1, 0.5, 300.0))
        with self.store.transaction() as tx:
            tx.log_submissions.retry(
                submission.id, error, self.clock.now() + delay, give_up=give_up
            )
        log.warning("log submission %s (%s): %s", submission.id, submission.kind, error)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("log submission round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def trail(self, agreement_id: str) -> dict[str, Any]:
        """The log's trail of an agreement, verified: the checkpoint by the log's key, every
        entry's inclusion proof against it; plus this side's own submissions about it."""
        url = f"{await self.endpoint()}/trail/{agreement_id}"
        response = await self.trust.http.get(url, timeout=self.trust.settings.send_timeout)
        if response.status_code != 200:
            raise ValueError(f"the log answered HTTP {response.status_code}")
        body = response.json()
        signed = SignedCheckpoint.from_json(body.get("checkpoint"))
        checkpoint = verify_checkpoint(signed, await self._log_key(signed.jws))
        entries = []
        for item in body.get("entries", []):
            proof = [bytes.fromhex(h) for h in item.get("proof", [])]
            verify_inclusion(
                entry_leaf(item["entry"]), item["index"], checkpoint.size, proof, checkpoint.root
            )
            entry = read_entry(item["entry"])
            entries.append(
                {
                    "index": item["index"],
                    "kind": entry.kind,
                    "submitter": entry.submitter,
                    "entry": dict(entry.entry),
                    "proofVerified": True,
                }
            )
        with self.store.transaction() as tx:
            mine = tx.log_submissions.about(agreement_id)
        return {
            "agreementId": agreement_id,
            "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex()},
            "entries": entries,
            "mine": [
                {"kind": s.kind, "state": s.state, "index": s.leaf_index, "lastError": s.last_error}
                for s in mine
            ],
        }

    async def view(self) -> dict[str, Any]:
        """What ``twinspace audit`` needs from this participant: the log, its keys, the
        receipts and the checkpoints seen (oldest first), and the submissions' states."""
        document = await self.trust.resolver.resolve(self.log_did)
        with self.store.transaction() as tx:
            subs = tx.log_submissions.list(order=tables.log_submissions.c.created_at)
            seen = sorted(tx.seen_checkpoints.list(), key=lambda s: s.size)
        return {
            "log": self.log_did,
            "logUrl": await self.endpoint(),
            "logKeys": {kid: export_public_jwk(m.key) for kid, m in document.methods.items()},
            "receipts": [s.receipt for s in subs if s.receipt],
            "checkpoints": [s.signed for s in seen],
            "submissions": [
                {
                    "id": s.id,
                    "kind": s.kind,
                    "subject": s.subject,
                    "state": s.state,
                    "index": s.leaf_index,
                    "attempts": s.attempts,
                    "lastError": s.last_error,
                }
                for s in subs
            ],
        }
