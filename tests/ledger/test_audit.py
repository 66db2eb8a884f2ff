"""The audit: the honest log passes, and every tamper case is named by its code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinspace.identity import SigningKey, generate_key
from twinspace.ledger import (
    AuditReport,
    Checkpoint,
    LedgerError,
    MerkleTree,
    Receipt,
    SignedCheckpoint,
    audit,
    cosign,
    entry_leaf,
    issue_receipt,
    sign_checkpoint,
)

from .conftest import LOG, START, Log, tamper


@pytest.fixture
def history(log: Log) -> tuple[Log, list[SignedCheckpoint]]:
    """10 entries; the participant saw checkpoints at 3, 6 and 10 and holds every receipt."""
    seen = []
    for grow in (3, 3, 4):
        log.grow(grow)
        seen.append(log.checkpoint())
    return log, seen


def run(subject: Log, seen: list[SignedCheckpoint], **kw: Any) -> AuditReport:
    args: dict[str, Any] = {
        "log_key": subject.key.public_jwk() | {"kid": subject.key.kid},
        "entries": subject.entries,
        "checkpoints": seen,
        "receipts": list(subject.receipts.values()),
        "resolver": subject.resolver,
    }
    args.update(kw)
    return audit(**args)


def only(report: AuditReport, code: str) -> LedgerError:
    found = [p for p in report.problems if p.code == code]
    assert found, f"no {code!r} in {report.problems}"
    assert not report.ok
    return found[0]


def test_honest_log_passes(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    witness_view = [cosign(seen[1], log.witness).to_json()]
    report = run(log, seen, witnessed={"witness.example": witness_view})
    assert report.ok, report.problems
    assert report.size == 10 and report.root == log.tree.root()
    text = "\n".join(report.checked)
    assert "3 of 3 checkpoint(s) you saw are signed by the log did:web:" in text
    assert "10 entries read" in text
    assert "submitter signatures: 10 of 10 verify (1 submitter)" in text
    assert "the entries reproduce the newest checkpoint (size 10" in text
    assert (
        "receipts: 10 of 10 signed by the log, 10 find their entry at the promised index; " in text
    )
    assert "10 proven included in the checkpoint of size 10 (inclusion proofs verified)" in text
    assert "consistency proofs verified between 2 of 2 consecutive pairs" in text
    assert "no fork among 4 checkpoints (yours and those of 1 witness)" in text


def test_entries_beyond_the_newest_checkpoint_are_fine(
    history: tuple[Log, list[SignedCheckpoint]],
) -> None:
    log, seen = history
    log.grow(2)
    report = run(log, seen, resolver=None)
    assert report.ok, report.problems
    text = "\n".join(report.checked)
    assert "2 later entries are not checkpointed yet" in text
    assert "10 proven included in the checkpoint of size 10" in text
    assert "2 beyond the newest checkpoint (promise pending)" in text
    assert "submitter signatures not checked" in text


def test_changed_entry(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    log.entries[4] = log.transfer(99)  # another, validly signed entry in its place
    report = run(log, seen)
    problem = only(report, "changed_entry")
    assert "do not reproduce the root of the checkpoint of size 10" in problem.message
    assert "they match up to size 3" in problem.message and "was changed" in problem.message
    receipt = [p for p in report.problems if p.message.startswith("receipt for entry 4")]
    assert receipt and receipt[0].code == "changed_entry"
    assert "the log signed this promise, but entry 4 is another one" in receipt[0].message
    assert set(report.codes) == {"changed_entry"}


def test_changed_entry_without_receipts_or_resigning(
    history: tuple[Log, list[SignedCheckpoint]],
) -> None:
    log, seen = history
    log.entries[7] = tamper(log.entries[7], lambda c: c.update(state="TERMINATED"))
    report = run(log, seen, receipts=[])
    problem = only(report, "changed_entry")
    assert "an entry among 6..9 was changed, removed or reordered" in problem.message
    signature = only(report, "signature")
    assert signature.message.startswith("entry 7 (transfer by did:web:")
    assert "signature does not verify" in signature.message


def test_removed_entry(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    del log.entries[4]
    report = run(log, seen)
    problem = only(report, "removed_entry")
    assert "the log holds 9 entries but signed a checkpoint of size 10" in problem.message
    assert "1 committed entries are missing" in problem.message
    assert any("receipt for entry 4" in p.message for p in report.problems)
    assert "changed_entry" not in report.codes and "reordered" not in report.codes


def test_reordered_entries(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    log.entries[2], log.entries[5] = log.entries[5], log.entries[2]
    report = run(log, seen)
    problem = only(report, "reordered")
    assert "do not reproduce the root of the checkpoint of size 10" in problem.message
    assert "an entry among 0..9 was reordered" in problem.message
    receipt = next(p for p in report.problems if p.message.startswith("receipt for entry 2"))
    assert receipt.code == "reordered" and "the entry is at index 5 instead" in receipt.message
    assert set(report.codes) == {"reordered"}


def test_forked_log(
    history: tuple[Log, list[SignedCheckpoint]], keys: dict[str, SigningKey]
) -> None:
    log, seen = history
    # the log shows a witness another tree of the same size (entry 9 different)
    other = MerkleTree.from_leaves([*log.tree.leaves()][:9])
    other.append(entry_leaf(log.transfer(42)))
    split = sign_checkpoint(Checkpoint(LOG, 10, other.root(), START + timedelta(hours=11)), log.key)
    report = run(log, seen, witnessed={"witness.example": [cosign(split, log.witness)]})
    problem = only(report, "fork")
    assert problem.message.startswith("the log signed different roots for size 10:")
    assert (
        "(seen by you)" in problem.message
        and "(seen by witness witness.example)" in problem.message
    )
    assert report.codes == ["fork"]


def test_forked_log_at_another_size(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    other = MerkleTree.from_leaves([*log.tree.leaves()][:5])
    other.append(entry_leaf(log.transfer(42)))
    split = sign_checkpoint(Checkpoint(LOG, 6, other.root(), START), log.key)
    report = run(log, seen[2:], witnessed={"w": [split]})
    problem = only(report, "fork")
    assert "seen by witness w does not fit the entries the log serves" in problem.message


def test_rolled_back(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    report = run(log, [seen[0], seen[2], seen[1]])
    problem = only(report, "rollback")
    assert problem.message == (
        "checkpoint #3 (size 6) came after checkpoint #2 (size 10): the log rolled back 4 entries"
    )
    assert report.codes == ["rollback"]


def test_rolled_back_log_also_lost_entries(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    log.entries = log.entries[:6]
    report = run(log, [*seen, seen[1]])
    assert {"rollback", "removed_entry"} <= set(report.codes)


def test_rewritten_history(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    # after checkpoint 6 the log replaced entry 1 and signed a new checkpoint 10 over that
    log.entries[1] = log.transfer(77)
    rewritten = MerkleTree.from_leaves(entry_leaf(e) for e in log.entries)
    log.tree = rewritten
    report = run(log, [seen[0], seen[1], log.checkpoint()], receipts=[])
    problem = only(report, "consistency")
    assert (
        "checkpoint #2 (size 6" in problem.message
        and "is not a prefix of checkpoint #3" in problem.message
    )
    assert "rewrote its history" in problem.message


def test_forged_receipt(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    impostor = generate_key(log.key.kid)
    fake = issue_receipt(Receipt(LOG, entry_leaf(log.transfer(50)), 3, START), impostor)
    altered = tamper(log.receipts[2], lambda c: c.update(index=4))
    report = run(log, seen, receipts=[log.receipts[0], fake, altered])
    problems = [p for p in report.problems if p.code == "forged_receipt"]
    assert len(problems) == 2 and len(report.problems) == 2
    assert problems[0].message.startswith(
        "receipt #2: receipt refused: receipt: the signature does not verify"
    )
    assert problems[1].message.startswith("receipt #3: receipt refused")


def test_receipt_for_an_entry_the_log_never_stored(
    history: tuple[Log, list[SignedCheckpoint]],
) -> None:
    log, seen = history
    promise = issue_receipt(Receipt(LOG, entry_leaf(log.transfer(60)), 12, START), log.key)
    report = run(log, seen, receipts=[promise])
    problem = only(report, "removed_entry")
    assert (
        "receipt for entry 12" in problem.message
        and "not in the log (10 entries)" in problem.message
    )


def test_checkpoint_signed_by_the_wrong_key(history: tuple[Log, list[SignedCheckpoint]]) -> None:
    log, seen = history
    forged = log.checkpoint(key=generate_key(log.key.kid))
    report = run(log, [*seen, forged])
    problem = only(report, "signature")
    assert problem.message.startswith("checkpoint #4 seen by you: signed by the wrong key: ")
    assert report.codes == ["signature"]
    impostor = log.checkpoint(key=log.witness)
    report = run(log, [*seen, impostor])
    problem = only(report, "unknown_key")
    assert "checkpoint #4 seen by you: signed by the wrong key" in problem.message
    assert "did:web:localhost%3A8103:witness#key-1" in problem.message


def test_checkpoint_of_another_log(
    history: tuple[Log, list[SignedCheckpoint]], keys: dict[str, SigningKey]
) -> None:
    log, seen = history
    report = run(log, seen, log="did:web:other.example")
    assert "unknown_key" in report.codes


@pytest.mark.parametrize(
    "kw",
    [
        {"entries": [None, 3, "x", "a.b.c", "é"]},
        {"entries": "not a list"},
        {"checkpoints": [None, {"checkpoint": "x"}, 5, "jws"]},
        {"receipts": [None, "a.b.c", 5, b"x"]},
        {"log_key": "not a key"},
        {"log_key": {"kty": "RSA"}},
        {"witnessed": {"w": [None]}},
        {"witnessed": {"w": None}},
        {"witnessed": [1]},
        {"checkpoints": None},
        {"receipts": "abc"},
        {"resolver": lambda kid: (_ for _ in ()).throw(KeyError(kid))},
        {"resolver": lambda kid: "not a key"},
    ],
)
def test_malformed_inputs_never_raise(
    history: tuple[Log, list[SignedCheckpoint]], kw: dict[str, Any]
) -> None:
    log, seen = history
    report = run(log, seen, **kw)
    assert not report.ok
    assert all(isinstance(p, LedgerError) for p in report.problems)
    assert all(p.message for p in report.problems)


def test_no_checkpoints(log: Log) -> None:
    log.grow(2)
    report = run(log, [])
    assert report.ok
    assert "no valid checkpoint to check the entries against" in report.checked
    text = "\n".join(report.checked)
    assert "receipts: 2 of 2 signed by the log, 2 find their entry at the promised index" in text
    assert "2 beyond the newest checkpoint (promise pending)" in text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["delete", "swap", "garbage", "duplicate", "truncate"]),
            st.integers(0, 9),
            st.integers(0, 9),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_any_tampering_is_found_and_never_raises(
    history: tuple[Log, list[SignedCheckpoint]], edits: list[tuple[str, int, int]]
) -> None:
    log, seen = history
    entries: list[Any] = list(log.entries)
    for op, i, j in edits:
        i, j = min(i, len(entries) - 1), min(j, len(entries) - 1)
        if op == "delete" and len(entries) > 1:
            del entries[i]
        elif op == "swap":
            entries[i], entries[j] = entries[j], entries[i]
        elif op == "garbage":
            entries[i] = ["x", 1, None, "a.b.c"][j % 4]
        elif op == "duplicate":
            entries.insert(i, entries[j])
        elif op == "truncate":
            entries[i] = str(entries[i])[:-1]
    report = run(log, seen, entries=entries, receipts=[])
    if entries == log.entries:
        assert report.ok
    elif entries[:10] != log.entries:  # the committed history changed
        assert not report.ok
        assert {"changed_entry", "removed_entry", "reordered"} & set(report.codes)
    assert all(isinstance(p, LedgerError) for p in report.problems)
