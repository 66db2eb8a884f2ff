"""The trust layer of a running participant (DCP 1.0): tokens out, verification in.

* :meth:`TrustRuntime.bearer` makes the ``Authorization`` value of an outbound call: a
  self-issued ID token for the callee carrying an access token to our Credential Service.
* :meth:`TrustRuntime.verify_token` checks an inbound self-issued ID token (DID document
  fetched and cached, jti recorded in the store so replicas share the replay window).
* :meth:`TrustRuntime.authenticate` is what the DSP endpoints call: the verified token, then the
  caller's credentials (asked from its Credential Service, verified, cached for a bounded time,
  and their status re-checked on every call) folded into :class:`ParticipantClaims`.

Every refusal is an :class:`IdentityError`; the caller maps it (DSP: 404, nothing leaked).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from twinspace.clock import Clock
from twinspace.identity import (
    CREDENTIAL_SERVICE,
    DEFAULT_SCOPES,
    IdentityError,
    IdToken,
    ParticipantClaims,
    SigningKey,
    TrustContext,
    create_access_token,
    create_id_token,
    parse_presentation_response,
    presentation_query,
    verify_id_token,
    verify_presentation,
)
from twinspace.identity.credentials import VerifiedCredential, check_status
from twinspace.identity.keys import peek_jwt
from twinspace.identity.presentations import summarise
from twinspace.settings import Settings
from twinspace.store import Store

from ._http import FetchFailure, check_url
from .keyring import KeyRing
from .prefetch import prefetch_presentation
from .resolver import HttpDidResolver
from .status_cache import StatusListCache

log = logging.getLogger("twinspace.trust")

#: Shortest time between two forced refetches of one DID document (after an unknown ``kid``).
REFRESH_INTERVAL = timedelta(seconds=10)
#: Largest PresentationResponseMessage accepted from a Credential Service.
MAX_PRESENTATION_BYTES = 1024 * 1024


class StoreReplay:
    """The core's ``ReplayStore`` on the database (``seen_tokens``), shared by replicas.

    Expired entries are purged at most once per ``purge_every`` (not on every call: it is a
    range delete), so the table stays bounded by the tokens of the last few minutes."""

    def __init__(self, store: Store, purge_every: timedelta = timedelta(minutes=1)) -> None:
        self.store = store
        self.purge_every = purge_every
        self._purged: datetime | None = None

    def remember(self, jti: str, expires_at: datetime, now: datetime) -> bool:
        with self.store.transaction() as tx:
            if self._purged is None or now - self._purged >= self.purge_every:
                tx.seen_tokens.purge(now)
                self._purged = now
            return tx.seen_tokens.remember(jti, expires_at, now)


def bearer_value(authorization: str | None) -> str:
    """The token of an ``Authorization`` header (``Bearer <jwt>``, or the bare JWT)."""
    if not authorization or not authorization.strip():
        raise IdentityError("malformed", "no Authorization header")
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        value = rest.strip()
    return value


@dataclass
class _Cached:
    claims: ParticipantClaims
    until: datetime
    #: The status list credentials (as fetched) the last status check passed against.
    lists: tuple[str, ...] | None = None


class TrustRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        did: str,
        key: SigningKey | KeyRing,
        store: Store,
        clock: Clock,
        http: httpx.AsyncClient,
        max_cached_callers: int = 4096,
    ) -> None:
        self.settings = settings
        self.did = did
        self._key = key
        self.store = store
        self.clock = clock
        self.http = http
        self.leeway = timedelta(seconds=settings.token_leeway_seconds)
        self.resolver = HttpDidResolver(
            http,
            clock,
            ttl_seconds=settings.did_cache_seconds,
            allow_http=settings.allow_http_did,
            timeout=settings.send_timeout,
            on_unreachable=settings.on_authority_unreachable,
            stale_grace_seconds=settings.stale_grace_seconds,
        )
        self.status_lists = StatusListCache(
            http,
            clock,
            ttl_seconds=settings.status_list_cache_seconds,
            allow_http=settings.allow_http_did,
            timeout=settings.send_timeout,
            on_unreachable=settings.on_authority_unreachable,
            stale_grace_seconds=settings.stale_grace_seconds,
        )
        self.replay = StoreReplay(store)
        self._claims: OrderedDict[str, _Cached] = OrderedDict()
        self._max_cached = max_cached_callers
        self._refreshed: dict[str, datetime] = {}

    @property
    def key(self) -> SigningKey:
        """The key this participant signs with now (it changes when the key ring rotates)."""
        return self._key.current if isinstance(self._key, KeyRing) else self._key

    # --- outbound --------------------------------------------------------------------------

    def id_token(self, audience: str, *, access_token: str | None = None) -> str:
        return create_id_token(
            self.key,
            audience=audience,
            now=self.clock.now(),
            lifetime=timedelta(seconds=self.settings.id_token_seconds),
            access_token=access_token,
        )

    def bearer(self, audience: str) -> str:
        """``Authorization`` value for a call to ``audience`` (a DID): an ID token whose access
        token lets the callee read our membership and legal-participant credentials."""
        now = self.clock.now()
        access = create_access_token(
            self.key,
            verifier=audience,
            now=now,
            lifetime=timedelta(seconds=self.settings.id_token_seconds),
            scopes=DEFAULT_SCOPES,
        )
        return "Bearer " + self.id_token(audience, access_token=access)

    # --- inbound ---------------------------------------------------------------------------

    def context(self) -> TrustContext:
        """A core context over the live caches (no I/O inside)."""
        return TrustContext(
            resolver=self.resolver.view(),
            clock=self.clock,
            trusted_issuers=self.settings.issuers(),
            status_lists=self.status_lists.view(),
            leeway=self.leeway,
        )

    async def verify_token(self, authorization: str | None) -> IdToken:
        """Verify the self-issued ID token of an inbound call addressed to us."""
        token = bearer_value(authorization)
        _, claims = peek_jwt(token)
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not issuer.startswith("did:web:"):
            issuer = None
        else:
            await self.resolver.prefetch(issuer)  # failures surface in the core's order
        try:
            return await asyncio.to_thread(
                verify_id_token, token, self.context(), audience=self.did, replay=self.replay
            )
        except IdentityError as exc:
            if exc.code != "unknown_key" or issuer is None or not self._may_refresh(issuer):
                raise
        # a key we have not seen: the caller may have rotated since we cached its document
        self.resolver.invalidate(issuer)
        await self.resolver.prefetch(issuer)
        return await asyncio.to_thread(
            verify_id_token, token, self.context(), audience=self.did, replay=self.replay
        )

    def _may_refresh(self, did: str) -> bool:
        """At most one forced refetch of a DID document per ``REFRESH_INTERVAL`` (an unknown
        ``kid`` must not let anyone make us hammer a participant's server)."""
        now = self.clock.now()
        last = self._refreshed.get(did)
        if last is not None and now - last < REFRESH_INTERVAL:
            return False
        if len(self._refreshed) > self._max_cached:
            self._refreshed.clear()
        self._refreshed[did] = now
        return True

    async def authenticate(self, authorization: str | None) -> ParticipantClaims:
        """The verified claims of the caller of a DSP request (or ``IdentityError``)."""
        token = await self.verify_token(authorization)
        now = self.clock.now()
        cached = self._claims.get(token.issuer)
        if cached is not None and cached.until > now:
            self._claims.move_to_end(token.issuer)
            await self._recheck(cached)
            return cached.claims
        claims = await self._fetch_claims(token)
        self._remember(claims, now)
        return claims

    def forget(self, did: str | None = None) -> None:
        """Drop cached claims (of ``did``, or all)."""
        if did is None:
            self._claims.clear()
        else:
            self._claims.pop(did, None)

    async def _recheck(self, cached: _Cached) -> None:
        """Check the status of cached credentials again: a revocation counts as soon as the
        status list cache holds a list that shows it. Lists already passed are not re-verified
        (the cache hands out the same document until it refetches)."""
        claims = cached.claims
        urls = list(
            dict.fromkeys(
                e["statusListCredential"]
                for c in claims.credentials
                for e in status_entries(c.claims.get("credentialStatus"))
            )
        )
        await self.status_lists.prefetch(*urls)
        # a status list must verify as its issuer's credential: that DID document may have expired
        await self.resolver.prefetch(*dict.fromkeys(c.issuer for c in claims.credentials))
        ctx = self.context()
        try:
            current = tuple(ctx.status_lists.fetch(url) for url in urls)
            if current == cached.lists:
                return
            for credential in claims.credentials:
                check_status(credential, ctx)
        except IdentityError:
            self.forget(claims.did)
            raise
        cached.lists = current

    def _remember(self, claims: ParticipantClaims, now: datetime) -> None:
        ttl = min(self.settings.presentation_cache_seconds, self.settings.status_list_cache_seconds)
        until = now + timedelta(seconds=ttl)
        for credential in claims.credentials:
            if credential.valid_until is not None:
                until = min(until, credential.valid_until)
        self._claims[claims.did] = _Cached(claims, until)
        self._claims.move_to_end(claims.did)
        while len(self._claims) > self._max_cached:
            self._claims.popitem(last=False)

    async def _fetch_claims(self, token: IdToken) -> ParticipantClaims:
        if not token.access_token:
            raise IdentityError(
                "malformed", "the ID token has no 'token' claim to query the caller's credentials"
            )
        document = await self.resolver.resolve(token.issuer)
        service = document.service(CREDENTIAL_SERVICE)
        if service is None:
            raise IdentityError("unresolved", f"{token.issuer} lists no {CREDENTIAL_SERVICE}")
        url = service.endpoint.rstrip("/") + "/presentations/query"
        presentations = await self._query(url, token)
        ctx = self.context()
        credentials: list[VerifiedCredential] = []
        for vp in presentations:
            await prefetch_presentation(vp, resolver=self.resolver, status_lists=self.status_lists)
            verified = await asyncio.to_thread(
                verify_presentation, vp, ctx, caller=token.issuer, audience=self.did
            )
            credentials.extend(verified.credentials)
        claims = summarise(token.issuer, credentials)
        if not claims.member or self.settings.dataspace not in claims.member_of:
            raise IdentityError(
                "not_member",
                f"{token.issuer} holds no membership of {self.settings.dataspace} "
                "from a trusted issuer",
            )
        return claims

    async def _query(self, url: str, token: IdToken) -> list[str]:
        try:
            check_url(url, allow_http=self.settings.allow_http_did)
        except FetchFailure as exc:
            raise IdentityError("unresolved", f"credential service: {exc.message}") from None
        auth = "Bearer " + self.id_token(token.issuer, access_token=token.access_token)
        try:
            response = await self.http.post(
                url,
                json=presentation_query(DEFAULT_SCOPES),
                headers={"Authorization": auth},
                timeout=self.settings.send_timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise IdentityError(
                "unresolved", f"credential service {url} unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise IdentityError(
                "unresolved",
                f"credential service {url} answered HTTP {response.status_code}: "
                f"{response.text[:200]}",
            )
        if len(response.content) > MAX_PRESENTATION_BYTES:
            raise IdentityError("unresolved", f"credential service {url}: answer too large")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise IdentityError("malformed", f"credential service {url}: not JSON") from None
        return parse_presentation_response(body)


def status_entries(status: object) -> list[dict[str, str]]:
    items = status if isinstance(status, list) else [status] if status else []
    return [
        e for e in items if isinstance(e, dict) and isinstance(e.get("statusListCredential"), str)
    ]
