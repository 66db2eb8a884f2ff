"""Signed checkpoints, witness cosignatures and receipts."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from twinspace.identity import SigningKey, generate_key
from twinspace.ledger import (
    Checkpoint,
    LedgerError,
    Receipt,
    SignedCheckpoint,
    cosign,
    cosigners,
    issue_receipt,
    leaf_hash,
    read_receipt,
    sign_checkpoint,
    verify_checkpoint,
    verify_receipt,
)

from .conftest import LOG, START, WITNESS, Log, tamper

ROOT = leaf_hash(b"root")


def checkpoint(size: int = 10) -> Checkpoint:
    return Checkpoint(LOG, size, ROOT, START + timedelta(microseconds=5))


def test_sign_and_verify_round_trip(keys: dict[str, SigningKey]) -> None:
    signed = sign_checkpoint(checkpoint(), keys["log"])
    header = json.loads(base64.urlsafe_b64decode(signed.jws.split(".")[0] + "=="))
    assert header["typ"] == "ts-checkpoint+jwt" and header["kid"] == keys["log"].kid
    for key in (keys["log"], keys["log"].public_jwk(), keys["log"].key):
        assert verify_checkpoint(signed, key) == checkpoint()
    again = SignedCheckpoint.from_json(json.loads(json.dumps(signed.to_json())))
    assert again == signed and again.checkpoint == checkpoint()
    claims = json.loads(base64.urlsafe_b64decode(signed.jws.split(".")[1] + "=="))
    assert claims["root"] == base64.urlsafe_b64encode(ROOT).rstrip(b"=").decode()
    assert claims["timestamp"] == "2026-01-01T00:00:00.000005Z"


def test_wrong_key_is_refused(keys: dict[str, SigningKey]) -> None:
    signed = sign_checkpoint(checkpoint(), keys["log"])
    same_kid = generate_key(keys["log"].kid)
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(signed, same_kid.public_jwk())
    assert err.value.code == "signature"
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(signed, generate_key(f"{LOG}#log-2"))
    assert err.value.code == "unknown_key"
    forged = sign_checkpoint(checkpoint(), same_kid)
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(forged, keys["log"])
    assert err.value.code == "signature"
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(
            SignedCheckpoint(tamper(signed.jws, lambda c: c.update(size=11))), keys["log"]
        )
    assert err.value.code == "signature"


def test_checkpoint_of_another_origin_is_refused(keys: dict[str, SigningKey], log: Log) -> None:
    impostor = log.checkpoint(key=keys["witness"])
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(impostor, keys["witness"])
    assert err.value.code == "unknown_key"
    assert "signed with" in err.value.message
    with pytest.raises(LedgerError) as err:
        sign_checkpoint(checkpoint(), keys["witness"])
    assert err.value.code == "malformed"


def test_cosignatures(keys: dict[str, SigningKey]) -> None:
    signed = sign_checkpoint(checkpoint(), keys["log"])
    witness = keys["witness"]
    cosigned = cosign(signed, witness, log_key=keys["log"])
    assert len(cosign(cosigned, witness).cosignatures) == 1  # re-cosigning replaces
    by_kid = {witness.kid: witness.public_jwk()}
    by_did = {WITNESS: witness.key}
    assert (
        verify_checkpoint(cosigned, keys["log"], witnesses=by_kid, min_cosignatures=1)
        == checkpoint()
    )
    assert (
        verify_checkpoint(cosigned, keys["log"], witnesses=by_did, min_cosignatures=1)
        == checkpoint()
    )
    assert cosigners(cosigned, by_kid) == [WITNESS]
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(signed, keys["log"], witnesses=by_kid, min_cosignatures=1)
    assert err.value.code == "signature" and "0 valid cosignature" in err.value.message
    # a cosignature over another checkpoint, glued on
    other = cosign(sign_checkpoint(checkpoint(11), keys["log"]), witness)
    glued = SignedCheckpoint(signed.jws, other.cosignatures)
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(glued, keys["log"], witnesses=by_kid)
    assert err.value.code == "signature" and "another checkpoint" in err.value.message
    assert cosigners(glued, by_kid) == []
    # an unknown witness does not count, a forged cosignature by a known one is refused
    stranger = cosign(signed, generate_key("did:web:elsewhere#k"))
    with pytest.raises(LedgerError):
        verify_checkpoint(stranger, keys["log"], witnesses=by_kid, min_cosignatures=1)
    faked = cosign(signed, generate_key(witness.kid))
    with pytest.raises(LedgerError) as err:
        verify_checkpoint(faked, keys["log"], witnesses=by_kid)
    assert err.value.code == "signature"
    # the log's key must verify before a witness cosigns when it is given
    with pytest.raises(LedgerError):
        cosign(
            sign_checkpoint(checkpoint(), generate_key(keys["log"].kid)),
            witness,
            log_key=keys["log"],
        )


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"checkpoint": 1},
        {"checkpoint": "a.b.c"},
        {"checkpoint": "x", "cosignatures": "y"},
    ],
)
def test_signed_checkpoint_from_bad_json(data: Any) -> None:
    with pytest.raises(LedgerError) as err:
        SignedCheckpoint.from_json(data)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    "args",
    [
        ("alice", 1, ROOT, START),
        (LOG, -1, ROOT, START),
        (LOG, True, ROOT, START),
        (LOG, 1, b"short", START),
        (LOG, 1, ROOT, START.replace(tzinfo=None)),
    ],
)
def test_bad_checkpoints(args: tuple[Any, ...]) -> None:
    with pytest.raises(LedgerError) as err:
        Checkpoint(*args)
    assert err.value.code == "malformed"


def test_checkpoint_with_extra_or_bad_claims(keys: dict[str, SigningKey]) -> None:
    signed = sign_checkpoint(checkpoint(), keys["log"])
    for change in (
        lambda c: c.update(extra=1),
        lambda c: c.update(root="AA=="),
        lambda c: c.update(size=1.5),
    ):
        with pytest.raises(LedgerError) as err:
            verify_checkpoint(SignedCheckpoint(tamper(signed.jws, change)), keys["log"])
        assert err.value.code == "malformed"


# -- receipts -------------------------------------------------------------------------------------


def test_receipt_round_trip(keys: dict[str, SigningKey]) -> None:
    receipt = Receipt(LOG, ROOT, 7, START)
    token = issue_receipt(receipt, keys["log"])
    assert verify_receipt(token, keys["log"]) == receipt
    assert verify_receipt(token, keys["log"].public_jwk(), log=LOG) == receipt
    assert read_receipt(token) == receipt


def test_forged_receipts(keys: dict[str, SigningKey]) -> None:
    token = issue_receipt(Receipt(LOG, ROOT, 7, START), keys["log"])
    cases = [
        (tamper(token, lambda c: c.update(index=8)), keys["log"]),
        (issue_receipt(Receipt(LOG, ROOT, 7, START), generate_key(keys["log"].kid)), keys["log"]),
        (token, generate_key(keys["log"].kid).public_jwk()),
        (token, generate_key(f"{LOG}#log-2")),
        (tamper(token, lambda c: c.pop("leaf")), keys["log"]),
    ]
    for jws, key in cases:
        with pytest.raises(LedgerError) as err:
            verify_receipt(jws, key)
        assert err.value.code == "forged_receipt", err.value
        assert err.value.message.startswith("receipt refused")
    with pytest.raises(LedgerError) as err:
        verify_receipt(token, keys["log"], log="did:web:other.example")
    assert err.value.code == "forged_receipt"
    with pytest.raises(LedgerError) as err:
        issue_receipt(Receipt(LOG, ROOT, 7, START), keys["witness"])
    assert err.value.code == "malformed"
    for bad in (None, "nonsense", 5):
        with pytest.raises(LedgerError) as err:
            verify_receipt(bad, keys["log"])
        assert err.value.code == "malformed"
    with pytest.raises(LedgerError):
        Receipt(LOG, ROOT, -1, START)
