"""A participant configured with TWINSPACE_AUTHORITY fetches its credentials from the authority
(the connector's own enrolment code against the authority app), and loses them on revocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinspace.identity import LEGAL_PARTICIPANT, MEMBERSHIP
from twinspace.settings import Settings
from twinspace.trust.enrolment import Enrolment, EnrolmentError
from twinspace.trust.runtime import TrustRuntime

from .conftest import AUTHORITY, DATASPACE, Space


def runtime(space: Space, tmp_path: Path) -> TrustRuntime:
    city = space.participants["city"]
    settings = Settings(
        name="city",
        public_url="https://city.test",
        data_dir=tmp_path / "city",
        authority=AUTHORITY,
        dataspace=DATASPACE,
    )
    assert settings.effective_did() == city.did
    return TrustRuntime(
        settings, did=city.did, key=city.key, store=space.store, clock=space.clock, http=space.http
    )


async def test_a_participant_enrols_with_the_authority(space: Space, tmp_path: Path) -> None:
    enrolment = Enrolment(runtime(space, tmp_path), AUTHORITY)
    with pytest.raises(EnrolmentError, match="not_onboarded"):
        await enrolment.request()
    await space.onboard(space.participants["city"])
    held = await enrolment.request()
    assert sorted(c.type for c in held) == sorted([MEMBERSHIP, LEGAL_PARTICIPANT])
    assert {c.issuer for c in held} == {AUTHORITY}
    await space.admin.post(f"/authority/admin/participants/{space.participants['city'].did}/revoke")
    with pytest.raises(EnrolmentError, match="revoked"):
        await enrolment.request()
