"""The trust layer's repositories on every backend: wallet, jti replay store, member register."""

from __future__ import annotations

from datetime import timedelta

import pytest

from twinspace.clock import ManualClock
from twinspace.store import (
    MEMBER_ACTIVE,
    MEMBER_REVOKED,
    AlreadyExists,
    HeldCredential,
    Member,
    Store,
)


def _credential(
    cid: str, type_: str, clock: ManualClock, issuer: str = "did:web:a"
) -> HeldCredential:
    return HeldCredential(
        id=cid, type=type_, issuer=issuer, jwt=f"jwt-{cid}", received_at=clock.now(),
        valid_until=clock.now() + timedelta(days=1),
    )  # fmt: skip


def test_the_wallet_keeps_one_credential_per_type_and_issuer(
    store: Store, clock: ManualClock
) -> None:
    with store.transaction() as tx:
        tx.wallet.replace_type(_credential("m-1", "MembershipCredential", clock))
        tx.wallet.replace_type(_credential("l-1", "LegalParticipantCredential", clock))
        tx.wallet.replace_type(_credential("m-2", "MembershipCredential", clock))
        tx.wallet.replace_type(_credential("x-1", "MembershipCredential", clock, "did:web:b"))
    with store.transaction() as tx:
        held = tx.wallet.all()
    assert sorted(c.id for c in held) == ["l-1", "m-2", "x-1"]
    assert held[0].valid_until == clock.now() + timedelta(days=1)


def test_a_jti_is_remembered_until_it_expires(store: Store, clock: ManualClock) -> None:
    until = clock.now() + timedelta(minutes=5)
    with store.transaction() as tx:
        assert tx.seen_tokens.remember("did:web:a j-1", until, clock.now())
        assert not tx.seen_tokens.remember("did:web:a j-1", until, clock.now())
        assert tx.seen_tokens.remember("did:web:b j-1", until, clock.now())
    with store.transaction() as tx:  # a second transaction (another replica) sees it too
        assert not tx.seen_tokens.remember("did:web:a j-1", until, clock.now())
    clock.advance(360)
    later = clock.now() + timedelta(minutes=5)
    with store.transaction() as tx:  # an expired entry does not block its key any more
        assert tx.seen_tokens.remember("did:web:a j-1", later, clock.now())
        assert tx.seen_tokens.count() == 2  # the renewed one and b (expired)
        assert tx.seen_tokens.purge(clock.now()) == 1  # the rest have expired: gone
        assert tx.seen_tokens.count() == 1


def _member(did: str, index: int, clock: ManualClock, status: str = MEMBER_ACTIVE) -> Member:
    return Member(
        did=did, legal_name="City of Example", registration_number="HRB 1", country="DE",
        roles=["provider"], status=status, status_index=index, onboarded_at=clock.now(),
        updated_at=clock.now(),
    )  # fmt: skip


def test_members_get_distinct_status_indexes(store: Store, clock: ManualClock) -> None:
    with store.transaction() as tx:
        assert tx.members.next_status_index() == 0
        tx.members.insert(_member("did:web:a", 0, clock))
        tx.members.insert(
            _member("did:web:b", tx.members.next_status_index(), clock, MEMBER_REVOKED)
        )
    with store.transaction() as tx:
        assert tx.members.next_status_index() == 2
        assert tx.members.indexes_with_status(MEMBER_REVOKED) == [1]
        assert tx.members.get("did:web:a").roles == ["provider"]
        with pytest.raises(AlreadyExists):
            tx.members.insert(_member("did:web:a", 5, clock))
