"""A presentation verified by the core with documents and status lists fetched by the adapters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from twinspace.identity import (
    IdentityError,
    TrustContext,
    create_presentation,
    issue_credential,
    membership_credential,
    status_entry,
    verify_presentation,
)
from twinspace.trust import HttpDidResolver, StatusListCache, prefetch_presentation

from .conftest import AUTHORITY, CITY, LIST_URL, MOBILITY, START, Space


def presentation(space: Space, index: int = 7) -> str:
    credential = membership_credential(
        issuer=AUTHORITY,
        subject=CITY,
        member_of="urn:dataspace:twin-city",
        roles=["provider"],
        valid_from=START,
        valid_until=START + timedelta(days=365),
        credential_id=f"urn:uuid:membership-{index}",
        status=status_entry(LIST_URL, index),
    )
    vc = issue_credential(credential, space.authority)
    return create_presentation(
        space.city, [vc], audience=MOBILITY, now=space.clock.now(), nonce="n-1"
    )


class Verifier:
    def __init__(self, space: Space, **kw: Any) -> None:
        self.space = space
        self.dids = HttpDidResolver(space.client, space.clock, ttl_seconds=300, **kw)
        self.lists = StatusListCache(space.client, space.clock, ttl_seconds=60, **kw)

    async def verify(self, vp: str) -> Any:
        await prefetch_presentation(vp, resolver=self.dids, status_lists=self.lists)
        ctx = TrustContext(
            resolver=self.dids.view(),
            status_lists=self.lists.view(),
            clock=self.space.clock,
            trusted_issuers=frozenset({AUTHORITY}),
        )
        return verify_presentation(vp, ctx, caller=CITY, audience=MOBILITY, nonce="n-1")


async def test_presentation_verified_through_adapters(space: Space) -> None:
    verifier = Verifier(space)
    claims = await verifier.verify(presentation(space))
    assert claims.did == CITY and claims.member and claims.roles == {"provider"}
    assert sorted(set(space.server.requests)) == sorted(
        [
            "https://localhost:8100/authority/did.json",
            "https://localhost:8101/city/did.json",
            LIST_URL,
        ]
    )
    before = len(space.server.requests)
    await verifier.verify(presentation(space))
    assert len(space.server.requests) == before  # all cached


async def test_revocation_seen_after_status_ttl(space: Space) -> None:
    verifier = Verifier(space)
    await verifier.verify(presentation(space))
    space.status.set(7)
    space.publish_status()
    await verifier.verify(presentation(space))  # cached list: not yet seen
    space.clock.advance(60)
    with pytest.raises(IdentityError) as err:
        await verifier.verify(presentation(space))
    assert err.value.code == "revoked"


async def test_unreachable_authority_refuse_vs_stale(space: Space) -> None:
    refuse = Verifier(space)
    stale = Verifier(space, on_unreachable="stale", stale_grace_seconds=600)
    await refuse.verify(presentation(space))
    await stale.verify(presentation(space))
    space.server.down = True
    space.clock.advance(120)  # status lists expired, DID documents still cached
    with pytest.raises(IdentityError, match="authority unreachable") as err:
        await refuse.verify(presentation(space))
    assert err.value.code == "unresolved"
    assert (await stale.verify(presentation(space))).member
    space.clock.advance(600)  # past the grace (and the DID documents' ttl)
    with pytest.raises(IdentityError) as err:
        await stale.verify(presentation(space))
    assert err.value.code == "unresolved"


async def test_unknown_holder_is_unresolved(space: Space) -> None:
    del space.server.routes["https://localhost:8101/city/did.json"]
    with pytest.raises(IdentityError, match="HTTP 404") as err:
        await Verifier(space).verify(presentation(space))
    assert err.value.code == "unresolved"
