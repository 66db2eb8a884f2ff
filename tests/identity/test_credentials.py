from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from twinspace.clock import ManualClock
from twinspace.identity import (
    LEGAL_PARTICIPANT,
    MEMBERSHIP,
    IdentityError,
    InMemoryStatusLists,
    SigningKey,
    build_did_document,
    generate_key,
    issue_credential,
    legal_participant_credential,
    membership_credential,
    status_entry,
    status_list_credential,
    verify_credential,
)
from twinspace.identity.keys import sign_jwt

from .conftest import AUTHORITY, CITY, LIST_URL, MOBILITY, START, World, tamper


def code_of(token: object, world: World, **kw: Any) -> str:
    with pytest.raises(IdentityError) as err:
        verify_credential(token, world.ctx(), **kw)
    return err.value.code


def test_honest_membership_credential(world: World) -> None:
    credential = verify_credential(world.membership(), world.ctx(), expected_subject=CITY)
    assert MEMBERSHIP in credential.types
    assert credential.issuer == AUTHORITY and credential.subject_id == CITY
    assert credential.subject["roles"] == ["provider", "consumer"]
    assert credential.valid_until == START + timedelta(days=365)


def test_honest_legal_participant_credential(world: World) -> None:
    credential = verify_credential(world.legal(), world.ctx())
    assert LEGAL_PARTICIPANT in credential.types
    assert credential.subject["legalName"] == "Ville de Lyon"
    assert credential.subject["country"] == "FR"


def test_older_typ_is_accepted(world: World) -> None:
    claims = membership_credential(
        issuer=AUTHORITY, subject=CITY, member_of="ds", valid_from=START
    ) | {"iss": AUTHORITY}
    token = sign_jwt(claims, world.authority, typ="vc+ld+json+jwt")
    assert verify_credential(token, world.ctx()).subject_id == CITY


def test_wrong_typ_is_malformed(world: World) -> None:
    claims = membership_credential(issuer=AUTHORITY, subject=CITY, member_of="ds", valid_from=START)
    assert code_of(sign_jwt(claims, world.authority, typ="JWT"), world) == "malformed"
    assert code_of(sign_jwt(claims, world.authority, typ="vp+jwt"), world) == "malformed"


def test_attack_revoked_credential(world: World) -> None:
    token = world.membership(index=7)
    world.status.set(7)
    world.publish_status()
    assert code_of(token, world) == "revoked"
    # a neighbouring credential is unaffected
    verify_credential(world.legal(index=8), world.ctx())


def test_suspension_list(world: World) -> None:
    url = "https://localhost:8100/authority/status/suspended"
    bits = world.status.__class__()
    bits.set(3)
    listing = status_list_credential(
        list_url=url, issuer=AUTHORITY, status_list=bits, purpose="suspension", valid_from=START
    )
    world.lists.put(url, issue_credential(listing, world.authority))
    token = world.membership(status=status_entry(url, 3, "suspension"))
    assert code_of(token, world) == "suspended"


def test_attack_untrusted_issuer(world: World) -> None:
    # mobility signs a perfectly valid credential about itself; it is not on the trust list
    claims = membership_credential(
        issuer=MOBILITY, subject=MOBILITY, member_of="ds", valid_from=START
    )
    assert code_of(issue_credential(claims, world.mobility), world) == "untrusted_issuer"


def test_attack_altered_after_issue(world: World) -> None:
    def promote(claims: dict[str, Any]) -> None:
        claims["credentialSubject"]["roles"].append("admin")

    assert code_of(tamper(world.membership(), promote), world) == "signature"

    def rename(claims: dict[str, Any]) -> None:
        claims["credentialSubject"]["legalName"] = "Evil Corp"

    assert code_of(tamper(world.legal(), rename), world) == "signature"


def test_attack_forged_issuer_signature(world: World) -> None:
    forger = SigningKey(kid=world.authority.kid, key=generate_key("x").key)
    claims = membership_credential(issuer=AUTHORITY, subject=CITY, member_of="ds", valid_from=START)
    assert code_of(issue_credential(claims, forger), world) == "signature"


def test_attack_signed_by_a_key_of_another_did(world: World) -> None:
    claims = membership_credential(issuer=AUTHORITY, subject=CITY, member_of="ds", valid_from=START)
    token = sign_jwt(claims | {"iss": AUTHORITY}, world.city, typ="vc+jwt")
    assert code_of(token, world) == "issuer_mismatch"


