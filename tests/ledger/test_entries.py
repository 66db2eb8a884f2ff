"""Canonical JSON (RFC 8785 for what we produce) and the construction of log entries."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinspace.identity import SigningKey, generate_key
from twinspace.ledger import (
    ENTRY_KINDS,
    LedgerError,
    canonical_json,
    check_entry,
    entry_leaf,
    leaf_hash,
    make_entry,
    parse_canonical,
    read_entry,
    sign_entry,
    verify_entry,
)

from .conftest import CITY, HASH, MOBILITY, START, tamper

# -- canonical JSON --------------------------------------------------------------------------------


def test_canonical_json_sorts_and_has_no_whitespace() -> None:
    value = {"b": [1, True, None, "x"], "a": {"z": -3, "é": "ü"}, "": 0}
    assert canonical_json(value) == '{"":0,"a":{"z":-3,"é":"ü"},"b":[1,true,null,"x"]}'.encode()


def test_canonical_json_escapes_like_rfc8785() -> None:
    text = 'q"b\\s/\b\f\n\r\t\x00\x1f\x7f€'
    assert canonical_json(text) == b'"q\\"b\\\\s/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\xe2\x82\xac"'


def test_canonical_json_sorts_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16 order
    value = {"\ufb33": 1, "\U0001f600": 2, "a": 3}
    assert canonical_json(value) == '{"a":3,"\U0001f600":2,"\ufb33":1}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        1.0,
        float("nan"),
        {"a": 0.1},
        [2**53],
        -(2**53),
        b"bytes",
        {1: "x"},
        {"s": {1, 2}},
        "\ud800",
    ],
)
def test_canonical_json_refuses_non_json_and_floats(value: Any) -> None:
    with pytest.raises(LedgerError) as err:
        canonical_json(value)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"b":1,"a":2}',
        b'{"a": 1}',
        b'{"a":1.0}',
        b'{"a":1,"a":1}',
        b"NaN",
        b"\xff",
        b"-0",
        b'"\\u0041"',
        "x",
    ],
)
def test_parse_canonical_refuses_other_spellings(raw: Any) -> None:
    with pytest.raises(LedgerError) as err:
        parse_canonical(raw)
    assert err.value.code == "malformed"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=("Cs",)), max_size=5), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_canonical_json_round_trips_and_is_valid_json(value: Any) -> None:
    raw = canonical_json(value)
    assert json.loads(raw) == value
    assert parse_canonical(raw) == value
    assert canonical_json(json.loads(raw)) == raw


# -- entries --------------------------------------------------------------------------------------

GOOD: dict[str, dict[str, Any]] = {
    "agreement": {
        "agreement": "urn:uuid:5f0c5e2a-8a4e-4b8e-9d7a-1c2b3d4e5f60",
        "agreement_hash": HASH,
        "provider": MOBILITY,
        "consumer": CITY,
        "asset": "traffic-counts",
    },
    "transfer": {"transfer": "urn:uuid:t-1", "agreement": "urn:uuid:a-1", "state": "COMPLETED"},
    "usage_denied": {
        "agreement": "urn:uuid:a-1",
        "requester": CITY,
        "reason": "odrl:purpose",
        "request_hash": bytes(32),
    },
    "duty": {"agreement": "urn:uuid:a-1", "action": "delete", "fulfilled_at": START},
    "consent": {
        "consent": "urn:uuid:c-1",
        "recipient": CITY,
        "purpose": "https://w3id.org/dpv#ResearchAndDevelopment",
        "state": "GIVEN",
        "until": START + timedelta(days=30),
    },
}


@pytest.mark.parametrize("kind", sorted(ENTRY_KINDS))
def test_make_entry_for_every_kind(kind: str) -> None:
    entry = make_entry(kind, GOOD[kind], submitter=CITY, at=START)
    assert entry["kind"] == kind and entry["v"] == 1
    assert entry["submitter"] == CITY and entry["at"] == "2026-01-01T00:00:00Z"
    assert list(entry) == sorted(entry)
    assert check_entry(entry) == entry


def test_make_entry_converts_times_and_hashes() -> None:
    paris = timezone(timedelta(hours=1))
    entry = make_entry(
        "duty", GOOD["duty"], submitter=CITY, at=datetime(2026, 1, 1, 1, tzinfo=paris)
    )
    assert entry["at"] == "2026-01-01T00:00:00Z" and entry["fulfilled_at"] == "2026-01-01T00:00:00Z"
    denied = make_entry("usage_denied", GOOD["usage_denied"], submitter=CITY, at=START)
    assert denied["request_hash"] == "00" * 32


@pytest.mark.parametrize(
    "field", ["name", "email", "E-Mail", "phone_number", "address", "birthdate", "ip"]
)
def test_personal_data_fields_are_refused(field: str) -> None:
    with pytest.raises(LedgerError) as err:
        make_entry("transfer", {**GOOD["transfer"], field: "x"}, submitter=CITY, at=START)
    assert err.value.code == "malformed"
    assert "looks like personal data" in err.value.message


@pytest.mark.parametrize(
    ("kind", "fields", "words"),
    [
        ("transfer", {**GOOD["transfer"], "size": "10"}, "unknown field 'size'"),
        ("transfer", {**GOOD["transfer"], "state": "RUNNING"}, "must be one of"),
        ("transfer", {"transfer": "urn:uuid:t-1"}, "needs"),
        ("transfer", {**GOOD["transfer"], "transfer": 1.5}, "identifier"),
        ("transfer", {**GOOD["transfer"], "transfer": "alice@example.org"}, "e-mail"),
        ("transfer", {**GOOD["transfer"], "transfer": "+491701234567"}, "phone number"),
        ("transfer", {**GOOD["transfer"], "transfer": "urn:x:" + "a" * 600}, "512"),
        ("transfer", {**GOOD["transfer"], "transfer": "Alice Smith"}, "identifier"),
        ("agreement", {**GOOD["agreement"], "agreement_hash": "AB" * 32}, "SHA-256"),
        ("duty", {**GOOD["duty"], "fulfilled_at": "yesterday"}, "UTC time"),
        ("duty", {**GOOD["duty"], "fulfilled_at": datetime(2026, 1, 1)}, "timezone"),
        ("shopping", {}, "unknown entry kind"),
    ],
)
def test_bad_entries_are_refused(kind: str, fields: dict[str, Any], words: str) -> None:
    with pytest.raises(LedgerError) as err:
        make_entry(kind, fields, submitter=CITY, at=START)
    assert err.value.code == "malformed"
    assert words in err.value.message


def test_bad_envelope_is_refused() -> None:
    for submitter, at in [("alice", START), (CITY, datetime(2026, 1, 1)), (CITY, "2026")]:
        with pytest.raises(LedgerError) as err:
            make_entry("transfer", GOOD["transfer"], submitter=submitter, at=at)  # type: ignore[arg-type]
        assert err.value.code == "malformed"
    entry = make_entry("transfer", GOOD["transfer"], submitter=CITY, at=START)
    for broken in ({**entry, "v": True}, {**entry, "state": 3}, {**entry, "at": "2026-01-01"}, [1]):
        with pytest.raises(LedgerError):
            check_entry(broken)


@pytest.fixture
def city() -> SigningKey:
    return generate_key(f"{CITY}#key-1")


def test_sign_entry_signs_the_canonical_bytes(city: SigningKey) -> None:
    entry = make_entry("transfer", GOOD["transfer"], submitter=CITY, at=START)
    token = sign_entry(entry, city)
    header, payload, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {
        "alg": "EdDSA",
        "kid": city.kid,
        "typ": "ts-entry+jwt",
    }
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == canonical_json(entry)
    assert entry_leaf(token) == leaf_hash(token.encode())
    signed = verify_entry(token, city.public_jwk())
    assert signed.entry == entry and signed.kid == city.kid and signed.kind == "transfer"
    assert signed.leaf == entry_leaf(token)


def test_sign_entry_needs_the_submitters_key(city: SigningKey) -> None:
    entry = make_entry("transfer", GOOD["transfer"], submitter=MOBILITY, at=START)
    with pytest.raises(LedgerError) as err:
        sign_entry(entry, city)
    assert err.value.code == "malformed" and "not a key of the submitter" in err.value.message


def test_verify_entry_refuses_changed_or_foreign(city: SigningKey) -> None:
    token = sign_entry(make_entry("transfer", GOOD["transfer"], submitter=CITY, at=START), city)
    changed = tamper(token, lambda c: c.update(state="TERMINATED"))
    with pytest.raises(LedgerError) as err:
        verify_entry(changed, city)
    assert err.value.code == "signature"
    other = generate_key(f"{CITY}#key-2")
    with pytest.raises(LedgerError) as err:
        verify_entry(token, other)
    assert err.value.code == "unknown_key"
    with pytest.raises(LedgerError) as err:
        verify_entry(token, other.public_jwk())
    assert err.value.code == "signature"
    smuggled = tamper(token, lambda c: c.update(email="x"))
    with pytest.raises(LedgerError) as err:
        read_entry(smuggled)
    assert err.value.code == "malformed"


@pytest.mark.parametrize("token", [None, 3, "", "a.b", "a.b.c", "é.é.é", "x" * 10])
def test_read_entry_malformed(token: Any) -> None:
    with pytest.raises(LedgerError) as err:
        read_entry(token)
    assert err.value.code == "malformed"
    if not isinstance(token, str) or not token.isascii():
        with pytest.raises(LedgerError):
            entry_leaf(token)


def test_entry_with_other_typ_is_refused(city: SigningKey) -> None:
    from twinspace.identity.keys import sign_jwt

    entry = make_entry("transfer", GOOD["transfer"], submitter=CITY, at=START)
    token = sign_jwt(entry, city, typ="JWT")
    with pytest.raises(LedgerError) as err:
        read_entry(token)
    assert err.value.code == "malformed" and "typ" in err.value.message
