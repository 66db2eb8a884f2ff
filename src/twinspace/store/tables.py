"""The relational schema (SQLAlchemy Core). Alembic migrations create exactly these tables."""

from __future__ import annotations

import sqlalchemy as sa

from twinspace.store.db import UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("properties", sa.JSON, nullable=False),
    sa.Column("private_properties", sa.JSON, nullable=False),
    sa.Column("data_address", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

policy_definitions = sa.Table(
    "policy_definitions",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("policy", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

contract_definitions = sa.Table(
    "contract_definitions",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("access_policy_id", sa.String(512), nullable=False),
    sa.Column("contract_policy_id", sa.String(512), nullable=False),
    sa.Column("assets_selector", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

negotiations = sa.Table(
    "negotiations",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("provider_pid", sa.String(512), index=True),
    sa.Column("consumer_pid", sa.String(512), index=True),
    sa.Column("counter_party_id", sa.String(512)),
    sa.Column("counter_party_address", sa.String(2048), nullable=False),
    sa.Column("asset_id", sa.String(512)),
    sa.Column("offer", sa.JSON),
    sa.Column("agreement_id", sa.String(512)),
    sa.Column("error_detail", sa.Text),
    sa.Column("caller_claims", sa.JSON),  # provider: the consumer's verified claims at request
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

agreements = sa.Table(
    "agreements",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("negotiation_id", sa.String(512), nullable=False),
    sa.Column("asset_id", sa.String(512), nullable=False),
    sa.Column("provider_id", sa.String(512), nullable=False),
    sa.Column("consumer_id", sa.String(512), nullable=False),
    sa.Column("policy", sa.JSON, nullable=False),
    sa.Column("signed_at", UTCDateTime, nullable=False),
)

transfers = sa.Table(
    "transfers",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("provider_pid", sa.String(512), index=True),
    sa.Column("consumer_pid", sa.String(512), index=True),
    sa.Column("agreement_id", sa.String(512), nullable=False),
    sa.Column("asset_id", sa.String(512)),
    sa.Column("format", sa.String(256), nullable=False),
    sa.Column("counter_party_id", sa.String(512)),
    sa.Column("counter_party_address", sa.String(2048), nullable=False),
    sa.Column("data_destination", sa.JSON),
    sa.Column("data_address", sa.JSON),
    sa.Column("bytes_transferred", sa.BigInteger, nullable=False),
    sa.Column("error_detail", sa.Text),
    sa.Column("caller_claims", sa.JSON),  # provider: the consumer's verified claims at request
    sa.Column("purpose", sa.String(512)),  # the purpose the consumer declared for this transfer
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("process_kind", sa.String(16), nullable=False),
    sa.Column("process_id", sa.String(512), nullable=False, index=True),
    sa.Column("message_type", sa.String(128), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("audience", sa.String(512)),  # the recipient's participant id (ID token aud)
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

data_tokens = sa.Table(
    "data_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("transfer_id", sa.String(512), nullable=False, index=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# --- trust (issue 4) ----------------------------------------------------------------------------

held_credentials = sa.Table(  # this participant's wallet: credentials issued to it
    "held_credentials",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("type", sa.String(128), nullable=False, index=True),
    sa.Column("issuer", sa.String(512), nullable=False),
    sa.Column("jwt", sa.Text, nullable=False),
    sa.Column("valid_until", UTCDateTime),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

seen_tokens = sa.Table(  # jti replay store for self-issued ID tokens ("<iss> <jti>")
    "seen_tokens",
    metadata,
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

members = sa.Table(  # the governance authority's register of onboarded participants
    "members",
    metadata,
    sa.Column("did", sa.String(512), primary_key=True),
    sa.Column("legal_name", sa.String(512), nullable=False),
    sa.Column("registration_number", sa.String(128), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("security_level", sa.String(16)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_index", sa.Integer, nullable=False, unique=True),
    sa.Column("reason", sa.Text),
    sa.Column("onboarded_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# --- usage control (issue 5) --------------------------------------------------------------------

usage_counters = sa.Table(  # uses of an agreement so far (the ODRL `count` operand)
    "usage_counters",
    metadata,
    sa.Column("agreement_id", sa.String(512), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("first_use_at", UTCDateTime, nullable=False),
    sa.Column("last_use_at", UTCDateTime, nullable=False),
)

duties = sa.Table(  # duties to carry out (delete-after, notify, log), with their state
    "duties",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("agreement_id", sa.String(512), nullable=False, index=True),
    sa.Column("transfer_id", sa.String(512)),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime),
    sa.Index("ix_duties_due", "state", "due_at"),
)

usage_log = sa.Table(  # every usage decision and duty carried out, for audit (and issue 6's log)
    "usage_log",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("agreement_id", sa.String(512), nullable=False, index=True),
    sa.Column("transfer_id", sa.String(512)),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("allowed", sa.Boolean),
    sa.Column("detail", sa.JSON, nullable=False),
)

acceptance_rules = sa.Table(  # consumer: the policies it agrees to without a human
    "acceptance_rules",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("policy", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

signals = sa.Table(  # events that occurred and states the system is in, declared by the operator
    "signals",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("since", UTCDateTime, nullable=False),
    sa.Column("until", UTCDateTime),
    sa.Column("note", sa.Text),
)

# --- transparency log (issue 6) -----------------------------------------------------------------

log_leaves = sa.Table(  # the log service: every accepted entry, append-only, in order
    "log_leaves",
    metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("leaf_hash", sa.String(64), nullable=False, index=True),
    sa.Column("entry", sa.Text, nullable=False),  # the submitter's signed entry (compact JWS)
    sa.Column("submitter", sa.String(512), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False, index=True),  # agreement / transfer id
    sa.Column("received_at", UTCDateTime, nullable=False),
)

log_checkpoints = sa.Table(  # the log service: each signed tree head it published
    "log_checkpoints",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.String(64), nullable=False),
    sa.Column("signed", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

log_submissions = sa.Table(  # a participant: what it must get logged, and the receipts it got
    "log_submissions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False, index=True),
    sa.Column("entry", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("receipt", sa.Text),
    sa.Column("leaf_index", sa.BigInteger),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("logged_at", UTCDateTime),
    sa.Index("ix_log_submissions_due", "state", "next_attempt_at"),
)

seen_checkpoints = sa.Table(  # a participant: the log's checkpoints it has seen (for audits)
    "seen_checkpoints",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.String(64), nullable=False),
    sa.Column("signed", sa.JSON, nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

# --- NGSI-LD twin broker: defined in their own module, on this metadata -------------------------

from twinspace.store import twin_tables as twin_tables  # noqa: E402
