"""This participant's signing keys, rotated without downtime.

The key file holds either one private JWK (what a first start writes) or, after a rotation,
``{"version": 2, "keys": [{"jwk": {...}, "retiresAt": null | "<ISO time>"}, ...]}``. The key
without ``retiresAt`` signs; each older key stays in the DID document with ``expires`` = its
``retiresAt`` (W3C Controlled Identifiers §2.2.1), so verifiers accept tokens it signed until
then, and is dropped from the file and the document afterwards. Verifiers that cached the old
document refetch it when they meet the new key's ``kid`` (``TrustRuntime.verify_token``).

Writes are atomic (a temporary file renamed over the old one), mode 0600.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from twinspace.clock import Clock
from twinspace.identity import IdentityError, SigningKey, generate_key, load_signing_key
from twinspace.identity._time import format_datetime, parse_datetime

log = logging.getLogger("twinspace.trust")


class KeyFileError(Exception):
    """The participant's key file exists but cannot be used."""


@dataclass(frozen=True)
class HeldKey:
    key: SigningKey
    retires_at: datetime | None  # None: the current signing key


def _number(kid: str) -> int:
    fragment = kid.rsplit("#key-", 1)
    return int(fragment[1]) if len(fragment) == 2 and fragment[1].isdigit() else 1


class KeyRing:
    def __init__(self, path: Path, did: str, clock: Clock) -> None:
        self.path = path
        self.did = did
        self.clock = clock
        self._lock = threading.Lock()
        self._keys = self._load()

    # --- reading --------------------------------------------------------------------------------

    @property
    def current(self) -> SigningKey:
        return self._keys[-1].key

    def held(self) -> list[HeldKey]:
        """The keys still published (current last); retired ones are left out."""
        now = self.clock.now()
        return [k for k in self._keys if k.retires_at is None or k.retires_at > now]

    def expires(self) -> dict[str, datetime]:
        return {k.key.kid: k.retires_at for k in self.held() if k.retires_at is not None}

    # --- rotating -------------------------------------------------------------------------------

    def rotate(self, overlap: timedelta) -> SigningKey:
        """A new current key; the old one keeps working for ``overlap``. Persisted first."""
        if overlap < timedelta(0):
            raise ValueError("the overlap must not be negative")
        with self._lock:
            now = self.clock.now()
            number = max(_number(k.key.kid) for k in self._keys) + 1
            new = generate_key(f"{self.did}#key-{number}", "Ed25519")
            kept = [
                HeldKey(k.key, now + overlap if k.retires_at is None else k.retires_at)
                for k in self._keys
                if k.retires_at is None or k.retires_at > now
            ]
            keys = [*kept, HeldKey(new, None)]
            self._write(keys)
            self._keys = keys
        log.info("rotated the signing key: %s signs from now on", new.kid)
        return new

    # --- the file -------------------------------------------------------------------------------

    def _load(self) -> list[HeldKey]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            keys = [HeldKey(generate_key(f"{self.did}#key-1", "Ed25519"), None)]
            if self._write(keys, exclusive=True):
                log.info("generated a new signing key %s in %s", keys[0].key.kid, self.path)
                return keys
            return self._load()  # another process created it meanwhile
        except OSError as exc:
            raise KeyFileError(f"cannot read the signing key file {self.path}: {exc}") from None
        if self.path.stat().st_mode & 0o077:
            log.warning("signing key file %s is readable by others; chmod 600 it", self.path)
        try:
            return self._parse(json.loads(raw))
        except (ValueError, TypeError, KeyError, IdentityError) as exc:
            raise KeyFileError(
                f"the signing key file {self.path} is not valid ({exc}); restore it from a "
                "backup, or remove it to generate a new key (and a new DID key)"
            ) from None

    def _parse(self, data: Any) -> list[HeldKey]:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if "keys" not in data:  # a single private JWK (first start, or written by hand)
            return [HeldKey(load_signing_key(data, kid=f"{self.did}#key-1"), None)]
        keys = []
        for entry in data["keys"]:
            jwk = entry["jwk"]
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not kid.startswith(self.did + "#"):
                raise ValueError(f"key id {kid!r} is not a key of {self.did}")
            retires = entry.get("retiresAt")
            when = None if retires is None else parse_datetime(retires, "retiresAt")
            keys.append(HeldKey(load_signing_key(jwk, kid=kid), when))
        if not keys or keys[-1].retires_at is not None:
            raise ValueError("the last key must be the current one (no retiresAt)")
        return keys

    def _write(self, keys: list[HeldKey], *, exclusive: bool = False) -> bool:
        document = {
            "version": 2,
            "keys": [
                {
                    "jwk": k.key.private_jwk(),
                    "retiresAt": None if k.retires_at is None else format_datetime(k.retires_at),
                }
                for k in keys
            ],
        }
        if len(keys) == 1 and keys[0].retires_at is None:
            content: Any = keys[0].key.private_jwk()  # the simple form while there is one key
        else:
            content = document
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                os.fchmod(fh.fileno(), 0o600)
                json.dump(content, fh)
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:
                try:
                    os.link(tmp, self.path)  # fails if another process created it meanwhile
                except FileExistsError:
                    return False
            else:
                os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        return True
