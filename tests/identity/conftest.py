"""A small data space: an authority, two participants, resolvers, a status list, a clock."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from twinspace.clock import ManualClock
from twinspace.identity import (
    CATALOG_SERVICE,
    CREDENTIAL_SERVICE,
    DATA_SERVICE,
    InMemoryDidResolver,
    InMemoryStatusLists,
    SigningKey,
    StatusList,
    TrustContext,
    build_did_document,
    generate_key,
    issue_credential,
    legal_participant_credential,
    membership_credential,
    status_entry,
    status_list_credential,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
AUTHORITY = "did:web:localhost%3A8100:authority"
CITY = "did:web:localhost%3A8101:city"
MOBILITY = "did:web:localhost%3A8102:mobility"
LIST_URL = "https://localhost:8100/authority/status/1"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def tamper(token: str, change: Callable[[dict[str, Any]], None]) -> str:
    """Alter the payload of a signed JWT, keeping header and signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    change(claims)
    return f"{header}.{b64(claims)}.{signature}"


def services(did: str, port: int, name: str) -> dict[str, str]:
    base = f"https://localhost:{port}/{name}"
    return {
        CREDENTIAL_SERVICE: f"{base}/credentials",
        CATALOG_SERVICE: f"{base}/dsp/catalog",
        DATA_SERVICE: f"{base}/dsp",
    }


@dataclass
class World:
    clock: ManualClock
    resolver: InMemoryDidResolver
    lists: InMemoryStatusLists
    authority: SigningKey
    city: SigningKey
    mobility: SigningKey
    status: StatusList = field(default_factory=StatusList)

    def ctx(self, **overrides: Any) -> TrustContext:
        args: dict[str, Any] = {
            "resolver": self.resolver,
            "clock": self.clock,
            "trusted_issuers": frozenset({AUTHORITY}),
            "status_lists": self.lists,
        }
        args.update(overrides)
        return TrustContext(**args)

    def publish_status(self) -> None:
        credential = status_list_credential(
            list_url=LIST_URL, issuer=AUTHORITY, status_list=self.status, valid_from=START
        )
        self.lists.put(LIST_URL, issue_credential(credential, self.authority))

    def membership(self, subject: str = CITY, index: int = 7, **kw: Any) -> str:
        args: dict[str, Any] = {
            "issuer": AUTHORITY,
            "subject": subject,
            "member_of": "urn:dataspace:twin-city",
            "roles": ["provider", "consumer"],
            "valid_from": START,
            "valid_until": START + timedelta(days=365),
            "credential_id": f"urn:uuid:membership-{index}",
            "status": status_entry(LIST_URL, index),
        }
        args.update(kw)
        return issue_credential(membership_credential(**args), self.authority)

    def legal(self, subject: str = CITY, index: int = 8) -> str:
        credential = legal_participant_credential(
            issuer=AUTHORITY,
            subject=subject,
            legal_name="Ville de Lyon",
            registration_number="FR-21690123100011",
            country="FR",
            valid_from=START,
            status=status_entry(LIST_URL, index),
        )
        return issue_credential(credential, self.authority)


@pytest.fixture
def world() -> World:
    authority = generate_key(f"{AUTHORITY}#key-1")
    city = generate_key(f"{CITY}#key-1")
    mobility = generate_key(f"{MOBILITY}#key-1", "P-256")
    resolver = InMemoryDidResolver(
        [
            build_did_document(AUTHORITY, [authority]),
            build_did_document(CITY, [city], services(CITY, 8101, "city")),
            build_did_document(MOBILITY, [mobility], services(MOBILITY, 8102, "mobility")),
        ]
    )
    w = World(
        ManualClock(START + timedelta(hours=1)),
        resolver,
        InMemoryStatusLists(),
        authority,
        city,
        mobility,
    )
    w.publish_status()
    return w
