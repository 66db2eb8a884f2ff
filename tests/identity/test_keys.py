from __future__ import annotations

import pytest

from twinspace.identity import IdentityError, generate_key, load_public_jwk, load_signing_key
from twinspace.identity.keys import peek_jwt, sign_jwt, verify_jws

from .conftest import b64


@pytest.mark.parametrize("kind", ["Ed25519", "P-256"])
def test_sign_verify_round_trip_through_exported_jwks(kind: str) -> None:
    key = generate_key("did:web:example.org#k1", kind)  # type: ignore[arg-type]
    stored = load_signing_key(key.private_jwk())
    token = sign_jwt({"hello": "world"}, stored, typ="JWT")
    verify_jws(token, load_public_jwk(key.public_jwk()))
    header, claims = peek_jwt(token)
    assert header == {"alg": stored.alg, "kid": "did:web:example.org#k1", "typ": "JWT"}
    assert claims == {"hello": "world"}
    assert "d" not in key.public_jwk()


def test_emits_eddsa_and_accepts_fully_specified_ed25519() -> None:
    key = generate_key("did:web:example.org#k1")
    assert peek_jwt(sign_jwt({}, key, typ="JWT"))[0]["alg"] == "EdDSA"
    token = sign_jwt({}, key, typ="JWT", alg="Ed25519")
    assert peek_jwt(token)[0]["alg"] == "Ed25519"
    verify_jws(token, key.key)


def test_algorithm_confusion_is_refused() -> None:
    ed = generate_key("did:web:example.org#k1")
    ec = generate_key("did:web:example.org#k2", "P-256")
    with pytest.raises(IdentityError) as err:
        verify_jws(sign_jwt({}, ec, typ="JWT"), ed.key)
    assert err.value.code == "algorithm"
    with pytest.raises(IdentityError) as err:
        sign_jwt({}, ed, typ="JWT", alg="ES256")
    assert err.value.code == "algorithm"


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", None])
def test_other_algorithms_are_refused(alg: str | None) -> None:
    token = f"{b64({'alg': alg, 'kid': 'did:web:x#k'})}.{b64({})}.c2ln"
    with pytest.raises(IdentityError) as err:
        peek_jwt(token)
    assert err.value.code == "algorithm"


@pytest.mark.parametrize(
    "token",
    [
        42,
        "",
        "not a jwt",
        "a.b",
        "a.b.c.d",
        "!!!.e30.c2ln",
        f"{b64({'alg': 'EdDSA', 'kid': 'x'})}.bm90IGpzb24.c2ln",  # payload "not json"
        f"{b64({'alg': 'EdDSA', 'kid': 'x'})}.WzFd.c2ln",  # payload [1]
        f"{b64({'alg': 'EdDSA', 'kid': 'x'})}.e30=.c2ln",  # padded
        f"{b64({'alg': 'EdDSA'})}.e30.c2ln",  # no kid
        f"{b64({'alg': 'EdDSA', 'kid': 'x', 'crit': ['b64']})}.e30.c2ln",
        f"{b64({'alg': 'EdDSA', 'kid': 'x'})}.e30.",  # empty signature
    ],
)
def test_malformed_tokens_give_malformed(token: object) -> None:
    with pytest.raises(IdentityError) as err:
        peek_jwt(token)
    assert err.value.code == "malformed"
    assert err.value.message


@pytest.mark.parametrize(
    "jwk",
    [
        "nope",
        {"kty": "RSA", "n": "x", "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed448", "x": "AA"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "Ed25519", "x": "***"},
        {"kty": "OKP", "crv": "Ed25519"},
    ],
)
def test_bad_public_jwks_are_refused(jwk: object) -> None:
    with pytest.raises(IdentityError) as err:
        load_public_jwk(jwk)
    assert err.value.code in {"malformed", "algorithm"}


def test_public_jwk_with_private_part_is_refused() -> None:
    key = generate_key("did:web:example.org#k1")
    with pytest.raises(IdentityError) as err:
        load_public_jwk(key.private_jwk())
    assert err.value.code == "malformed"


def test_private_key_needs_kid() -> None:
    data = generate_key("did:web:example.org#k1").private_jwk()
    del data["kid"]
    with pytest.raises(IdentityError):
        load_signing_key(data)
    assert load_signing_key(data, kid="did:web:example.org#k9").kid == "did:web:example.org#k9"
