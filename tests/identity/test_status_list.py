from __future__ import annotations

import base64
import gzip

import pytest

from twinspace.identity import IdentityError, StatusList, status_entry
from twinspace.identity.status_list import MIN_BITS, parse_status_entry


def test_round_trip_and_bit_order() -> None:
    bits = StatusList()
    assert bits.size == MIN_BITS == 16 * 1024 * 8
    for index in (0, 9, MIN_BITS - 1):
        bits.set(index)
    encoded = bits.encode()
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == 16 * 1024
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0100_0000 and raw[-1] == 0b0000_0001
    decoded = StatusList.decode(encoded)
    assert [i for i in range(decoded.size) if decoded.get(i)] == [0, 9, MIN_BITS - 1]
    decoded.set(9, False)
    assert not decoded.get(9) and decoded.get(0)


def test_encoding_is_deterministic() -> None:
    assert StatusList().encode() == StatusList().encode()


@pytest.mark.parametrize("index", [-1, MIN_BITS, True, 1.5])
def test_index_out_of_bounds(index: object) -> None:
    with pytest.raises(IdentityError) as err:
        StatusList().get(index)  # type: ignore[arg-type]
    assert err.value.code == "malformed"
    with pytest.raises(IdentityError):
        StatusList().set(index)  # type: ignore[arg-type]


def test_minimum_size_is_enforced() -> None:
    with pytest.raises(IdentityError):
        StatusList(MIN_BITS - 8)
    short = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024))).rstrip(b"=").decode()
    with pytest.raises(IdentityError) as err:
        StatusList.decode(short)
    assert "fewer than" in err.value.message
    assert StatusList(MIN_BITS * 2).size == MIN_BITS * 2


@pytest.mark.parametrize(
    "encoded",
    [
        None,
        "",
        "z3u",  # base58 multibase, not ours
        "u!!!",
        "uAAAA",  # not gzip
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16384))[:40]).rstrip(b"=").decode(),
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16384))).decode() + "==",
    ],
)
def test_undecodable_lists(encoded: object) -> None:
    with pytest.raises(IdentityError) as err:
        StatusList.decode(encoded)
    assert err.value.code == "malformed"


def test_decompression_bomb_is_refused() -> None:
    bomb = gzip.compress(bytes(32 * 1024 * 1024))
    with pytest.raises(IdentityError):
        StatusList.decode("u" + base64.urlsafe_b64encode(bomb).rstrip(b"=").decode())


def test_status_entry_round_trip() -> None:
    entry = status_entry("https://a.example/status/1", 94567)
    assert entry["statusListIndex"] == "94567"
    assert parse_status_entry(entry) == ("https://a.example/status/1", 94567, "revocation")
    with pytest.raises(IdentityError):
        status_entry("https://a.example/status/1", -1)
    with pytest.raises(IdentityError):
        status_entry("https://a.example/status/1", 1, "refresh")


@pytest.mark.parametrize(
    "change",
    [
        {"type": "StatusList2021Entry"},
        {"statusListIndex": 5},
        {"statusListIndex": "-5"},
        {"statusListIndex": "٣"},  # a non-ASCII digit
        {"statusListCredential": ""},
        {"statusPurpose": "message"},
        {"statusSize": 2},
    ],
)
def test_bad_status_entries(change: dict[str, object]) -> None:
    entry = status_entry("https://a.example/status/1", 3) | change
    with pytest.raises(IdentityError) as err:
        parse_status_entry(entry)
    assert err.value.code == "malformed"
