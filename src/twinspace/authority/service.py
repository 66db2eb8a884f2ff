"""The governance authority over its member register (synchronous; the API runs it in threads).

* **Register**: onboard a participant (its DID, legal data, roles), list, look up, and change its
  status: ``active`` -> ``suspended`` (reversible: ``reinstate``) or ``revoked`` (final).
* **Issuance**: a MembershipCredential and a LegalParticipantCredential (W3C VC 2.0, ``vc+jwt``)
  for an onboarded, active member, each pointing at the member's bit in two status lists.
* **Status lists**: one revocation and one suspension Bitstring Status List, built from the
  register and signed on demand, so a status change shows in the next list anyone fetches.

Each member owns one status list index for life (the same index in both lists): a credential
issued before a suspension is suspended with its holder, and is valid again once reinstated.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from twinspace.clock import Clock
from twinspace.identity import (
    LEGAL_PARTICIPANT,
    MEMBERSHIP,
    SigningKey,
    StatusList,
    build_did_document,
    issue_credential,
    legal_participant_credential,
    membership_credential,
    split_did_url,
    status_entry,
    status_list_credential,
)
from twinspace.identity.status_list import MIN_BITS
from twinspace.settings import Settings
from twinspace.store import (
    MEMBER_ACTIVE,
    MEMBER_REVOKED,
    MEMBER_SUSPENDED,
    Conflict,
    Member,
    Store,
)
from twinspace.store import tables as t
from twinspace.transparency.log import LOG_SERVICE

from .errors import AuthorityError
from .validation import Onboarding

log = logging.getLogger("twinspace.authority")

ISSUER_SERVICE = "IssuerService"
#: The credential types this authority issues, in the order it issues them.
CREDENTIAL_TYPES = (MEMBERSHIP, LEGAL_PARTICIPANT)
#: Status list purpose -> the member status that sets a member's bit in that list.
PURPOSES = {"revocation": MEMBER_REVOKED, "suspension": MEMBER_SUSPENDED}
#: Attempts at an onboarding that races another one for the same status index.
_ONBOARD_ATTEMPTS = 5


class AuthorityService:
    """The authority's register, issuer and status lists over ``store``, signing with ``key``
    (whose DID must be ``settings.effective_did()``)."""

    def __init__(self, settings: Settings, *, store: Store, key: SigningKey, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.key = key
        self.clock = clock
        self.did = settings.effective_did()
        if split_did_url(key.kid)[0] != self.did:
            raise ValueError(f"signing key {key.kid} is not a key of {self.did}")
        self.base = f"{settings.base_url()}/{settings.name}"

    # --- what it publishes --------------------------------------------------------------------

    @property
    def issuer_url(self) -> str:
        """The DCP issuer service; credentials are requested at ``<issuer_url>/credentials``."""
        return f"{self.base}/issuer"

    def status_url(self, purpose: str) -> str:
        return f"{self.base}/status/{purpose}"

    def did_document(self) -> dict[str, Any]:
        return build_did_document(
            self.did,
            [self.key],
            {ISSUER_SERVICE: self.issuer_url, LOG_SERVICE: self.log_url},
        )

    @property
    def log_url(self) -> str:
        """The transparency log this authority runs."""
        return f"{self.settings.base_url()}/{self.settings.name}/log"

    def trust_list(self) -> dict[str, Any]:
        return {"issuers": [self.did], "dataspace": self.settings.dataspace}

    # --- the register -------------------------------------------------------------------------

    def onboard(self, request: Onboarding) -> Member:
        """Add an ``active`` member with the next free status index; ``conflict`` if present."""
        for attempt in range(_ONBOARD_ATTEMPTS):
            try:
                with self.store.transaction() as tx:
                    if tx.members.find(request.did) is not None:
                        raise AuthorityError("conflict", f"{request.did} is already onboarded")
                    now = self.clock.now()
                    member = Member(
                        did=request.did,
                        legal_name=request.legal_name,
                        registration_number=request.registration_number,
                        country=request.country,
                        roles=list(request.roles),
                        security_level=request.security_level,
                        status=MEMBER_ACTIVE,
                        status_index=tx.members.next_status_index(),
                        onboarded_at=now,
                        updated_at=now,
                    )
                    tx.members.insert(member)
            except Conflict:  # a concurrent onboarding took the index (or the DID): try again
                if attempt == _ONBOARD_ATTEMPTS - 1:
                    raise
                continue
            log.info("onboarded %s (status index %d)", member.did, member.status_index)
            return member
        raise AssertionError("unreachable")

    def members(self) -> list[Member]:
        """Every member, in onboarding order."""
        with self.store.transaction() as tx:
            return list(tx.members.list(order=t.members.c.status_index))

    def member(self, did: str) -> Member:
        with self.store.transaction() as tx:
            found: Member | None = tx.members.find(did)
        if found is None:
            raise AuthorityError("not_found", f"{did} is not onboarded")
        return found

    def find(self, did: str) -> Member | None:
        with self.store.transaction() as tx:
            found: Member | None = tx.members.find(did)
        return found

    def revoke(self, did: str, reason: str | None = None) -> Member:
        """End a membership for good (from ``active`` or ``suspended``)."""
        return self._change(did, MEMBER_REVOKED, {MEMBER_ACTIVE, MEMBER_SUSPENDED}, reason)

    def suspend(self, did: str, reason: str | None = None) -> Member:
        """Suspend an ``active`` membership; :meth:`reinstate` undoes it."""
        return self._change(did, MEMBER_SUSPENDED, {MEMBER_ACTIVE}, reason)

    def reinstate(self, did: str, reason: str | None = None) -> Member:
        """Make a ``suspended`` membership ``active`` again (a revoked one stays revoked)."""
        return self._change(did, MEMBER_ACTIVE, {MEMBER_SUSPENDED}, reason)

    def _change(self, did: str, target: str, allowed: set[str], reason: str | None) -> Member:
        with self.store.transaction() as tx:
            member: Member | None = tx.members.find(did)
            if member is None:
                raise AuthorityError("not_found", f"{did} is not onboarded")
            if member.status not in allowed:
                raise AuthorityError("conflict", _refusal(member, target))
            member.status = target
            member.reason = reason
            member.updated_at = self.clock.now()
            tx.members.replace(member)
        log.info("%s is now %s%s", did, target, f" ({reason})" if reason else "")
        return member

    # --- issuance -----------------------------------------------------------------------------

    def issue(self, did: str, types: Iterable[str]) -> list[tuple[str, str]]:
        """``(type, vc+jwt)`` for each requested type, for the active member ``did``.

        Refusals: ``bad_request`` (a type this authority does not issue), ``not_onboarded``,
        ``revoked``, ``suspended``.
        """
        wanted = list(dict.fromkeys(types))
        unknown = [t for t in wanted if t not in CREDENTIAL_TYPES]
        if unknown or not wanted:
            raise AuthorityError(
                "bad_request",
                f"cannot issue {unknown or 'nothing'}; this authority issues "
                f"{', '.join(CREDENTIAL_TYPES)}",
            )
        member = self.find(did)
        if member is None:
            raise AuthorityError("not_onboarded", f"{did} is not onboarded at {self.did}")
        if member.status == MEMBER_REVOKED:
            raise AuthorityError("revoked", f"the membership of {did} was revoked")
        if member.status == MEMBER_SUSPENDED:
            raise AuthorityError("suspended", f"the membership of {did} is suspended")
        issued = [(t, self._credential(member, t)) for t in wanted]
        log.info("issued %s to %s", ", ".join(wanted), did)
        return issued

    def _credential(self, member: Member, credential_type: str) -> str:
        now = self.clock.now()
        common: dict[str, Any] = {
            "issuer": self.did,
            "subject": member.did,
            "valid_from": now,
            "valid_until": now + timedelta(days=self.settings.credential_days),
            "credential_id": f"urn:uuid:{uuid.uuid4()}",
        }
        if credential_type == MEMBERSHIP:
            credential = membership_credential(
                member_of=self.settings.dataspace, roles=member.roles, **common
            )
            if member.security_level:  # certified by the authority at onboarding
                credential["credentialSubject"]["securityLevel"] = member.security_level
        else:
            credential = legal_participant_credential(
                legal_name=member.legal_name,
                registration_number=member.registration_number,
                country=member.country,
                **common,
            )
        credential["credentialStatus"] = [
            status_entry(self.status_url(purpose), member.status_index, purpose)
            for purpose in PURPOSES
        ]
        return issue_credential(credential, self.key)

    # --- status lists -------------------------------------------------------------------------

    def status_list(self, purpose: str) -> str:
        """The signed ``BitstringStatusListCredential`` (compact ``vc+jwt``) for ``purpose``
        (``revocation`` or ``suspension``), as of now."""
        if purpose not in PURPOSES:
            raise AuthorityError("not_found", f"no status list for purpose {purpose!r}")
        with self.store.transaction() as tx:
            allocated = tx.members.next_status_index()
            indexes = tx.members.indexes_with_status(PURPOSES[purpose])
        # whole multiples of the minimum size, so the list length says little about the register
        bits = StatusList(max(1, -(-allocated // MIN_BITS)) * MIN_BITS)
        for index in indexes:
            bits.set(index)
        now = self.clock.now()
        credential = status_list_credential(
            list_url=self.status_url(purpose),
            issuer=self.did,
            status_list=bits,
            purpose=purpose,
            valid_from=now,
            valid_until=now + timedelta(seconds=self.settings.status_list_seconds),
        )
        return issue_credential(credential, self.key)


def _refusal(member: Member, target: str) -> str:
    if member.status == MEMBER_REVOKED:
        return f"{member.did} is revoked; a revocation is final"
    if target == MEMBER_ACTIVE:
        return f"{member.did} is {member.status}; only a suspended member can be reinstated"
    if member.status == target:
        return f"{member.did} is already {target}"
    return f"{member.did} is {member.status}; it cannot become {target}"
