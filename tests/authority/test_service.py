"""The authority service over the store, on every backend: register, issuance, status lists."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from twinspace.authority import AuthorityError, AuthorityService, Onboarding
from twinspace.authority.validation import (
    COUNTRIES,
    check_country,
    check_did,
    parse_onboarding,
    parse_reason,
)
from twinspace.clock import ManualClock
from twinspace.identity import (
    LEGAL_PARTICIPANT,
    MEMBERSHIP,
    IdentityError,
    InMemoryDidResolver,
    InMemoryStatusLists,
    StatusList,
    TrustContext,
    generate_key,
    verify_credential,
)
from twinspace.identity.keys import peek_jwt
from twinspace.store import MEMBER_ACTIVE, MEMBER_REVOKED, MEMBER_SUSPENDED, Store

from .conftest import AUTHORITY, BASE, DATASPACE, authority_settings

CITY = "did:web:city.test:city"
PORTED = "did:web:127.0.0.1%3A8101:mobility"


@pytest.fixture
def service(store: Store, clock: ManualClock, tmp_path: Path) -> AuthorityService:
    return AuthorityService(
        authority_settings(tmp_path),
        store=store,
        key=generate_key(f"{AUTHORITY}#key-1"),
        clock=clock,
    )


def onboarding(did: str = CITY, *roles: str) -> Onboarding:
    return Onboarding(did, "City of Example", "HRB 1", "DE", roles or ("provider",))


def context(service: AuthorityService) -> TrustContext:
    lists = InMemoryStatusLists()
    for purpose in ("revocation", "suspension"):
        lists.put(service.status_url(purpose), service.status_list(purpose))
    return TrustContext(
        resolver=InMemoryDidResolver([service.did_document()]),
        clock=service.clock,
        trusted_issuers=frozenset({AUTHORITY}),
        status_lists=lists,
    )


def test_onboarding_gives_each_member_its_own_status_index(service: AuthorityService) -> None:
    first = service.onboard(onboarding(CITY))
    second = service.onboard(onboarding(PORTED, "consumer"))
    assert (first.status, first.status_index, second.status_index) == (MEMBER_ACTIVE, 0, 1)
    assert [m.did for m in service.members()] == [CITY, PORTED]
    assert service.member(PORTED).roles == ["consumer"]
    with pytest.raises(AuthorityError) as refused:
        service.onboard(onboarding(CITY))
    assert (refused.value.code, refused.value.status) == ("conflict", 409)
    with pytest.raises(AuthorityError) as missing:
        service.member("did:web:nobody.test")
    assert missing.value.status == 404


def test_status_changes_follow_the_rules(service: AuthorityService, clock: ManualClock) -> None:
    service.onboard(onboarding())
    clock.advance(60)
    suspended = service.suspend(CITY, "unpaid fee")
    assert (suspended.status, suspended.reason) == (MEMBER_SUSPENDED, "unpaid fee")
    assert suspended.updated_at == clock.now() != suspended.onboarded_at
    with pytest.raises(AuthorityError, match="already suspended"):
        service.suspend(CITY)
    assert service.reinstate(CITY).status == MEMBER_ACTIVE
    with pytest.raises(AuthorityError, match="only a suspended member"):
        service.reinstate(CITY)
    assert service.revoke(CITY, "left").status == MEMBER_REVOKED
    for change in (service.reinstate, service.suspend, service.revoke):
        with pytest.raises(AuthorityError, match="final") as refused:
            change(CITY, None)
        assert refused.value.status == 409
    with pytest.raises(AuthorityError) as missing:
        service.revoke("did:web:nobody.test")
    assert missing.value.code == "not_found"


def test_issued_credentials_verify_and_carry_both_status_entries(
    service: AuthorityService, clock: ManualClock
) -> None:
    service.onboard(onboarding(CITY, "provider", "consumer"))
    issued = dict(service.issue(CITY, [MEMBERSHIP, LEGAL_PARTICIPANT, MEMBERSHIP]))
    assert set(issued) == {MEMBERSHIP, LEGAL_PARTICIPANT}
    ctx = context(service)
    membership = verify_credential(issued[MEMBERSHIP], ctx, expected_subject=CITY)
    assert membership.subject["memberOf"] == DATASPACE
    assert membership.subject["roles"] == ["provider", "consumer"]
    assert membership.valid_until == membership.valid_from + timedelta(days=30)  # type: ignore[operator]
    assert membership.id and membership.id.startswith("urn:uuid:")
    legal = verify_credential(issued[LEGAL_PARTICIPANT], ctx, expected_subject=CITY)
    assert (legal.subject["legalName"], legal.subject["country"]) == ("City of Example", "DE")
    status = membership.claims["credentialStatus"]
    assert [
        (e["statusPurpose"], e["statusListCredential"], e["statusListIndex"]) for e in status
    ] == [
        ("revocation", f"{BASE}/status/revocation", "0"),
        ("suspension", f"{BASE}/status/suspension", "0"),
    ]


@pytest.mark.parametrize(("change", "code"), [("revoke", "revoked"), ("suspend", "suspended")])
def test_a_status_change_shows_in_the_lists_and_stops_issuance(
    service: AuthorityService, change: str, code: str
) -> None:
    service.onboard(onboarding(PORTED))
    service.onboard(onboarding(CITY))  # index 1
    jwt = dict(service.issue(CITY, [MEMBERSHIP]))[MEMBERSHIP]
    getattr(service, change)(CITY)
    with pytest.raises(IdentityError) as refused:
        verify_credential(jwt, context(service))
    assert refused.value.code == code
    verify_credential(dict(service.issue(PORTED, [MEMBERSHIP]))[MEMBERSHIP], context(service))
    with pytest.raises(AuthorityError) as denied:
        service.issue(CITY, [MEMBERSHIP])
    assert (denied.value.code, denied.value.status) == (code, 403)


def test_a_reinstated_member_is_valid_again(service: AuthorityService) -> None:
    service.onboard(onboarding())
    jwt = dict(service.issue(CITY, [LEGAL_PARTICIPANT]))[LEGAL_PARTICIPANT]
    service.suspend(CITY)
    service.reinstate(CITY)
    verify_credential(jwt, context(service), expected_subject=CITY)


def test_issuance_refusals(service: AuthorityService) -> None:
    with pytest.raises(AuthorityError) as unknown_member:
        service.issue(CITY, [MEMBERSHIP])
    assert (unknown_member.value.code, unknown_member.value.status) == ("not_onboarded", 403)
    service.onboard(onboarding())
    for types in (["DriverLicence"], [MEMBERSHIP, "VerifiableCredential"], []):
        with pytest.raises(AuthorityError) as bad:
            service.issue(CITY, types)
        assert bad.value.status == 400


def test_status_list_credentials(service: AuthorityService, clock: ManualClock) -> None:
    for i in range(3):
        service.onboard(onboarding(f"did:web:p{i}.test"))
    service.revoke("did:web:p1.test")
    service.suspend("did:web:p2.test")
    for purpose, expected in (("revocation", [1]), ("suspension", [2])):
        jwt = service.status_list(purpose)
        header, claims = peek_jwt(jwt)
        assert header["typ"] == "vc+jwt"
        assert claims["id"] == f"{BASE}/status/{purpose}"
        assert claims["issuer"] == AUTHORITY
        assert claims["credentialSubject"]["statusPurpose"] == purpose
        assert claims["validFrom"] == "2026-01-01T00:00:00Z"
        assert claims["validUntil"] == "2026-01-01T00:10:00Z"
        bits = StatusList.decode(claims["credentialSubject"]["encodedList"])
        assert [i for i in range(4) if bits.get(i)] == expected
    with pytest.raises(AuthorityError) as unknown:
        service.status_list("other")
    assert unknown.value.status == 404


def test_published_documents(service: AuthorityService) -> None:
    document = service.did_document()
    assert document["id"] == AUTHORITY
    assert document["assertionMethod"] == document["authentication"] == [f"{AUTHORITY}#key-1"]
    assert document["service"][0]["type"] == "IssuerService"
    assert document["service"][0]["serviceEndpoint"] == f"{BASE}/issuer"
    assert service.trust_list() == {"issuers": [AUTHORITY], "dataspace": DATASPACE}


def test_the_key_must_belong_to_the_authority(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a key of"):
        AuthorityService(
            authority_settings(tmp_path),
            store=store,
            key=generate_key("did:web:other.test#key-1"),
            clock=ManualClock(),
        )


# --- input validation (no store) -----------------------------------------------------------------


def test_countries() -> None:
    assert len(COUNTRIES) == 250 and {"DE", "FR", "NL", "GB", "XK"} <= COUNTRIES
    assert check_country(" fr ") == "FR"
    for bad in ("XX", "DEU", "", 49, None, "UK"):
        with pytest.raises(AuthorityError, match="ISO 3166-1"):
            check_country(bad)


def test_dids() -> None:
    assert check_did(PORTED) == PORTED
    for bad in ("did:key:z6Mk", "https://city.test", "did:web:city.test#key-1", "", None, 7):
        with pytest.raises(AuthorityError) as refused:
            check_did(bad)
        assert refused.value.code == "bad_request"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"legalName": "  "}, "legalName"),
        ({"registrationNumber": None}, "registrationNumber"),
        ({"registrationNumber": "x" * 200}, "registrationNumber"),
        ({"roles": "provider"}, "roles"),
        ({"roles": ["pro vider"]}, "role"),
        ({"roles": [1]}, "role"),
        ({"country": "Germany"}, "country"),
        ({"did": "did:web:bad host"}, "did"),
    ],
)
def test_onboarding_fields(override: dict[str, object], field: str) -> None:
    body = {
        "did": CITY,
        "legalName": "City",
        "registrationNumber": "1",
        "country": "DE",
        "roles": ["provider"],
        **override,
    }
    with pytest.raises(AuthorityError, match=field):
        parse_onboarding(body)


def test_onboarding_normalises() -> None:
    parsed = parse_onboarding(
        {
            "did": CITY,
            "legalName": " City ",
            "registrationNumber": "1",
            "country": "de",
            "roles": ["provider", "provider", "consumer"],
        }
    )
    assert parsed == Onboarding(CITY, "City", "1", "DE", ("provider", "consumer"))
    assert (
        parse_onboarding(
            {**parsed.__dict__, "legalName": "x", "registrationNumber": "y", "roles": None}
        ).roles
        == ()
    )
    with pytest.raises(AuthorityError):
        parse_onboarding([CITY])


def test_reasons() -> None:
    assert parse_reason(None) is None
    assert parse_reason({}) is None
    assert parse_reason({"reason": " fraud "}) == "fraud"
    for bad in ([1], {"reason": 3}, {"reason": "x" * 2000}):
        with pytest.raises(AuthorityError):
            parse_reason(bad)


def test_a_certified_security_level_goes_into_the_membership_credential() -> None:
    from twinspace.authority.errors import AuthorityError
    from twinspace.authority.validation import parse_onboarding

    body = {
        "did": "did:web:city.test:city",
        "legalName": "City",
        "registrationNumber": "R-1",
        "country": "DE",
        "securityLevel": "trust",
    }
    assert parse_onboarding(body).security_level == "trust"
    try:
        parse_onboarding({**body, "securityLevel": "gold"})
    except AuthorityError as exc:
        assert "securityLevel" in str(exc)
    else:
        raise AssertionError("an unknown level was accepted")
