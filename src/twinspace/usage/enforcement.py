"""The enforcement point of the data plane: every access to a pull transfer's data is decided
by the agreement's policy (moment ``access``) before a byte moves.

What a data-plane request may declare, as HTTP headers:

``Twinspace-Purpose``              the purpose of this use (else the one declared for the transfer)
``Twinspace-Deployment-Location``  the node or zone the data is used on
``Twinspace-Location``             where the data is used, ``<longitude>,<latitude>``

An allowed access counts as one use of the agreement (``count``); every decision is written to
the usage log, in the same transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from twinspace.policy import Decision
from twinspace.store import Transfer, Tx

from .decisions import UsageControl
from .log import log_decision, log_denial

PURPOSE_HEADER = "twinspace-purpose"
DEPLOYMENT_HEADER = "twinspace-deployment-location"
LOCATION_HEADER = "twinspace-location"

if TYPE_CHECKING:  # the connector imports this module
    from twinspace.connector.context import Ledger


class BadDeclaration(ValueError):
    """A declaration header that cannot be read."""


def declared_from(headers: Mapping[str, str]) -> dict[str, Any]:
    """The facts a data-plane request declares (``BadDeclaration`` for a malformed header)."""
    declared: dict[str, Any] = {}
    for header, fact in ((PURPOSE_HEADER, "purpose"), (DEPLOYMENT_HEADER, "deploymentLocation")):
        value = headers.get(header)
        if value is not None:
            if not value.strip() or len(value) > 512:
                raise BadDeclaration(f"{header} must be a non-empty value of at most 512 chars")
            declared[fact] = value.strip()
    location = headers.get(LOCATION_HEADER)
    if location is not None:
        try:
            lon, lat = (float(part) for part in location.split(","))
        except ValueError:
            raise BadDeclaration(f"{LOCATION_HEADER} must be '<longitude>,<latitude>'") from None
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
            raise BadDeclaration(f"{LOCATION_HEADER} is not a longitude,latitude pair")
        declared["spatial"] = [lon, lat]
    return declared


def check_access(
    usage: UsageControl,
    tx: Tx,
    t: Transfer,
    declared: Mapping[str, Any],
    now: datetime,
    ledger: Ledger | None = None,
) -> Decision:
    """Decide one access to ``t``'s data; count it when allowed; log it either way.

    The use is counted first (an atomic increment that locks the agreement's counter row until
    the transaction ends) and the policy sees the uses before this one; a denied access is
    uncounted again. So concurrent accesses are decided one after the other and ``count lteq N``
    lets exactly N through."""
    agreement = tx.agreements.get(t.agreement_id)
    uses = tx.counters.increment(agreement.id, now)
    facts = usage.facts(
        t.caller_claims,
        now=now,
        agreement=agreement,
        count=uses - 1,
        tx=tx,
        **{"purpose": t.purpose, **declared},
    )
    decision = usage.decide(
        agreement.policy, moment="access", facts=facts, assignee=t.counter_party_id
    )
    if not decision.allowed:
        tx.counters.decrement(agreement.id)
        log_denial(ledger, tx, t, decision, now)
    log_decision(tx, t, "access", decision, now, declared=dict(declared))
    return decision
