"""The participant's key ring: one key at first, rotation with an overlap, persisted safely."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from twinspace.clock import ManualClock
from twinspace.trust.keyring import KeyFileError, KeyRing

DID = "did:web:city.test:city"


def test_a_first_start_writes_one_private_jwk(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    ring = KeyRing(path, DID, ManualClock())
    assert ring.current.kid == f"{DID}#key-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["kid"] == f"{DID}#key-1"
    assert KeyRing(path, DID, ManualClock()).current.public_jwk() == ring.current.public_jwk()


def test_rotation_keeps_the_old_key_published_until_its_cut_over(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "k.json"
    ring = KeyRing(path, DID, clock)
    old = ring.current
    new = ring.rotate(timedelta(seconds=60))
    assert new.kid == f"{DID}#key-2" and ring.current == new
    assert ring.expires() == {old.kid: clock.now() + timedelta(seconds=60)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = KeyRing(path, DID, clock)  # a restart during the overlap
    assert [k.key.kid for k in reloaded.held()] == [old.kid, new.kid]
    clock.advance(61)
    assert [k.key.kid for k in ring.held()] == [new.kid]
    third = ring.rotate(timedelta(seconds=10))  # the retired key leaves the file
    assert third.kid == f"{DID}#key-3"
    saved = json.loads(path.read_text())
    assert [k["jwk"]["kid"] for k in saved["keys"]] == [new.kid, third.kid]
    assert all("d" in k["jwk"] for k in saved["keys"])


def test_a_negative_overlap_is_refused(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "k.json", DID, ManualClock())
    with pytest.raises(ValueError):
        ring.rotate(timedelta(seconds=-1))


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"keys": []}',
        '{"keys": [{"jwk": {"kty": "OKP"}}]}',
        '{"keys": [{"jwk": {"kid": "did:web:other.test:x#key-1"}, "retiresAt": null}]}',
    ],
)
def test_a_broken_key_file_is_an_error_naming_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=r"k\.json"):
        KeyRing(path, DID, ManualClock())
    assert path.read_text() == content  # never replaced silently
