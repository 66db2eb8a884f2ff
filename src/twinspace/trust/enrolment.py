"""Getting this participant's own credentials from its governance authority, and renewing them.

With ``TWINSPACE_AUTHORITY=<authority DID>`` the connector asks the authority's
``IssuerService`` (from the authority's DID document) for a MembershipCredential and a
LegalParticipantCredential, authenticated by a self-issued ID token. The answer is a DCP
``CredentialMessage``; every credential is verified (trusted issuer, signature, dates, status,
subject = our DID) before it goes into the wallet. Until that works, the loop retries with
backoff and says why (``status()``), e.g. "not onboarded yet".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from twinspace.identity import (
    DEFAULT_TYPES,
    IdentityError,
    credential_request,
    parse_credential_message,
    verify_credential,
)
from twinspace.identity.keys import peek_jwt
from twinspace.retry import backoff
from twinspace.store import HeldCredential

from ._http import FetchFailure, check_url
from .runtime import TrustRuntime, status_entries

log = logging.getLogger("twinspace.trust")

ISSUER_SERVICE = "IssuerService"
#: Renew a credential when less than this part of its lifetime is left.
RENEW_FRACTION = 0.2


class EnrolmentError(Exception):
    pass


@dataclass
class EnrolmentStatus:
    state: str = "pending"  # pending | ok | failed
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    last_success_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "attempts": self.attempts,
            "lastError": self.last_error,
            "nextAttemptAt": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "lastSuccessAt": self.last_success_at.isoformat() if self.last_success_at else None,
        }


class Enrolment:
    def __init__(
        self, runtime: TrustRuntime, authority: str, *, backoff_max: float = 300.0
    ) -> None:
        self.runtime = runtime
        self.authority = authority
        self.backoff_max = backoff_max
        self.status = EnrolmentStatus()
        self._wake = asyncio.Event()

    # --- one request ----------------------------------------------------------------------------

    async def request(self) -> list[HeldCredential]:
        """Ask the authority for our credentials, verify and store them; ``EnrolmentError``."""
        rt = self.runtime
        try:
            document = await rt.resolver.resolve(self.authority)
        except IdentityError as exc:
            raise EnrolmentError(f"authority {self.authority}: {exc.message}") from None
        service = document.service(ISSUER_SERVICE)
        if service is None:
            raise EnrolmentError(f"authority {self.authority} lists no {ISSUER_SERVICE}")
        url = service.endpoint.rstrip("/") + "/credentials"
        try:
            check_url(url, allow_http=rt.settings.allow_http_did)
        except FetchFailure as exc:
            raise EnrolmentError(exc.message) from None
        try:
            response = await rt.http.post(
                url,
                json=credential_request(DEFAULT_TYPES),
                headers={"Authorization": "Bearer " + rt.id_token(self.authority)},
                timeout=rt.settings.send_timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise EnrolmentError(f"authority at {url} unreachable: {type(exc).__name__}") from None
        body = _json(response)
        if response.status_code != 200:
            detail = body if isinstance(body, dict) else {}
            raise EnrolmentError(
                f"authority refused (HTTP {response.status_code}): "
                f"{detail.get('error', '')} {detail.get('message', response.text[:200])}".strip()
            )
        try:
            pairs = parse_credential_message(body)
            return await self._keep(pairs)
        except IdentityError as exc:
            raise EnrolmentError(f"credential from the authority refused: {exc}") from None

    async def _keep(self, pairs: list[tuple[str, str]]) -> list[HeldCredential]:
        rt = self.runtime
        urls: list[str] = []
        for _, jwt in pairs:
            _, claims = peek_jwt(jwt)
            urls.extend(
                e["statusListCredential"] for e in status_entries(claims.get("credentialStatus"))
            )
        await rt.resolver.prefetch(self.authority)
        await rt.status_lists.prefetch(*dict.fromkeys(urls))
        ctx = rt.context()
        now = rt.clock.now()
        kept = []
        for type_, jwt in pairs:
            verified = verify_credential(jwt, ctx, expected_subject=rt.did)
            if type_ not in verified.types:
                raise IdentityError("malformed", f"a {type_} that is a {sorted(verified.types)}")
            kept.append(
                HeldCredential(
                    id=verified.id or f"urn:uuid:{uuid.uuid4()}",
                    type=type_,
                    issuer=verified.issuer,
                    jwt=jwt,
                    received_at=now,
                    valid_until=verified.valid_until,
                )
            )
        with rt.store.transaction() as tx:
            for credential in kept:
                tx.wallet.replace_type(credential)
        return kept

    # --- the loop -------------------------------------------------------------------------------

    def renewal_due(self) -> datetime | None:
        """When the wallet next needs the authority (None: now)."""
        with self.runtime.store.transaction() as tx:
            held = [c for c in tx.wallet.all() if c.issuer == self.authority]
        due: datetime | None = None
        for type_ in DEFAULT_TYPES:
            mine = [c for c in held if c.type == type_]
            if not mine:
                return None
            c = mine[0]
            if c.valid_until is None:
                continue
            at = c.valid_until - (c.valid_until - c.received_at) * RENEW_FRACTION
            due = at if due is None else min(due, at)
        return due

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> bool:
        self.status.attempts += 1
        try:
            await self.request()
        except EnrolmentError as exc:
            self.status.state = "failed"
            self.status.last_error = str(exc)
            log.warning("could not get credentials from %s: %s", self.authority, exc)
            return False
        self.status.state = "ok"
        self.status.last_error = None
        self.status.attempts = 0
        self.status.last_success_at = self.runtime.clock.now()
        log.info("credentials received from %s", self.authority)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        clock = self.runtime.clock
        failures = 0
        while not stop.is_set():
            due = await asyncio.to_thread(self.renewal_due)
            now = clock.now()
            if due is None or due <= now:
                if await self.run_once():
                    failures = 0
                    continue
                failures += 1
                delay = backoff(failures, 0.5, self.backoff_max)
            else:
                if self.status.state == "pending":
                    self.status.state = "ok"
                delay = min(3600.0, (due - now).total_seconds())
            self.status.next_attempt_at = now + timedelta(seconds=delay)
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), timeout=delay
                )
            for waiter in waiters:
                waiter.cancel()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
