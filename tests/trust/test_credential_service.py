"""A participant's Credential Service (DCP 1.0 §5.4) answers only the verifier it gave an
access token to, and only with the credential types granted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.trust.space import Space, dcp_space, did_of

from twinspace.identity import (
    create_access_token,
    parse_presentation_response,
    presentation_query,
    scope_for,
    verify_presentation,
)
from twinspace.trust.runtime import TrustRuntime

CITY, MOBILITY = did_of("city"), did_of("mobility")
QUERY_URL = "https://mobility.test/mobility/credentials/presentations/query"


@pytest.fixture
async def space(tmp_path: Path) -> AsyncIterator[Space]:
    async with dcp_space(tmp_path, ["city", "mobility"]) as found:
        yield found


def runtime(space: Space, name: str) -> TrustRuntime:
    trust = space.nodes[name].connector.trust
    assert trust is not None
    return trust


def access_for(space: Space, verifier: str, scopes: Any = None) -> str:
    holder = runtime(space, "mobility")
    kw = {} if scopes is None else {"scopes": scopes}
    return create_access_token(
        holder.key, verifier=verifier, now=holder.clock.now(), lifetime=timedelta(minutes=1), **kw
    )


async def query(space: Space, authorization: str | None, body: Any = None) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    content = body if isinstance(body, bytes) else None
    json_body = None if content is not None else (body or presentation_query())
    return await space.shared.post(QUERY_URL, headers=headers, json=json_body, content=content)


async def test_the_verifier_with_the_access_token_gets_a_presentation(space: Space) -> None:
    city = runtime(space, "city")
    bearer = "Bearer " + city.id_token(MOBILITY, access_token=access_for(space, CITY))
    answer = await query(space, bearer)
    assert answer.status_code == 200, answer.text
    [vp] = parse_presentation_response(answer.json())
    await city.resolver.prefetch(MOBILITY, space.authority.did)
    await city.status_lists.prefetch(
        "https://authority.test/authority/status/revocation",
        "https://authority.test/authority/status/suspension",
    )
    claims = verify_presentation(vp, city.context(), caller=MOBILITY, audience=CITY)
    assert claims.member and claims.legal_name == "Mobility Ltd"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no token", 401, "malformed"),
        ("no access token", 401, "malformed"),
        ("access token for another verifier", 403, "audience"),
        ("scope not granted", 403, "scope"),
        ("not JSON", 400, "malformed"),
        ("not a query", 400, "malformed"),
        ("self-made access token", 403, "unknown_key"),
    ],
)
async def test_refusals(space: Space, case: str, status: int, code: str) -> None:
    city = runtime(space, "city")
    body: Any = None
    if case == "no token":
        bearer = None
    elif case == "no access token":
        bearer = "Bearer " + city.id_token(MOBILITY)
    elif case == "access token for another verifier":
        bearer = "Bearer " + city.id_token(MOBILITY, access_token=access_for(space, MOBILITY))
    elif case == "scope not granted":
        access = access_for(space, CITY, scopes=[scope_for("MembershipCredential")])
        bearer = "Bearer " + city.id_token(MOBILITY, access_token=access)
    elif case == "self-made access token":
        forged = create_access_token(
            city.key, verifier=CITY, now=city.clock.now(), lifetime=timedelta(minutes=1)
        )
        bearer = "Bearer " + city.id_token(MOBILITY, access_token=forged)
    else:
        bearer = "Bearer " + city.id_token(MOBILITY, access_token=access_for(space, CITY))
        body = b"{nope" if case == "not JSON" else {"type": "PresentationQueryMessage"}
    answer = await query(space, bearer, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == code
