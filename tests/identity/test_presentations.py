from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from twinspace.identity import (
    MEMBERSHIP,
    IdentityError,
    SigningKey,
    create_presentation,
    generate_key,
    verify_presentation,
)
from twinspace.identity.keys import sign_jwt

from .conftest import CITY, MOBILITY, World, tamper


def present(world: World, credentials: list[str] | None = None, **kw: Any) -> str:
    args: dict[str, Any] = {"audience": MOBILITY, "now": world.clock.now(), "nonce": "n-1"}
    args.update(kw)
    key = args.pop("key", world.city)
    creds = [world.membership(), world.legal()] if credentials is None else credentials
    return create_presentation(key, creds, **args)


def refused(world: World, vp: object, caller: str = CITY, nonce: str | None = "n-1") -> str:
    with pytest.raises(IdentityError) as err:
        verify_presentation(vp, world.ctx(), caller=caller, audience=MOBILITY, nonce=nonce)
    return err.value.code


def test_honest_presentation_gives_claims(world: World) -> None:
    claims = verify_presentation(
        present(world), world.ctx(), caller=CITY, audience=MOBILITY, nonce="n-1"
    )
    assert claims.did == CITY and claims.member
    assert claims.member_of == {"urn:dataspace:twin-city"}
    assert claims.roles == {"provider", "consumer"}
    assert (claims.legal_name, claims.registration_number, claims.country) == (
        "Ville de Lyon",
        "FR-21690123100011",
        "FR",
    )
    assert MEMBERSHIP in claims.credential_types and len(claims.credentials) == 2


def test_empty_presentation_is_not_a_member(world: World) -> None:
    claims = verify_presentation(present(world, []), world.ctx(), caller=CITY, audience=MOBILITY)
    assert not claims.member and claims.legal_name is None and claims.roles == frozenset()


def test_bare_jwt_entries_are_accepted(world: World) -> None:
    now = int(world.clock.now().timestamp())
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": CITY,
        "verifiableCredential": [world.membership()],
        "iss": CITY, "aud": [MOBILITY], "iat": now, "exp": now + 60,
    }  # fmt: skip
    token = sign_jwt(vp, world.city, typ="vp+ld+json+jwt")
    assert verify_presentation(token, world.ctx(), caller=CITY, audience=MOBILITY).member


def test_attack_presentation_from_another_holder(world: World) -> None:
    # mobility presents its own (valid) credentials while the authenticated caller is the city
    vp = present(world, [world.membership(MOBILITY, index=20)], key=world.mobility)
    assert refused(world, vp) == "holder_mismatch"


def test_attack_presenting_someone_elses_credential(world: World) -> None:
    vp = present(world, [world.membership(MOBILITY, index=20)])
    assert refused(world, vp) == "holder_mismatch"


def test_attack_revoked_credential_inside(world: World) -> None:
    vp = present(world)
    world.status.set(8)  # the legal participant credential
    world.publish_status()
    assert refused(world, vp) == "revoked"


def test_attack_altered_credential_inside(world: World) -> None:
    def rename(claims: dict[str, Any]) -> None:
        claims["credentialSubject"]["legalName"] = "Evil Corp"

    assert refused(world, present(world, [tamper(world.legal(), rename)])) == "signature"


def test_attack_altered_presentation(world: World) -> None:
    def swap(claims: dict[str, Any]) -> None:
        claims["aud"] = "did:web:elsewhere.example"

    assert refused(world, tamper(present(world), swap)) == "signature"


def test_attack_forged_holder_signature(world: World) -> None:
    forger = SigningKey(kid=world.city.kid, key=generate_key("x").key)
    assert refused(world, present(world, key=forger)) == "signature"


def test_wrong_audience_nonce_and_time(world: World) -> None:
    assert refused(world, present(world, audience=CITY)) == "audience"
    assert refused(world, present(world, nonce="other")) == "nonce"
    assert refused(world, present(world, nonce=None)) == "nonce"
    assert (
        refused(world, present(world, now=world.clock.now() + timedelta(hours=1)))
        == "not_yet_valid"
    )
    vp = present(world)
    world.clock.advance(3600)
    assert refused(world, vp) == "expired"


def test_untrusted_issuer_inside(world: World) -> None:
    from twinspace.identity import issue_credential, membership_credential

    own = membership_credential(
        issuer=CITY, subject=CITY, member_of="urn:dataspace:twin-city", valid_from=world.clock.now()
    )
    assert refused(world, present(world, [issue_credential(own, world.city)])) == "untrusted_issuer"


def test_iss_must_be_the_holder(world: World) -> None:
    now = int(world.clock.now().timestamp())
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": CITY, "iss": MOBILITY, "aud": MOBILITY, "iat": now, "exp": now + 60,
    }  # fmt: skip
    assert refused(world, sign_jwt(vp, world.city, typ="vp+jwt"), nonce=None) == "issuer_mismatch"


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.pop("@context"),
        lambda c: c.update(type=["VerifiableCredential"]),
        lambda c: c.pop("holder"),
        lambda c: c.update(holder="https://city.example"),
        lambda c: c.update(verifiableCredential="eyJ"),
        lambda c: c.update(verifiableCredential=[{"type": "EnvelopedVerifiableCredential"}]),
        lambda c: c.update(
            verifiableCredential=[
                {"id": "data:text/plain,x", "type": "EnvelopedVerifiableCredential"}
            ]
        ),
        lambda c: c.update(verifiableCredential=["not a jwt"]),
        lambda c: c.pop("exp"),
        lambda c: c.pop("iat"),
    ],
)
def test_malformed_presentations(world: World, change: Any) -> None:
    now = int(world.clock.now().timestamp())
    vp: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": CITY, "verifiableCredential": [],
        "iss": CITY, "aud": MOBILITY, "iat": now, "exp": now + 60,
    }  # fmt: skip
    change(vp)
    assert refused(world, sign_jwt(vp, world.city, typ="vp+jwt"), nonce=None) == "malformed"


def test_wrong_typ(world: World) -> None:
    assert refused(world, world.membership()) == "malformed"  # a VC is not a VP
