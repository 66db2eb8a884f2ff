"""Short-lived bearer tokens bound to one transfer (the "EDR" of a pull transfer).

Only a SHA-256 of each token is stored. A token works while it is unexpired, unrevoked, and its
transfer is STARTED with no suspension, completion or termination of ours on its way out: the
moment a transfer stops, so does its token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from twinspace.protocol.transfer import TP, TPMessage
from twinspace.store import DataToken, Transfer, Tx

ACCESS, REFRESH = "access", "refresh"
STOPPING = {TPMessage.SUSPENSION, TPMessage.COMPLETION, TPMessage.TERMINATION}


class TokenRefused(Exception):
    """The token does not (or no longer) grant access; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class IssuedTokens:
    access: str
    refresh: str
    expires_in: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(tx: Tx, transfer_id: str, now: datetime, ttl: int, refresh_ttl: int) -> IssuedTokens:
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    for token, kind, life in ((access, ACCESS, ttl), (refresh, REFRESH, refresh_ttl)):
        tx.tokens.add(
            DataToken(
                token_hash=token_hash(token),
                kind=kind,
                transfer_id=transfer_id,
                expires_at=now + timedelta(seconds=life),
                created_at=now,
            )
        )
    return IssuedTokens(access, refresh, ttl)


def _usable(tx: Tx, token: str, kind: str, now: datetime) -> tuple[DataToken, Transfer]:
    found = tx.tokens.find(token_hash(token))
    if found is None or found.kind != kind:
        raise TokenRefused("unknown token")
    if found.revoked_at is not None:
        raise TokenRefused("token revoked")
    if found.expires_at <= now:
        raise TokenRefused("token expired")
    # The outbox before the transfer: reads need not share one snapshot (SQLite's autocommit
    # reads, PostgreSQL's READ COMMITTED), and an acknowledgement ends a pending message and
    # moves the state in one commit, so this order never sees the message gone but the state old.
    pending = {item.message_type for item in tx.outbox.pending_for(found.transfer_id)}
    transfer: Transfer | None = tx.transfers.find(found.transfer_id)
    if transfer is None:
        raise TokenRefused("transfer no longer exists")
    # Our start message is out but its acknowledgement not yet applied: the counter-party can
    # already be STARTED (it only learns the token from that message), so the transfer counts
    # as started.
    starting = transfer.state in (TP.REQUESTED, TP.SUSPENDED) and TPMessage.START in pending
    if transfer.state != TP.STARTED and not starting:
        raise TokenRefused(f"transfer is {transfer.state}")
    if pending & STOPPING:
        raise TokenRefused("transfer is being stopped")
    return found, transfer


def check(tx: Tx, token: str, now: datetime) -> Transfer:
    """The transfer an access token grants, or TokenRefused."""
    return _usable(tx, token, ACCESS, now)[1]


def refresh(tx: Tx, refresh_token: str, now: datetime, ttl: int, refresh_ttl: int) -> IssuedTokens:
    """Trade a refresh token for a fresh pair; the old pair stops working."""
    _, transfer = _usable(tx, refresh_token, REFRESH, now)
    tx.tokens.revoke_for(transfer.id, now)
    return issue(tx, transfer.id, now, ttl, refresh_ttl)


def revoke(tx: Tx, transfer_id: str, now: datetime) -> None:
    tx.tokens.revoke_for(transfer_id, now)
