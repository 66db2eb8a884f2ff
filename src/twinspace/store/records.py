"""Plain records the store reads and writes. Services own the rules; these only carry data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Json = dict[str, Any]


@dataclass
class Asset:
    id: str
    properties: Json
    data_address: Json
    private_properties: Json = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass
class PolicyDefinition:
    id: str
    policy: Json
    created_at: datetime | None = None


@dataclass
class ContractDefinition:
    id: str
    access_policy_id: str
    contract_policy_id: str
    assets_selector: list[Json]
    created_at: datetime | None = None


@dataclass
class Negotiation:
    id: str
    role: str
    state: str
    counter_party_address: str
    created_at: datetime
    updated_at: datetime
    provider_pid: str | None = None
    consumer_pid: str | None = None
    counter_party_id: str | None = None
    asset_id: str | None = None
    offer: Json | None = None
    agreement_id: str | None = None
    error_detail: str | None = None
    caller_claims: Json | None = None
    version: int = 0


@dataclass
class Agreement:
    id: str
    negotiation_id: str
    asset_id: str
    provider_id: str
    consumer_id: str
    policy: Json
    signed_at: datetime


@dataclass
class Transfer:
    id: str
    role: str
    state: str
    agreement_id: str
    format: str
    counter_party_address: str
    created_at: datetime
    updated_at: datetime
    provider_pid: str | None = None
    consumer_pid: str | None = None
    asset_id: str | None = None
    counter_party_id: str | None = None
    data_destination: Json | None = None
    data_address: Json | None = None
    bytes_transferred: int = 0
    error_detail: str | None = None
    caller_claims: Json | None = None
    purpose: str | None = None
    version: int = 0


#: Outbox statuses.
PENDING, SENT, FAILED = "PENDING", "SENT", "FAILED"


@dataclass
class OutboxItem:
    id: str
    process_kind: str
    process_id: str
    message_type: str
    url: str
    payload: Json
    next_attempt_at: datetime
    created_at: datetime
    audience: str | None = None
    status: str = PENDING
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass
class DataToken:
    token_hash: str
    kind: str
    transfer_id: str
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass
class HeldCredential:
    """A credential issued to this participant (kept as the compact ``vc+jwt`` it came as)."""

    id: str
    type: str
    issuer: str
    jwt: str
    received_at: datetime
    valid_until: datetime | None = None


#: Member status at the authority: ``active``, ``suspended`` (reversible) or ``revoked`` (final).
MEMBER_ACTIVE, MEMBER_SUSPENDED, MEMBER_REVOKED = "active", "suspended", "revoked"


@dataclass
class Member:
    """A participant onboarded by the governance authority."""

    did: str
    legal_name: str
    registration_number: str
    country: str
    roles: list[str]
    status: str
    status_index: int
    onboarded_at: datetime
    updated_at: datetime
    reason: str | None = None
    security_level: str | None = None  # base | trust | trust+ (IDS certification levels)


@dataclass
class UsageCounter:
    agreement_id: str
    count: int
    first_use_at: datetime
    last_use_at: datetime


#: Duty states.
DUTY_PENDING, DUTY_DONE, DUTY_FAILED = "PENDING", "DONE", "FAILED"


@dataclass
class DutyRecord:
    """A duty this participant must carry out (e.g. delete a received copy at ``due_at``)."""

    id: str
    agreement_id: str
    action: str
    due_at: datetime
    detail: Json
    created_at: datetime
    transfer_id: str | None = None
    state: str = DUTY_PENDING
    attempts: int = 0
    last_error: str | None = None
    done_at: datetime | None = None


@dataclass
class UsageEntry:
    """One line of the usage log: a decision, or a duty carried out."""

    id: str
    at: datetime
    agreement_id: str
    event: str
    detail: Json
    transfer_id: str | None = None
    allowed: bool | None = None


@dataclass
class AcceptanceRule:
    """A policy the consumer agrees to automatically (its acceptance profile is all of them)."""

    id: str
    policy: Json
    created_at: datetime


@dataclass
class Signal:
    """An event that occurred (``kind`` event) or a state the system is in (``kind`` state),
    for the policy facts ``event`` and ``twinspace:state``; active from ``since`` to ``until``."""

    name: str
    kind: str
    since: datetime
    until: datetime | None = None
    note: str | None = None


@dataclass
class LogLeaf:
    """One entry of the transparency log (log service side)."""

    idx: int
    leaf_hash: str
    entry: str
    submitter: str
    kind: str
    subject: str
    received_at: datetime


@dataclass
class LogCheckpoint:
    size: int
    root: str
    signed: Json
    created_at: datetime


#: Submission states.
LOG_PENDING, LOG_LOGGED, LOG_FAILED = "PENDING", "LOGGED", "FAILED"


@dataclass
class LogSubmission:
    """An entry this participant must get into the log; ``receipt`` once the log promised it."""

    id: str
    kind: str
    subject: str
    entry: str
    next_attempt_at: datetime
    created_at: datetime
    state: str = LOG_PENDING
    attempts: int = 0
    last_error: str | None = None
    receipt: str | None = None
    leaf_index: int | None = None
    logged_at: datetime | None = None


@dataclass
class SeenCheckpoint:
    size: int
    root: str
    signed: Json
    seen_at: datetime
