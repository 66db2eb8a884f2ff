"""This participant's own identity: its signing key (kept in a file) and its did:web document.

The key is an Ed25519 private JWK in ``Settings.effective_key_file()``, written with mode 0600
on first start and reused afterwards. A file that cannot be read or parsed is an error naming
the file: a key is never silently replaced (the DID's verifiers would no longer recognise it).

The DID document lists the key (``authentication`` and ``assertionMethod``) and three services:

``CatalogService``     ``<dsp url>/catalog`` (DSP 2025-1 DID service)
``DataService``        ``<base url>/.well-known/dspace-version`` (the DSP version metadata)
``CredentialService``  ``<base url>/<name>/credentials`` (DCP 1.0 §5.1; placeholder, not served
                       yet)
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twinspace.identity import (
    CATALOG_SERVICE,
    CREDENTIAL_SERVICE,
    DATA_SERVICE,
    IdentityError,
    SigningKey,
    build_did_document,
    did_web_to_url,
    generate_key,
    load_signing_key,
)
from twinspace.settings import Settings

log = logging.getLogger("twinspace.trust")

KEY_FRAGMENT = "key-1"


class KeyFileError(Exception):
    """The participant's key file exists but cannot be used."""


@dataclass(frozen=True)
class ParticipantIdentity:
    did: str
    key: SigningKey
    document: dict[str, Any]
    #: Path (on this server) at which the DID document is served, e.g. ``/city/did.json``.
    document_path: str


def load_or_create_key(path: Path, kid: str) -> SigningKey:
    """The key stored in ``path`` (published as ``kid``), or a new Ed25519 key written there."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _create_key(path, kid)
    except OSError as exc:
        raise KeyFileError(f"cannot read the signing key file {path}: {exc}") from None
    if path.stat().st_mode & 0o077:
        log.warning("signing key file %s is readable by others; chmod 600 it", path)
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return load_signing_key(data, kid=kid)
    except (ValueError, IdentityError) as exc:
        raise KeyFileError(
            f"the signing key file {path} is not a valid private JWK ({exc}); "
            "restore it from a backup, or remove it to generate a new key (and a new DID key)"
        ) from None


def _create_key(path: Path, kid: str) -> SigningKey:
    key = generate_key(kid, "Ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o600)
            json.dump(key.private_jwk(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process created the file meanwhile
        except FileExistsError:
            return load_or_create_key(path, kid)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("generated a new signing key %s in %s", kid, path)
    return key


def services(settings: Settings) -> dict[str, str]:
    base = settings.base_url()
    return {
        CATALOG_SERVICE: f"{settings.dsp_url()}/catalog",
        DATA_SERVICE: f"{base}/.well-known/dspace-version",
        CREDENTIAL_SERVICE: f"{base}/{settings.name}/credentials",
    }


def document_path(did: str, base_url: str) -> str:
    """Where this server serves ``did``'s document: its did:web URL path, less the path of
    ``base_url`` (a reverse proxy strips it, as for every other endpoint)."""
    path = urlsplit(did_web_to_url(did)).path
    prefix = urlsplit(base_url).path.rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    return path


def load_identity(settings: Settings) -> ParticipantIdentity:
    """Load (or on first start generate) the key and build the DID document."""
    did = settings.effective_did()
    key = load_or_create_key(settings.effective_key_file(), f"{did}#{KEY_FRAGMENT}")
    return ParticipantIdentity(
        did=did,
        key=key,
        document=build_did_document(did, [key], services(settings)),
        document_path=document_path(did, settings.base_url()),
    )
