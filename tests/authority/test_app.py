"""The authority's HTTP API in process (httpx.ASGITransport), on every backend."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from twinspace.identity import (
    DCP_CONTEXT,
    LEGAL_PARTICIPANT,
    MEMBERSHIP,
    IdentityError,
    create_id_token,
    generate_key,
    parse_credential_message,
    verify_credential,
)
from twinspace.identity.keys import peek_jwt

from .conftest import AUTHORITY, BASE, DATASPACE, Participant, Space

ADMIN = "/authority/admin/participants"


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


async def credentials(space: Space, p: Participant) -> dict[str, str]:
    response = await space.request_credentials(p)
    assert response.status_code == 200, response.text
    return dict(parse_credential_message(response.json()))


async def verify_all(space: Space, p: Participant, jwts: dict[str, str]) -> None:
    ctx = await space.context()
    for jwt in jwts.values():
        verify_credential(jwt, ctx, expected_subject=p.did)


async def refused_with(space: Space, p: Participant, jwts: dict[str, str]) -> set[str]:
    ctx = await space.context()
    codes = set()
    for jwt in jwts.values():
        with pytest.raises(IdentityError) as refused:
            verify_credential(jwt, ctx, expected_subject=p.did)
        codes.add(refused.value.code)
    return codes


# --- published documents ---------------------------------------------------------------------


async def test_did_document(space: Space) -> None:
    response = await space.http.get(f"{BASE}/did.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/did+json")
    document = response.json()
    assert document["id"] == AUTHORITY
    [method] = document["verificationMethod"]
    assert method["id"] == f"{AUTHORITY}#key-1"
    assert method["publicKeyJwk"]["crv"] == "Ed25519" and "d" not in method["publicKeyJwk"]
    assert document["authentication"] == document["assertionMethod"] == [f"{AUTHORITY}#key-1"]
    assert [(s["type"], s["serviceEndpoint"]) for s in document["service"]] == [
        ("IssuerService", f"{BASE}/issuer"),
        ("TransparencyLog", f"{BASE}/log"),
    ]


async def test_trust_list(space: Space) -> None:
    response = await space.http.get(f"{BASE}/trust-list")
    assert response.json() == {"issuers": [AUTHORITY], "dataspace": DATASPACE}


async def test_status_list_endpoints(space: Space) -> None:
    for purpose in ("revocation", "suspension"):
        response = await space.http.get(f"{BASE}/status/{purpose}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/vc+jwt")
        _, claims = peek_jwt(response.text)
        assert claims["id"] == f"{BASE}/status/{purpose}"
        assert claims["credentialSubject"]["statusPurpose"] == purpose
    error(await space.http.get(f"{BASE}/status/other"), 404, "not_found")
    # the purpose is fixed by the path, nothing else
    response = await space.http.get(f"{BASE}/status/suspension?purpose=revocation")
    assert peek_jwt(response.text)[1]["credentialSubject"]["statusPurpose"] == "suspension"


# --- issuance and status -----------------------------------------------------------------------


async def test_onboard_issue_verify_revoke(space: Space) -> None:
    city, mobility = space.participants["city"], space.participants["mobility"]
    assert (await space.onboard(city)).status_code == 201
    assert (await space.onboard(mobility, roles=["consumer"])).status_code == 201
    response = await space.request_credentials(city)
    message = response.json()
    assert message["type"] == "CredentialMessage" and message["@context"] == [DCP_CONTEXT]
    assert message["status"] == "ISSUED" and message["issuerPid"]
    jwts = dict(parse_credential_message(message))
    assert set(jwts) == {MEMBERSHIP, LEGAL_PARTICIPANT}
    ctx = await space.context()
    membership = verify_credential(jwts[MEMBERSHIP], ctx, expected_subject=city.did)
    assert membership.issuer == AUTHORITY
    assert membership.subject["memberOf"] == DATASPACE
    assert membership.subject["roles"] == ["provider", "consumer"]
    assert membership.valid_from == space.clock.now()
    assert membership.valid_until == space.clock.now() + timedelta(days=30)
    legal = verify_credential(jwts[LEGAL_PARTICIPANT], ctx, expected_subject=city.did)
    assert legal.subject["legalName"] == "City Ltd"
    other = await credentials(space, mobility)
    await verify_all(space, mobility, other)

    revoked = await space.admin.post(f"{ADMIN}/{city.did}/revoke", json={"reason": "left"})
    assert revoked.json()["status"] == "revoked" and revoked.json()["reason"] == "left"
    assert await refused_with(space, city, jwts) == {"revoked"}
    await verify_all(space, mobility, other)  # the others are not affected
    error(await space.request_credentials(city), 403, "revoked")
    error(await space.admin.post(f"{ADMIN}/{city.did}/reinstate"), 409, "conflict")


async def test_suspend_and_reinstate(space: Space) -> None:
    city = space.participants["city"]
    await space.onboard(city)
    jwts = await credentials(space, city)
    suspended = await space.admin.post(f"{ADMIN}/{city.did}/suspend", json={"reason": "audit"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert await refused_with(space, city, jwts) == {"suspended"}
    error(await space.request_credentials(city), 403, "suspended")
    reinstated = await space.admin.post(f"{ADMIN}/{city.did}/reinstate")
    assert reinstated.json()["status"] == "active" and reinstated.json()["reason"] is None
    await verify_all(space, city, jwts)
    await verify_all(space, city, await credentials(space, city))


async def test_only_the_requested_types(space: Space) -> None:
    city = space.participants["city"]
    await space.onboard(city)
    body = {
        "@context": [DCP_CONTEXT],
        "type": "CredentialRequestMessage",
        "holderPid": "holder-1",
        "credentials": [{"id": LEGAL_PARTICIPANT}],
    }
    response = await space.request_credentials(city, body)
    assert response.json()["holderPid"] == "holder-1"
    assert [t for t, _ in parse_credential_message(response.json())] == [LEGAL_PARTICIPANT]


async def test_not_onboarded(space: Space) -> None:
    message = error(
        await space.request_credentials(space.participants["city"]), 403, "not_onboarded"
    )
    assert "did:web:city.test:city" in message


# --- refused tokens --------------------------------------------------------------------------


async def test_bad_tokens_are_401(space: Space) -> None:
    city = space.participants["city"]
    await space.onboard(city)
    url = f"{BASE}/issuer/credentials"
    body = {
        "@context": [DCP_CONTEXT],
        "type": "CredentialRequestMessage",
        "holderPid": "h",
        "credentials": [{"id": MEMBERSHIP}],
    }
    impostor = generate_key(f"{city.did}#key-1")  # claims city's kid, not in its document
    stranger = space.add_participant("stranger")
    cases: dict[str, dict[str, str]] = {
        "no header": {},
        "empty": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "forged": {"Authorization": "Bearer " + space.token(Participant("city", impostor))},
        "expired": {
            "Authorization": "Bearer "
            + space.token(city, now=space.clock.now() - timedelta(hours=1))
        },
        "wrong audience": {
            "Authorization": "Bearer " + space.token(city, audience="did:web:other.test")
        },
        "unresolvable caller": {
            "Authorization": "Bearer "
            + create_id_token(
                generate_key("did:web:nowhere.test#key-1"),
                audience=AUTHORITY,
                now=space.clock.now(),
            )
        },
    }
    codes = {}
    for name, headers in cases.items():
        response = await space.http.post(url, json=body, headers=headers)
        message = error(response, 401, "unauthorized")
        codes[name] = message.split(":", 1)[0]
    assert codes == {
        "no header": "malformed",
        "empty": "malformed",
        "garbage": "malformed",
        "forged": "signature",
        "expired": "expired",
        "wrong audience": "audience",
        "unresolvable caller": "unresolved",
    }
    token = space.token(city)
    assert (await space.request_credentials(city, token=token)).status_code == 200
    replayed = error(await space.request_credentials(city, token=token), 401, "unauthorized")
    assert replayed.startswith("replay")
    # a valid token of a participant that is not onboarded passes authentication only
    error(await space.request_credentials(stranger), 403, "not_onboarded")


# --- bad input: 400, never 500 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[" * 50_000 + b"]" * 50_000,
        b"[]",
        b'"text"',
        b'{"type": "CredentialRequestMessage"}',
        json.dumps({"@context": [DCP_CONTEXT], "type": "CredentialMessage"}).encode(),
        json.dumps(
            {
                "@context": [DCP_CONTEXT],
                "type": "CredentialRequestMessage",
                "holderPid": "h",
                "credentials": [],
            }
        ).encode(),
        json.dumps(
            {
                "@context": [DCP_CONTEXT],
                "type": "CredentialRequestMessage",
                "holderPid": "h",
                "credentials": ["x"],
            }
        ).encode(),
        json.dumps(
            {
                "@context": [DCP_CONTEXT],
                "type": "CredentialRequestMessage",
                "holderPid": "h",
                "credentials": [{"id": "PassportCredential"}],
            }
        ).encode(),
        b'{"a": "' + b"x" * 70_000 + b'"}',
    ],
    ids=lambda c: c[:24].decode("latin-1"),
)
async def test_bad_requests_are_400(space: Space, content: bytes) -> None:
    city = space.participants["city"]
    await space.onboard(city)
    response = await space.http.post(
        f"{BASE}/issuer/credentials",
        content=content,
        headers={
            "Authorization": "Bearer " + space.token(city),
            "Content-Type": "application/json",
        },
    )
    error(response, 400, "bad_request")


# --- the admin API ---------------------------------------------------------------------------


async def test_admin_needs_the_api_key(space: Space) -> None:
    did = space.participants["city"].did
    requests: list[tuple[str, str, Any]] = [
        ("POST", ADMIN, space.participants["city"].onboarding()),
        ("GET", ADMIN, None),
        ("GET", f"{ADMIN}/{did}", None),
        ("POST", f"{ADMIN}/{did}/revoke", None),
        ("POST", f"{ADMIN}/{did}/suspend", None),
        ("POST", f"{ADMIN}/{did}/reinstate", None),
    ]
    for headers in ({}, {"X-Api-Key": "wrong"}):
        for method, path, body in requests:
            response = await space.http.request(
                method, f"https://authority.test{path}", json=body, headers=headers
            )
            error(response, 401, "unauthorized")
    assert (await space.admin.get(ADMIN)).json() == []


async def test_admin_register(space: Space) -> None:
    city = space.participants["city"]
    created = await space.onboard(city, country="fr", roles=["provider"])
    assert created.status_code == 201
    member = created.json()
    assert member == {
        "did": city.did,
        "legalName": "City Ltd",
        "registrationNumber": "HRB 4",
        "country": "FR",
        "roles": ["provider"],
        "securityLevel": None,
        "status": "active",
        "statusIndex": 0,
        "reason": None,
        "onboardedAt": "2026-01-01T00:00:00.000000Z",
        "updatedAt": "2026-01-01T00:00:00.000000Z",
    }
    error(await space.onboard(city), 409, "conflict")
    assert (await space.admin.get(f"{ADMIN}/{city.did}")).json() == member
    assert (await space.admin.get(ADMIN)).json() == [member]
    error(await space.admin.get(f"{ADMIN}/did:web:nobody.test"), 404, "not_found")
    error(await space.admin.post(f"{ADMIN}/did:web:nobody.test/suspend"), 404, "not_found")
    space.clock.advance(5)
    suspended = (await space.admin.post(f"{ADMIN}/{city.did}/suspend")).json()
    assert suspended["status"] == "suspended" and suspended["reason"] is None
    assert suspended["updatedAt"] == "2026-01-01T00:00:05.000000Z"
    error(await space.admin.post(f"{ADMIN}/{city.did}/suspend"), 409, "conflict")
    error(
        await space.admin.post(f"{ADMIN}/{city.did}/revoke", json={"reason": 5}),
        400,
        "bad_request",
    )
    error(
        await space.admin.post(f"{ADMIN}/{city.did}/revoke", content=b"{oops"),
        400,
        "bad_request",
    )


async def test_admin_paths_with_percent_encoded_dids(space: Space) -> None:
    did = "did:web:city.test%3A8443:city"
    created = await space.admin.post(
        ADMIN, json={**space.participants["city"].onboarding(), "did": did}
    )
    assert created.status_code == 201
    other = "did:web:city.test:8443:city"  # what "%3A" decodes to: another, valid DID
    for path in (did, did.replace("%3A", "%253A"), "did%3Aweb%3Acity.test%253A8443%3Acity"):
        response = await space.admin.get(f"{ADMIN}/{path}")
        assert response.status_code == 200, (path, response.text)
        assert response.json()["did"] == did
    response = await space.admin.post(f"{ADMIN}/{did.replace('%3A', '%253A')}/suspend")
    assert response.json()["did"] == did and response.json()["status"] == "suspended"
    response = await space.admin.post(f"{ADMIN}/{did}/reinstate")
    assert response.json()["status"] == "active"
    await space.admin.post(ADMIN, json={**space.participants["city"].onboarding(), "did": other})
    assert (await space.admin.get(f"{ADMIN}/{other}")).json()["did"] == other
    assert (await space.admin.get(f"{ADMIN}/{did}")).json()["did"] == did


@pytest.mark.parametrize(
    "body",
    [
        {"did": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"},
        {"did": "https://city.test"},
        {"country": "Germany"},
        {"country": "XX"},
        {"legalName": ""},
        {"registrationNumber": "   "},
        {"roles": "provider"},
        {"roles": [None]},
    ],
    ids=lambda b: json.dumps(b)[:40],
)
async def test_admin_onboarding_validation(space: Space, body: dict[str, Any]) -> None:
    response = await space.onboard(space.participants["city"], **body)
    message = error(response, 400, "bad_request")
    assert next(iter(body)) in message or "role" in message
    for content in (b"[]", b"nope", b""):
        response = await space.admin.post(ADMIN, content=content)
        error(response, 400, "bad_request")


async def test_unknown_routes_answer_json(space: Space) -> None:
    error(await space.http.get("https://authority.test/nothing"), 404, "not_found")
    response = await space.http.get(f"{BASE}/issuer/credentials")
    assert response.status_code == 405
    assert response.json()["error"] == "not_allowed"
