"""DCP messages and the holder-signed access token of the presentation flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from twinspace.identity import (
    DCP_CONTEXT,
    DEFAULT_SCOPES,
    IdentityError,
    create_access_token,
    credential_message,
    credential_request,
    parse_credential_message,
    parse_credential_request,
    parse_presentation_query,
    parse_presentation_response,
    presentation_query,
    presentation_response,
    scope_for,
    verify_access_token,
)
from twinspace.identity.keys import sign_jwt

from .conftest import CITY, MOBILITY, World, tamper

LEEWAY = timedelta(seconds=30)


def _token(world: World, **kw: Any) -> str:
    args: dict[str, Any] = {
        "verifier": MOBILITY,
        "now": world.clock.now(),
        "lifetime": timedelta(minutes=2),
    }
    args.update(kw)
    return create_access_token(world.city, **args)


def _verify(world: World, token: str, verifier: str = MOBILITY) -> Any:
    return verify_access_token(
        token, world.city, verifier=verifier, now=world.clock.now(), leeway=LEEWAY
    )


def test_an_access_token_grants_its_scopes_to_its_verifier(world: World) -> None:
    grant = _verify(world, _token(world))
    assert grant.holder == CITY and grant.verifier == MOBILITY
    assert grant.types == {"MembershipCredential", "LegalParticipantCredential"}


def test_an_access_token_for_another_verifier_is_refused(world: World) -> None:
    with pytest.raises(IdentityError) as err:
        _verify(world, _token(world), verifier="did:web:elsewhere.test:x")
    assert err.value.code == "audience"


def test_an_expired_access_token_is_refused(world: World) -> None:
    token = _token(world)
    world.clock.advance(3 * 60)
    with pytest.raises(IdentityError) as err:
        _verify(world, token)
    assert err.value.code == "expired"


def test_an_access_token_altered_to_widen_its_scope_is_refused(world: World) -> None:
    token = tamper(_token(world), lambda c: c.update(scope=scope_for("AdminCredential")))
    with pytest.raises(IdentityError) as err:
        _verify(world, token)
    assert err.value.code == "signature"


def test_an_access_token_signed_by_someone_else_is_refused(world: World) -> None:
    claims = {"iss": MOBILITY, "aud": MOBILITY, "scope": DEFAULT_SCOPES[0], "iat": 0, "exp": 1}
    forged = sign_jwt(claims, world.mobility, typ="at+jwt")
    with pytest.raises(IdentityError) as err:
        _verify(world, forged)
    assert err.value.code == "unknown_key"


@pytest.mark.parametrize("token", ["", "a.b", 42, None, "x.y.z"])
def test_garbage_access_tokens_are_malformed(world: World, token: object) -> None:
    with pytest.raises(IdentityError) as err:
        verify_access_token(
            token, world.city, verifier=MOBILITY, now=world.clock.now(), leeway=LEEWAY
        )
    assert err.value.code in {"malformed", "algorithm"}


def test_an_id_token_is_not_an_access_token(world: World) -> None:
    from twinspace.identity import create_id_token

    id_token = create_id_token(world.city, audience=MOBILITY, now=world.clock.now())
    with pytest.raises(IdentityError) as err:
        _verify(world, id_token)
    assert err.value.code == "malformed"


def test_messages_round_trip() -> None:
    assert parse_presentation_query(presentation_query()) == {
        "MembershipCredential",
        "LegalParticipantCredential",
    }
    assert parse_presentation_response(presentation_response(["a.b.c"])) == ["a.b.c"]
    request = credential_request(["MembershipCredential"])
    holder_pid, types = parse_credential_request(request)
    assert holder_pid == request["holderPid"] and types == ["MembershipCredential"]
    message = credential_message(holder_pid="h", issuer_pid="i", credentials=[("T", "x.y.z")])
    assert parse_credential_message(message) == [("T", "x.y.z")]


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"type": "PresentationQueryMessage", "scope": DEFAULT_SCOPES},  # no @context
        {"@context": [DCP_CONTEXT], "type": "Other", "scope": list(DEFAULT_SCOPES)},
        {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": []},
        {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": ["openid"]},
        {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": [7]},
        {
            "@context": [DCP_CONTEXT],
            "type": "PresentationQueryMessage",
            "presentationDefinition": {},
        },
    ],
)
def test_bad_presentation_queries_are_malformed(body: object) -> None:
    with pytest.raises(IdentityError) as err:
        parse_presentation_query(body)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    "body",
    [
        {"@context": [DCP_CONTEXT], "type": "PresentationResponseMessage", "presentation": []},
        {"@context": [DCP_CONTEXT], "type": "PresentationResponseMessage", "presentation": [{}]},
        {"@context": [DCP_CONTEXT], "type": "CredentialMessage", "credentials": [{"payload": 1}]},
        {"@context": [DCP_CONTEXT], "type": "CredentialRequestMessage", "credentials": []},
    ],
)
def test_bad_messages_are_malformed(body: dict[str, Any]) -> None:
    parser = {
        "PresentationResponseMessage": parse_presentation_response,
        "CredentialMessage": parse_credential_message,
        "CredentialRequestMessage": parse_credential_request,
    }[body["type"]]
    with pytest.raises(IdentityError) as err:
        parser(body)
    assert err.value.code == "malformed"