def test_expired_and_not_yet_valid(world: World) -> None:
    token = world.membership()
    world.clock.advance(366 * 86400)
    assert code_of(token, world) == "expired"
    early = world.membership(valid_from=START + timedelta(days=2))
    with pytest.raises(IdentityError) as err:
        verify_credential(early, world.ctx(clock=ManualClock(START)))
    assert err.value.code == "not_yet_valid"


def test_subject_binding(world: World) -> None:
    assert code_of(world.membership(), world, expected_subject=MOBILITY) == "holder_mismatch"


def test_jwt_iss_and_sub_must_agree_with_the_credential(world: World) -> None:
    claims = membership_credential(issuer=AUTHORITY, subject=CITY, member_of="ds", valid_from=START)
    token = sign_jwt(claims | {"iss": MOBILITY}, world.authority, typ="vc+jwt")
    assert code_of(token, world) == "issuer_mismatch"
    token = sign_jwt(claims | {"sub": MOBILITY}, world.authority, typ="vc+jwt")
    assert code_of(token, world) == "holder_mismatch"


def test_status_list_problems(world: World) -> None:
    ctx = world.ctx(status_lists=InMemoryStatusLists())
    with pytest.raises(IdentityError) as err:
        verify_credential(world.membership(), ctx)
    assert err.value.code == "unresolved"
    # a status list signed by someone else than the credential's issuer
    other = generate_key(f"{AUTHORITY}#key-1")
    forged = status_list_credential(
        list_url=LIST_URL, issuer=AUTHORITY, status_list=world.status, valid_from=START
    )
    world.lists.put(LIST_URL, issue_credential(forged, other))
    assert code_of(world.membership(), world) == "signature"


def test_issuer_key_rotation(world: World) -> None:
    old_token = world.membership()
    new_key = generate_key(f"{AUTHORITY}#key-2")
    cutover = world.clock.now() + timedelta(days=1)
    world.resolver.publish(
        build_did_document(
            AUTHORITY, [world.authority, new_key], expires={world.authority.kid: cutover}
        )
    )
    verify_credential(old_token, world.ctx())
    world.authority = new_key
    world.publish_status()
    world.clock.advance(2 * 86400)
    assert code_of(old_token, world) == "key_retired"
    verify_credential(world.membership(), world.ctx())


def _strip(field: str) -> Any:
    def change(claims: dict[str, Any]) -> None:
        del claims[field]

    return change


@pytest.mark.parametrize(
    "change",
    [
        _strip("@context"),
        _strip("type"),
        _strip("issuer"),
        _strip("credentialSubject"),
        lambda c: c.update({"type": "VerifiableCredential"}),
        lambda c: c.update({"type": ["MembershipCredential"]}),
        lambda c: c.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}),
        lambda c: c.update({"issuer": "https://authority.example"}),
        lambda c: c.update({"issuer": {"name": "no id"}}),
        lambda c: c.update({"credentialSubject": [{"id": "a"}, {"id": "b"}]}),
        lambda c: c.update({"validFrom": "yesterday"}),
        lambda c: c.update({"validUntil": "2027-01-01T00:00:00"}),
        lambda c: c.update({"credentialStatus": {"type": "Other"}}),
        lambda c: c.update({"nbf": "soon"}),
    ],
)
def test_malformed_credentials(world: World, change: Any) -> None:
    claims = membership_credential(issuer=AUTHORITY, subject=CITY, member_of="ds", valid_from=START)
    change(claims)
    token = sign_jwt(claims, world.authority, typ="vc+jwt")
    assert code_of(token, world) == "malformed"


def test_builders_validate_their_input() -> None:
    with pytest.raises(IdentityError):
        legal_participant_credential(
            issuer=AUTHORITY, subject=CITY, legal_name="X", registration_number="1",
            country="France", valid_from=START,
        )  # fmt: skip
    with pytest.raises(IdentityError):
        legal_participant_credential(
            issuer=AUTHORITY, subject=CITY, legal_name=" ", registration_number="1",
            country="FR", valid_from=START,
        )  # fmt: skip
    claims = membership_credential(issuer=AUTHORITY, subject=CITY, member_of="ds", valid_from=START)
    with pytest.raises(IdentityError) as err:
        issue_credential(claims, generate_key(f"{MOBILITY}#key-1"))
    assert err.value.code == "issuer_mismatch"
