"""The audit: does the log hold what it signed, and did it show everyone the same history?

Pure: the caller fetches the log's entries (as stored: the signed entry JWSs, in log order), and
brings what it has seen itself: the checkpoints (oldest first), its receipts, and optionally the
checkpoints other witnesses saw. :func:`audit` recomputes the tree and checks

1. the entries reproduce the root of the largest checkpoint seen (else ``removed_entry`` when
   there are fewer entries than it commits to, ``reordered`` / ``changed_entry`` otherwise,
   told apart with the receipts);
2. every receipt is signed by the log (``forged_receipt``), its leaf is the entry at its index
   (``changed_entry``, ``reordered``, ``removed_entry``) and an inclusion proof leads to the
   checkpoint root;
3. each consecutive pair of seen checkpoints is linked by a consistency proof
   (``consistency`` when the older one is not a prefix of the newer);
4. no two checkpoints from anyone disagree (``fork``: same size, different roots; or another
   witness's checkpoint that does not fit the entries the log serves);
5. no checkpoint is smaller than one seen before it (``rollback``);
6. with a ``resolver`` (key id -> key), each entry's submitter signature (``signature``,
   ``unknown_key``).

Every checkpoint must verify with the log's key first (``signature`` / ``unknown_key``: signed by
the wrong key); those that do not are left out of the other checks. It never raises for bad
input: everything becomes a finding in the :class:`AuditReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ._jose import KeyLike, did_of, resolve_key
from .checkpoint import Checkpoint, SignedCheckpoint, verify_checkpoint
from .entries import SignedEntry, entry_leaf, read_entry, verify_entry
from .errors import ErrorCode, LedgerError
from .merkle import EMPTY_ROOT, MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from .receipts import Receipt, verify_receipt

KeyResolver = Callable[[str], KeyLike]


@dataclass
class AuditReport:
    """What was verified (``checked``, lines to print) and what failed (``problems``)."""

    checked: list[str] = field(default_factory=list)
    problems: list[LedgerError] = field(default_factory=list)
    size: int = 0
    root: bytes = EMPTY_ROOT

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def problem(self, code: ErrorCode, message: str) -> None:
        self.problems.append(LedgerError(code, message))


def _short(value: bytes) -> str:
    return value.hex()[:12]


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


@dataclass(frozen=True)
class _Seen:
    checkpoint: Checkpoint
    who: str  # "you" or "witness <name>"
    position: int  # 1-based in its list


class _Auditor:
    def __init__(self, log_key: KeyLike, log: str | None) -> None:
        self.report = AuditReport()
        self.log_key = log_key
        self.log = log
        self.tree = MerkleTree()
        self.where: dict[bytes, list[int]] = {}

    # -- inputs -------------------------------------------------------------------------------

    def checkpoints(self, signed: Sequence[Any], who: str) -> list[_Seen]:
        valid: list[_Seen] = []
        for position, item in enumerate(signed, 1):
            label = f"checkpoint #{position} seen by {who}"
            try:
                value = (
                    item if isinstance(item, SignedCheckpoint) else SignedCheckpoint.from_json(item)
                )
                checkpoint = verify_checkpoint(value, self.log_key)
                if self.log is not None and checkpoint.origin != self.log:
                    raise LedgerError(
                        "unknown_key",
                        f"it is a checkpoint of {checkpoint.origin!r}, not {self.log!r}",
                    )
            except LedgerError as exc:
                detail = (
                    "signed by the wrong key: " if exc.code in ("signature", "unknown_key") else ""
                )
                self.report.problem(exc.code, f"{label}: {detail}{exc.message}")
                continue
            valid.append(_Seen(checkpoint, who, position))
        return valid

    def entries(self, entries: Sequence[object], resolver: KeyResolver | None) -> None:
        signers: set[str] = set()
        bad = 0
        for index, jws in enumerate(entries):
            bad_leaf = False
            try:
                leaf = entry_leaf(jws)  # type: ignore[arg-type]
            except LedgerError as exc:
                bad_leaf = True
                self.report.problem("malformed", f"entry {index}: {exc.message}")
                leaf = leaf_hash(repr(jws).encode("utf-8", "replace"))
                bad += 1
            self.tree.append(leaf)
            self.where.setdefault(leaf, []).append(index)
            if bad_leaf:
                continue
            try:
                signed = read_entry(jws)
            except LedgerError as exc:
                self.report.problem(exc.code, f"entry {index} is not a valid entry: {exc.message}")
                bad += 1
                continue
            if resolver is not None and not self._signature(index, signed, resolver):
                bad += 1
            signers.add(signed.submitter)
        self.report.size = self.tree.size
        self.report.root = self.tree.root()
        self.report.checked.append(
            f"{_plural(self.tree.size, 'entry', 'entries')} read, "
            f"tree root {_short(self.report.root)}..."
        )
        if resolver is not None:
            self.report.checked.append(
                f"submitter signatures: {self.tree.size - bad} of {self.tree.size} verify "
                f"({_plural(len(signers), 'submitter')})"
            )
        else:
            self.report.checked.append("submitter signatures not checked (no key resolver)")

    def _signature(self, index: int, signed: SignedEntry, resolver: KeyResolver) -> bool:
        label = f"entry {index} ({signed.kind} by {signed.submitter})"
        try:
            key = resolver(signed.kid)
        except Exception as exc:  # a caller's resolver may fail in any way
            self.report.problem("unknown_key", f"{label}: no key for {signed.kid!r} ({exc})")
            return False
        try:
            verify_entry(signed.jws, key)
        except LedgerError as exc:
            message = exc.message
            if exc.code == "signature":
                message = "the submitter's signature does not verify (changed after signing?)"
            self.report.problem(exc.code, f"{label}: {message}")
            return False
        return True

    # -- checks ---------------------------------------------------------------------------------

    def matches(self, checkpoint: Checkpoint) -> bool:
        size = checkpoint.size
        return size <= self.tree.size and self.tree.root(size) == checkpoint.root

    def receipts(
        self, receipts: Sequence[object], newest: Checkpoint | None, committed: int
    ) -> set[str]:
        found: set[str] = set()
        counts = {"signed": 0, "included": 0, "pending": 0, "at_index": 0}
        origin = self.log or (newest.origin if newest else None)
        for position, jws in enumerate(receipts, 1):
            try:
                receipt = verify_receipt(jws, self.log_key, log=origin)
            except LedgerError as exc:
                self.report.problem(exc.code, f"receipt #{position}: {exc.message}")
                continue
            counts["signed"] += 1
            status = self._receipt(receipt, newest, committed)
            if status in counts:
                counts[status] += 1
                counts["at_index"] += 1
            else:
                found.add(status)
        if receipts:
            line = (
                f"receipts: {counts['signed']} of {len(receipts)} signed by the log, "
                f"{counts['at_index']} find their entry at the promised index"
            )
            if newest is not None:
                line += (
                    f"; {counts['included']} proven included in the checkpoint of size "
                    f"{newest.size} (inclusion proofs verified)"
                )
            if counts["pending"]:
                line += f"; {counts['pending']} beyond the newest checkpoint (promise pending)"
            self.report.checked.append(line)
        return found

    def _receipt(self, receipt: Receipt, newest: Checkpoint | None, committed: int) -> str:
        """``included`` / ``pending`` / ``at_index`` (at its index, but the checkpoint does
        not match the entries), or the code of the problem it reported."""
        i, n = receipt.index, self.tree.size
        label = f"receipt for entry {i} (leaf {_short(receipt.leaf)}...)"
        if i < n and self.tree.leaf(i) == receipt.leaf:
            if newest is None or i >= newest.size:
                return "pending"
            if self.matches(newest):
                proof = self.tree.inclusion_proof(i, newest.size)
                verify_inclusion(receipt.leaf, i, newest.size, proof, newest.root)
                return "included"
            return "at_index"
        elsewhere = self.where.get(receipt.leaf)
        code: ErrorCode
        if elsewhere and n >= committed:
            code, what = "reordered", f"the entry is at index {elsewhere[0]} instead"
        elif elsewhere:
            code = "removed_entry"
            what = f"the entry moved to index {elsewhere[0]}: an entry before it was removed"
        elif i >= n or n < committed:
            code, what = "removed_entry", f"the entry is not in the log ({n} entries)"
        else:
            code = "changed_entry"
            what = f"entry {i} is another one (leaf {_short(self.tree.leaf(i))}...): it was changed"
        self.report.problem(code, f"{label}: the log signed this promise, but {what}")
        return code

    def tree_against(
        self,
        newest: Checkpoint,
        seen: list[_Seen],
        receipt_codes: set[str],
        at: tuple[int, int],
    ) -> None:
        """Check the tree against the newest checkpoint. It runs after the receipts (their
        findings tell the cases apart) but reports before them: its line and problem go in at
        ``at`` (positions in ``checked`` and ``problems``)."""
        n = self.tree.size
        if self.matches(newest):
            line = f"the entries reproduce the newest checkpoint ({newest.describe()})"
            if n > newest.size:
                line += f"; {n - newest.size} later entries are not checkpointed yet"
            self.report.checked.insert(at[0], line)
            return
        good = [
            s.checkpoint.size
            for s in seen
            if s.checkpoint.size < newest.size and self.matches(s.checkpoint)
        ]
        since = max(good, default=0)
        if n < newest.size:
            self.report.problems.insert(
                at[1],
                LedgerError(
                    "removed_entry",
                    f"the log holds {n} entries but signed a checkpoint of size {newest.size}: "
                    f"{newest.size - n} committed entries are missing",
                ),
            )
            return
        code: ErrorCode = "changed_entry"
        if "reordered" in receipt_codes:
            code = "reordered"
        elif "removed_entry" in receipt_codes:
            code = "removed_entry"
        told = {"reordered": "reordered", "removed_entry": "removed", "changed_entry": "changed"}
        how = told[code] if receipt_codes else "changed, removed or reordered"
        self.report.problems.insert(
            at[1],
            LedgerError(
                code,
                f"the first {newest.size} entries do not reproduce the root of the checkpoint of "
                f"size {newest.size} ({_short(newest.root)}...; they give "
                f"{_short(self.tree.root(newest.size))}...); they match up to size {since}, so an "
                f"entry among {since}..{newest.size - 1} was {how}",
            ),
        )

    def sequence(self, own: list[_Seen]) -> None:
        linked = 0
        for before, after in pairwise(own):
            a, b = before.checkpoint, after.checkpoint
            if b.size < a.size:
                self.report.problem(
                    "rollback",
                    f"checkpoint #{after.position} (size {b.size}) came after checkpoint "
                    f"#{before.position} (size {a.size}): the log rolled back "
                    f"{a.size - b.size} entries",
                )
            elif a.size < b.size and self.matches(b):
                proof = self.tree.consistency_proof(a.size, b.size)
                try:
                    verify_consistency(a.size, b.size, a.root, b.root, proof)
                    linked += 1
                except LedgerError:
                    self.report.problem(
                        "consistency",
                        f"checkpoint #{before.position} ({a.describe()}) is not a prefix of "
                        f"checkpoint #{after.position} ({b.describe()}): the log rewrote its "
                        "history between them",
                    )
        if len(own) > 1:
            self.report.checked.append(
                f"consistency proofs verified between {linked} of {len(own) - 1} consecutive "
                "pairs of your checkpoints; no rollback"
                if not any(p.code == "rollback" for p in self.report.problems)
                else f"consistency proofs verified between {linked} of {len(own) - 1} pairs"
            )

    def forks(self, seen: list[_Seen], newest_matches: bool) -> None:
        by_size: dict[int, dict[bytes, _Seen]] = {}
        for s in seen:
            by_size.setdefault(s.checkpoint.size, {}).setdefault(s.checkpoint.root, s)
        forked = 0
        for size, roots in sorted(by_size.items()):
            if len(roots) > 1:
                forked += 1
                views = ", ".join(
                    f"{_short(root)}... (seen by {s.who})" for root, s in roots.items()
                )
                self.report.problem(
                    "fork", f"the log signed different roots for size {size}: {views}"
                )
            elif newest_matches:
                (s,) = roots.values()
                if s.who != "you" and not self.matches(s.checkpoint):
                    forked += 1
                    beyond = s.checkpoint.size > self.tree.size
                    self.report.problem(
                        "removed_entry" if beyond else "fork",
                        f"the checkpoint {s.checkpoint.describe()} seen by {s.who} "
                        + (
                            f"is beyond the {self.tree.size} entries the log serves"
                            if beyond
                            else "does not fit the entries the log serves to you: the log "
                            "showed it another history"
                        ),
                    )
        if not forked:
            witnesses = len({s.who for s in seen if s.who != "you"})
            whose = f"yours and those of {_plural(witnesses, 'witness', 'witnesses')}"
            self.report.checked.append(
                f"no fork among {_plural(len(seen), 'checkpoint')} ({whose if witnesses else 'yours'})"
            )


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def audit(
    log_key: KeyLike,
    entries: Sequence[object],
    checkpoints: Sequence[SignedCheckpoint | Mapping[str, Any]],
    receipts: Sequence[object] = (),
    *,
    witnessed: Mapping[str, Sequence[SignedCheckpoint | Mapping[str, Any]]] | None = None,
    resolver: KeyResolver | None = None,
    log: str | None = None,
) -> AuditReport:
    """Audit the log whose key is ``log_key`` (see the module doc).

    ``entries``: every signed entry JWS, in log order. ``checkpoints``: those you saw, oldest
    first (``SignedCheckpoint`` or its JSON). ``receipts``: yours. ``witnessed``: witness name
    -> the checkpoints it saw. ``resolver``: key id -> submitter key, to check entry
    signatures. ``log``: the log's DID, if the key does not say it."""
    try:
        kid, _ = resolve_key(log_key)
    except LedgerError as exc:
        report = AuditReport()
        report.problem(exc.code, f"the log key: {exc.message}")
        return report
    if log is None and kid is not None:
        try:
            log = did_of(kid)
        except LedgerError:
            log = None
    auditor = _Auditor(log_key, log)
    report = auditor.report
    if not _is_list(entries):
        report.problem("malformed", "entries must be a list of signed entry JWSs")
        return report
    if not _is_list(checkpoints):
        report.problem("malformed", "checkpoints must be a list of signed checkpoints")
        checkpoints = []
    if not _is_list(receipts):
        report.problem("malformed", "receipts must be a list of receipt JWSs")
        receipts = []
    if witnessed is not None and not isinstance(witnessed, Mapping):
        report.problem("malformed", "witnessed must map a witness name to its checkpoints")
        witnessed = None
    own = auditor.checkpoints(checkpoints, "you")
    others: list[_Seen] = []
    for who, signed in (witnessed or {}).items():
        if _is_list(signed):
            others.extend(auditor.checkpoints(signed, f"witness {who}"))
        else:
            report.problem("malformed", f"the checkpoints of witness {who} are not a list")
    report.checked.append(
        f"{len(own)} of {len(checkpoints)} checkpoint(s) you saw are signed by the log"
        + (f" {log}" if log else "")
    )
    auditor.entries(entries, resolver)
    newest = max(own, key=lambda s: s.checkpoint.size).checkpoint if own else None
    committed = newest.size if newest else 0
    mark = (len(report.checked), len(report.problems))
    receipt_codes = auditor.receipts(receipts, newest, committed)
    if newest is not None:
        auditor.tree_against(newest, own + others, receipt_codes, mark)
    else:
        report.checked.append("no valid checkpoint to check the entries against")
    auditor.sequence(own)
    auditor.forks(own + others, newest is not None and auditor.matches(newest))
    return report
