"""This participant's own identity: its signing keys (kept in a file) and its did:web document.

The keys live in ``Settings.effective_key_file()`` (:mod:`twinspace.trust.keyring`): an Ed25519
private JWK written with mode 0600 on first start, and reused afterwards; a rotation adds a key
and retires the old one after an overlap. A file that cannot be read or parsed is an error naming
the file: a key is never silently replaced (the DID's verifiers would no longer recognise it).

The DID document lists the keys (``authentication`` and ``assertionMethod``) and three services:

``CatalogService``     ``<dsp url>/catalog`` (DSP 2025-1 DID service)
``DataService``        ``<base url>/.well-known/dspace-version`` (the DSP version metadata)
``CredentialService``  ``<base url>/<name>/credentials`` (DCP 1.0 §5.1; the presentation query
                       endpoint is ``.../presentations/query``)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twinspace.clock import Clock, SystemClock
from twinspace.identity import (
    CATALOG_SERVICE,
    CREDENTIAL_SERVICE,
    DATA_SERVICE,
    SigningKey,
    build_did_document,
    did_web_to_url,
    split_did_url,
)
from twinspace.settings import Settings

from .keyring import KeyFileError, KeyRing

__all__ = [
    "KEY_FRAGMENT",
    "KeyFileError",
    "ParticipantIdentity",
    "document_path",
    "load_identity",
    "load_or_create_key",
    "services",
]

log = logging.getLogger("twinspace.trust")

KEY_FRAGMENT = "key-1"


@dataclass(frozen=True)
class ParticipantIdentity:
    """The DID, its key ring, and the DID document built from them (rebuilt on each read, so a
    rotation or a key's retirement shows at once)."""

    did: str
    keyring: KeyRing
    services: dict[str, str]
    #: Path (on this server) at which the DID document is served, e.g. ``/city/did.json``.
    document_path: str

    @property
    def key(self) -> SigningKey:
        """The current signing key."""
        return self.keyring.current

    @property
    def document(self) -> dict[str, Any]:
        return build_did_document(
            self.did,
            [k.key for k in self.keyring.held()],
            self.services,
            expires=self.keyring.expires(),
        )


def load_or_create_key(path: Path, kid: str, clock: Clock | None = None) -> SigningKey:
    """The current key in ``path`` (a new Ed25519 key ``kid`` written there on first use)."""
    did, _ = split_did_url(kid)
    return KeyRing(path, did, clock or SystemClock()).current


def services(settings: Settings) -> dict[str, str]:
    base = settings.base_url()
    found = {
        CATALOG_SERVICE: f"{settings.dsp_url()}/catalog",
        DATA_SERVICE: f"{base}/.well-known/dspace-version",
        CREDENTIAL_SERVICE: f"{base}/{settings.name}/credentials",
    }
    if settings.run_log and settings.auth == "dcp":
        found[LOG_SERVICE] = log_url(settings)
    return found


#: The DID document service type of a transparency log (``twinspace.transparency``).
LOG_SERVICE = "TransparencyLog"


def log_url(settings: Settings) -> str:
    """Where a participant that runs its own transparency log serves it."""
    return f"{settings.base_url()}/{settings.name}/log"


def document_path(did: str, base_url: str) -> str:
    """Where this server serves ``did``'s document: its did:web URL path, less the path of
    ``base_url`` (a reverse proxy strips it, as for every other endpoint)."""
    path = urlsplit(did_web_to_url(did)).path
    prefix = urlsplit(base_url).path.rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    return path


def load_identity(settings: Settings, clock: Clock | None = None) -> ParticipantIdentity:
    """Load (or on first start generate) the keys; the DID document follows them."""
    did = settings.effective_did()
    return ParticipantIdentity(
        did=did,
        keyring=KeyRing(settings.effective_key_file(), did, clock or SystemClock()),
        services=services(settings),
        document_path=document_path(did, settings.base_url()),
    )
