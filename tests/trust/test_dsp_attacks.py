"""Every attack the trust issue lists, end to end against a provider's DSP endpoint: each is
refused with 404 (the DSP binding's answer to an unauthorised caller) and the provider logs
the specific reason. The honest path is checked alongside each."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.connector.harness import Node
from tests.identity.conftest import tamper
from tests.trust.space import Space, add_authority, dcp_space, did_of

from twinspace.clock import ManualClock
from twinspace.identity import (
    create_access_token,
    create_id_token,
    credential_request,
    generate_key,
    parse_credential_message,
)
from twinspace.identity.keys import sign_jwt
from twinspace.protocol import messages as m
from twinspace.store import HeldCredential

CITY, MOBILITY = did_of("city"), did_of("mobility")


@pytest.fixture
async def space(tmp_path: Path) -> AsyncIterator[Space]:
    clock = ManualClock()
    async with dcp_space(
        tmp_path,
        ["city", "mobility", "mallory"],
        clock=clock,
        did_cache_seconds=30,
    ) as found:
        yield found


def clock_of(space: Space) -> ManualClock:
    clock = space.nodes["city"].connector.ctx.clock
    assert isinstance(clock, ManualClock)
    return clock


async def call(space: Space, authorization: str | None, *, path: str = "/catalog/request") -> int:
    """A raw DSP call to the city (the provider)."""
    headers = {} if authorization is None else {"Authorization": authorization}
    city = space.nodes["city"]
    if path == "/catalog/request":
        r = await city.client.post(f"/dsp{path}", json=m.catalog_request(), headers=headers)
    else:
        r = await city.client.get(f"/dsp{path}", headers=headers)
    if r.status_code == 404:
        assert r.json()["reason"] == ["not found"]  # nothing about why reaches the caller
    return r.status_code


def refused(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().split(": ")[1]
        for r in caplog.records
        if r.name == "twinspace.trust" and r.getMessage().startswith("refused a DSP call")
    ]


@pytest.fixture(autouse=True)
def _log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "twinspace.trust")


def token(node: Node, *, audience: str = CITY, shift: float = 0, **kw: Any) -> str:
    """An ID token by ``node`` (with an access token for ``audience``)."""
    trust = node.connector.trust
    assert trust is not None
    now = trust.clock.now() + timedelta(seconds=shift)
    access = create_access_token(
        trust.key, verifier=audience, now=now, lifetime=timedelta(minutes=2)
    )
    args: dict[str, Any] = {"audience": audience, "now": now, "access_token": access}
    args.update(kw)
    key = args.pop("key", trust.key)
    return "Bearer " + create_id_token(key, **args)


async def test_the_honest_caller_is_accepted(space: Space) -> None:
    assert await call(space, token(space.nodes["mobility"])) == 200


async def test_forged_signature(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    forged = tamper(token(space.nodes["mobility"]).split()[1], lambda c: c.update(exp=c["exp"] + 1))
    assert await call(space, f"Bearer {forged}") == 404
    assert refused(caplog) == ["signature"]


async def test_expired(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    assert await call(space, token(space.nodes["mobility"], shift=-600)) == 404
    assert refused(caplog) == ["expired"]


async def test_not_yet_valid(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    assert await call(space, token(space.nodes["mobility"], shift=600)) == 404
    assert refused(caplog) == ["not_yet_valid"]


async def test_wrong_audience(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    # a token mobility made for another participant, replayed against the city
    assert await call(space, token(space.nodes["mobility"], audience=MOBILITY)) == 404
    assert refused(caplog) == ["audience"]


async def test_replayed_jti(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    once = token(space.nodes["mobility"])
    assert await call(space, once) == 200
    assert await call(space, once) == 404
    assert refused(caplog) == ["replay"]


async def test_iss_differs_from_sub(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    trust = space.nodes["mobility"].connector.trust
    assert trust is not None
    now = int(trust.clock.now().timestamp())
    claims = {"iss": MOBILITY, "sub": CITY, "aud": CITY, "jti": "j-1", "iat": now, "exp": now + 60}
    assert await call(space, "Bearer " + sign_jwt(claims, trust.key, typ="JWT")) == 404
    assert refused(caplog) == ["issuer_mismatch"]


async def test_key_not_in_the_did_document(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    stranger_key = generate_key(f"{MOBILITY}#key-9")
    assert await call(space, token(space.nodes["mobility"], key=stranger_key)) == 404
    assert refused(caplog) == ["unknown_key"]


async def test_revoked_credential(space: Space, caplog: pytest.LogCaptureFixture) -> None:
    await space.authority.change(MOBILITY, "revoke")
    clock_of(space).advance(61)
    assert await call(space, token(space.nodes["mobility"])) == 404
    assert refused(caplog) == ["revoked"]


def wallet(node: Node) -> list[HeldCredential]:
    with node.connector.store.transaction() as tx:
        return tx.wallet.all()


def set_wallet(node: Node, credentials: list[HeldCredential]) -> None:
    with node.connector.store.transaction() as tx:
        for old in tx.wallet.all():
            tx.wallet.delete(old.id)
        for credential in credentials:
            tx.wallet.insert(credential)


async def test_credential_from_an_untrusted_issuer(
    space: Space, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rogue = await add_authority(
        space.stack, space.router, tmp_path, space.shared, clock_of(space), name="rogue"
    )
    mallory = space.nodes["mallory"]
    await rogue.onboard(did_of("mallory"))
    trust = mallory.connector.trust
    assert trust is not None
    answer = await space.shared.post(
        "https://rogue.test/rogue/issuer/credentials",
        json=credential_request(),
        headers={"Authorization": "Bearer " + trust.id_token(rogue.did)},
    )
    assert answer.status_code == 200, answer.text
    now = clock_of(space).now()
    set_wallet(
        mallory,
        [
            HeldCredential(id=f"rogue-{i}", type=t, issuer=rogue.did, jwt=jwt, received_at=now)
            for i, (t, jwt) in enumerate(parse_credential_message(answer.json()))
        ],
    )
    assert await call(space, token(mallory)) == 404
    assert refused(caplog) == ["untrusted_issuer"]


async def test_presentation_of_another_holders_credentials(
    space: Space, caplog: pytest.LogCaptureFixture
) -> None:
    # mallory learnt mobility's credentials and presents them as her own
    set_wallet(space.nodes["mallory"], wallet(space.nodes["mobility"]))
    assert await call(space, token(space.nodes["mallory"])) == 404
    assert refused(caplog) == ["holder_mismatch"]


async def test_credential_altered_after_issue(
    space: Space, caplog: pytest.LogCaptureFixture
) -> None:
    mobility = space.nodes["mobility"]

    def promote(c: HeldCredential) -> HeldCredential:
        def change(claims: dict[str, Any]) -> None:
            claims["credentialSubject"]["legalName"] = "Somebody Bigger AG"

        if c.type != "LegalParticipantCredential":
            return c
        return dataclasses.replace(c, jwt=tamper(c.jwt, change))

    set_wallet(mobility, [promote(c) for c in wallet(mobility)])
    assert await call(space, token(mobility)) == 404
    assert refused(caplog) == ["signature"]


async def test_a_rotated_key_is_refused_after_its_cut_over(
    space: Space, caplog: pytest.LogCaptureFixture
) -> None:
    mobility = space.nodes["mobility"]
    trust = mobility.connector.trust
    assert trust is not None
    clock = clock_of(space)
    assert await call(space, token(mobility)) == 200  # the city caches mobility's document
    old = trust.key
    rotated = await mobility.client.post("/management/v3/keys/rotate", json={"overlapSeconds": 20})
    assert rotated.status_code == 200, rotated.text
    view = rotated.json()
    assert view["current"] == f"{MOBILITY}#key-2" != old.kid
    assert [k["kid"] for k in view["keys"]] == [old.kid, f"{MOBILITY}#key-2"]
    # no downtime: the new key works at once (the city refetches the document for the new kid)
    assert await call(space, token(mobility)) == 200
    assert await call(space, token(mobility, key=old)) == 200  # before the cut-over
    clock.advance(21)  # past the cut-over; the city's copy of the document still lists it
    assert await call(space, token(mobility, key=old)) == 404
    clock.advance(10)  # the city refetches the document: the retired key has left it
    assert await call(space, token(mobility, key=old)) == 404
    assert refused(caplog) == ["key_retired", "unknown_key"]
    assert await call(space, token(mobility)) == 200
    listed = (await mobility.client.get("/management/v3/keys")).json()
    assert [k["kid"] for k in listed["keys"]] == [f"{MOBILITY}#key-2"]  # the old one is gone


async def test_rotation_survives_a_restart(space: Space, tmp_path: Path) -> None:
    from twinspace.trust.participant import load_identity

    mobility = space.nodes["mobility"]
    await mobility.client.post("/management/v3/keys/rotate", json={"overlapSeconds": 60})
    again = load_identity(mobility.connector.ctx.settings, clock_of(space))
    assert again.key.kid == f"{MOBILITY}#key-2"
    assert len(again.document["verificationMethod"]) == 2


@pytest.mark.parametrize("body", [{"overlapSeconds": -1}, {"overlapSeconds": "x"}, [1]])
async def test_a_bad_rotation_request_is_a_400(space: Space, body: Any) -> None:
    answer = await space.nodes["mobility"].client.post("/management/v3/keys/rotate", json=body)
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "urn:twinspace:mobility",  # the unauthenticated profile's header
        "Bearer " + "x" * 20_000,
        "Basic dXNlcjpwYXNz",
        # alg none
        "Bearer eyJhbGciOiJub25lIiwia2lkIjoiZGlkOndlYjptb2JpbGl0eS50ZXN0Om1vYmlsaXR5I2tleS0xIn0"
        ".eyJpc3MiOiJ4In0.",
    ],
)
async def test_malformed_authorization_is_a_404_never_a_500(
    space: Space, authorization: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    assert await call(space, authorization) == 404
    assert refused(caplog)[0] in {"malformed", "algorithm"}


async def test_a_malformed_did_document_is_refused_clearly(
    space: Space, caplog: pytest.LogCaptureFixture
) -> None:
    mallory = space.nodes["mallory"]
    mallory.app.state.identity = SimpleNamespace(document={"id": 7, "junk": []})
    assert await call(space, token(mallory)) == 404
    assert refused(caplog) == ["unresolved"]


@pytest.mark.parametrize(
    "path",
    [
        "/catalog/request",
        "/catalog/datasets/anything",
        "/negotiations/some-pid",
        "/transfers/some-pid",
    ],
)
async def test_every_dsp_endpoint_refuses_an_unauthenticated_caller(
    space: Space, path: str
) -> None:
    assert await call(space, None, path=path) == 404


async def test_a_member_cannot_see_another_members_process(space: Space, tmp_path: Path) -> None:
    city, mobility, mallory = (space.nodes[n] for n in ("city", "mobility", "mallory"))
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    city.add_offer("d", {"type": "File", "path": str(data)})
    from tests.trust.test_dcp_network import negotiate

    done = await negotiate(mobility, city, "d")
    with city.connector.store.transaction() as tx:
        [theirs] = tx.negotiations.list()
    path = f"/dsp/negotiations/{theirs.provider_pid}"
    own = await city.client.get(path, headers={"Authorization": token(mobility)})
    assert own.status_code == 200 and own.json()["state"] == done["state"]
    other = await city.client.get(path, headers={"Authorization": token(mallory)})
    assert other.status_code == 404


def _unused(_: Callable[..., Any]) -> None:
    pass
