from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from twinspace.identity import (
    IdentityError,
    InMemoryReplayStore,
    SigningKey,
    build_did_document,
    create_id_token,
    generate_key,
    verify_id_token,
)
from twinspace.identity.keys import sign_jwt

from .conftest import CITY, MOBILITY, World, tamper


def verify(world: World, token: object, replay: InMemoryReplayStore | None = None) -> Any:
    return verify_id_token(
        token,
        world.ctx(),
        audience=MOBILITY,
        replay=InMemoryReplayStore() if replay is None else replay,
    )


def refused(world: World, token: object, replay: InMemoryReplayStore | None = None) -> str:
    with pytest.raises(IdentityError) as err:
        verify(world, token, replay)
    return err.value.code


def token(world: World, **kw: Any) -> str:
    return create_id_token(world.city, audience=MOBILITY, now=world.clock.now(), **kw)


def test_honest_id_token(world: World) -> None:
    verified = verify(world, token(world, access_token="opaque-123"))
    assert verified.issuer == CITY and verified.audience == MOBILITY
    assert verified.kid == world.city.kid and verified.access_token == "opaque-123"
    assert verified.expires_at - verified.issued_at == timedelta(minutes=5)


def test_honest_p256_token(world: World) -> None:
    jwt = create_id_token(world.mobility, audience=CITY, now=world.clock.now())
    assert (
        verify_id_token(jwt, world.ctx(), audience=CITY, replay=InMemoryReplayStore()).issuer
        == MOBILITY
    )


def test_attack_forged_signature(world: World) -> None:
    forger = SigningKey(kid=world.city.kid, key=generate_key("x").key)
    assert (
        refused(world, create_id_token(forger, audience=MOBILITY, now=world.clock.now()))
        == "signature"
    )
    assert (
        refused(world, tamper(token(world), lambda c: c.update(aud=[MOBILITY, "x"]))) == "signature"
    )


def test_attack_expired(world: World) -> None:
    jwt = token(world)
    world.clock.advance(5 * 60 + 31)  # past exp + 30 s leeway
    assert refused(world, jwt) == "expired"


def test_leeway_tolerates_small_skew(world: World) -> None:
    jwt = token(world)
    world.clock.advance(5 * 60 + 20)
    verify(world, jwt)
    early = create_id_token(
        world.city, audience=MOBILITY, now=world.clock.now() + timedelta(seconds=20)
    )
    verify(world, early)


def test_attack_not_yet_valid(world: World) -> None:
    jwt = create_id_token(
        world.city, audience=MOBILITY, now=world.clock.now() + timedelta(minutes=2)
    )
    assert refused(world, jwt) == "not_yet_valid"


def test_attack_wrong_audience(world: World) -> None:
    jwt = create_id_token(
        world.city, audience="did:web:localhost%3A8103:port", now=world.clock.now()
    )
    assert refused(world, jwt) == "audience"


def test_attack_replayed_jti(world: World) -> None:
    replay = InMemoryReplayStore()
    jwt = token(world)
    verify(world, jwt, replay)
    assert refused(world, jwt, replay) == "replay"
    # same jti in a fresh token is a replay too
    assert (
        refused(world, token(world, jti=verify(world, token(world), replay).jti), replay)
        == "replay"
    )


def test_replay_store_forgets_expired_entries(world: World) -> None:
    replay = InMemoryReplayStore()
    verify(world, token(world, jti="j1"), replay)
    assert len(replay) == 1
    world.clock.advance(3600)
    verify(world, token(world, jti="j2"), replay)
    assert len(replay) == 1


def test_forged_tokens_do_not_burn_the_jti(world: World) -> None:
    replay = InMemoryReplayStore()
    forger = SigningKey(kid=world.city.kid, key=generate_key("x").key)
    forged = create_id_token(forger, audience=MOBILITY, now=world.clock.now(), jti="j")
    assert refused(world, forged, replay) == "signature"
    verify(world, token(world, jti="j"), replay)


def test_attack_iss_differs_from_sub(world: World) -> None:
    now = int(world.clock.now().timestamp())
    claims = {
        "iss": CITY,
        "sub": MOBILITY,
        "aud": MOBILITY,
        "jti": "j",
        "iat": now,
        "exp": now + 60,
    }
    assert refused(world, sign_jwt(claims, world.city, typ="JWT")) == "issuer_mismatch"


def test_attack_signed_with_another_dids_key(world: World) -> None:
    now = int(world.clock.now().timestamp())
    claims = {"iss": CITY, "sub": CITY, "aud": MOBILITY, "jti": "j", "iat": now, "exp": now + 60}
    assert refused(world, sign_jwt(claims, world.mobility, typ="JWT")) == "issuer_mismatch"


def test_attack_key_not_in_did_document(world: World) -> None:
    stranger = generate_key(f"{CITY}#key-9")
    jwt = create_id_token(stranger, audience=MOBILITY, now=world.clock.now())
    assert refused(world, jwt) == "unknown_key"


def test_unknown_caller_is_unresolved(world: World) -> None:
    stranger = generate_key("did:web:stranger.example#key-1")
    assert (
        refused(world, create_id_token(stranger, audience=MOBILITY, now=world.clock.now()))
        == "unresolved"
    )


def test_attack_did_document_changed_keys(world: World) -> None:
    """The caller rotates: the old key works until the cut-over, then is refused."""
    new = generate_key(f"{CITY}#key-2")
    cutover = world.clock.now() + timedelta(hours=1)
    world.resolver.publish(
        build_did_document(CITY, [world.city, new], expires={world.city.kid: cutover})
    )
    verify(world, token(world))
    world.clock.advance(3600)
    assert refused(world, token(world)) == "key_retired"
    verify(world, create_id_token(new, audience=MOBILITY, now=world.clock.now()))
    # once the document drops the old key it is simply unknown
    world.resolver.publish(build_did_document(CITY, [new]))
    assert refused(world, token(world)) == "unknown_key"


def test_overlong_lifetime(world: World) -> None:
    assert refused(world, token(world, lifetime=timedelta(days=1))) == "lifetime"


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.pop("iss"),
        lambda c: c.pop("sub"),
        lambda c: c.pop("aud"),
        lambda c: c.pop("jti"),
        lambda c: c.pop("iat"),
        lambda c: c.pop("exp"),
        lambda c: c.update(exp="tomorrow"),
        lambda c: c.update(iat=True),
        lambda c: c.update(exp=10**20),
        lambda c: c.update(aud=[]),
        lambda c: c.update(aud=[1]),
        lambda c: c.update(jti=""),
        lambda c: c.update(token=5),
    ],
)
def test_missing_or_ill_typed_claims(world: World, change: Any) -> None:
    now = int(world.clock.now().timestamp())
    claims = {"iss": CITY, "sub": CITY, "aud": MOBILITY, "jti": "j", "iat": now, "exp": now + 60}
    change(claims)
    assert refused(world, sign_jwt(claims, world.city, typ="JWT")) == "malformed"


@pytest.mark.parametrize("value", [None, "", "garbage", "a.b.c", b"bytes"])
def test_not_a_jwt(world: World, value: object) -> None:
    assert refused(world, value) == "malformed"
