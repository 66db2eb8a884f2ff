"""This participant as a credential holder: its Credential Service (DCP 1.0 §5) and its wallet.

A verifier (a connector we called) asks ``POST <CredentialService>/presentations/query`` with
its own self-issued ID token whose ``token`` claim is the access token we gave it. We answer
with a ``vp+jwt`` of the credentials it may see, addressed to it, and nothing to anyone else.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from twinspace.identity import (
    IdentityError,
    create_presentation,
    parse_presentation_query,
    presentation_response,
    verify_access_token,
)
from twinspace.store import HeldCredential

from .runtime import TrustRuntime


@dataclass
class QueryRefused(Exception):
    """A presentation query we will not answer: ``status`` 400, 401 or 403, and why."""

    status: int
    code: str
    message: str


class CredentialService:
    def __init__(self, runtime: TrustRuntime, *, presentation_seconds: int = 300) -> None:
        self.runtime = runtime
        self.lifetime = timedelta(seconds=presentation_seconds)

    def held(self) -> list[HeldCredential]:
        with self.runtime.store.transaction() as tx:
            return tx.wallet.all()

    async def query(self, authorization: str | None, body: Any) -> dict[str, Any]:
        """Answer a ``PresentationQueryMessage`` or raise :class:`QueryRefused`."""
        rt = self.runtime
        try:
            token = await rt.verify_token(authorization)
        except IdentityError as exc:
            raise QueryRefused(401, exc.code, exc.message) from None
        if not token.access_token:
            raise QueryRefused(401, "malformed", "the ID token carries no access token ('token')")
        try:
            grant = verify_access_token(
                token.access_token,
                rt.key,
                verifier=token.issuer,
                now=rt.clock.now(),
                leeway=rt.leeway,
            )
        except IdentityError as exc:
            raise QueryRefused(403, exc.code, f"access token refused: {exc.message}") from None
        try:
            wanted = parse_presentation_query(body)
        except IdentityError as exc:
            raise QueryRefused(400, exc.code, exc.message) from None
        if not wanted <= grant.types:
            raise QueryRefused(
                403,
                "scope",
                f"scopes {sorted(wanted - grant.types)} were not granted to {token.issuer}",
            )
        now = rt.clock.now()
        held = await asyncio.to_thread(self.held)
        chosen = [
            c.jwt
            for c in held
            if c.type in wanted and (c.valid_until is None or c.valid_until > now)
        ]
        vp = create_presentation(
            rt.key, chosen, audience=token.issuer, now=now, lifetime=self.lifetime
        )
        return presentation_response([vp])
