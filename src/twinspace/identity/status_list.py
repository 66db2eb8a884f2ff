"""Bitstring Status List v1.0 (W3C): encode, decode, set, check; the status list credential.

§2.1 ``BitstringStatusListEntry`` (credentialStatus), §2.2 ``BitstringStatusListCredential``,
§3.1 bitstring generation (GZIP, then multibase base64url without padding: prefix ``u``),
§3.2 validation (minimum length 131,072 bits = 16 KiB, range check), §4 index 0 is the
left-most (most significant) bit of the first byte. Only ``statusSize`` 1 is supported.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._time import format_datetime
from .errors import malformed

#: §3.1: "a minimum size of 16KB" (131,072 entries at statusSize 1), for herd privacy.
MIN_BITS = 131_072
#: Refuse lists that decompress to more than this (a gzip bomb guard): 16 MiB = 134M entries.
MAX_BYTES = 16 * 1024 * 1024
STATUS_PURPOSES = frozenset({"revocation", "suspension"})
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"


class StatusList:
    """A mutable bitstring; ``True`` means the status (revoked / suspended) is set."""

    def __init__(self, size: int = MIN_BITS) -> None:
        if size < MIN_BITS or size % 8:
            raise malformed(f"a status list has at least {MIN_BITS} bits, a multiple of 8")
        self._bits = bytearray(size // 8)

    @property
    def size(self) -> int:
        return len(self._bits) * 8

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            # §3.2 step 8: STATUS_RANGE_ERROR
            raise malformed(f"status list index {index!r} is outside 0..{self.size - 1}")
        return index // 8, 0x80 >> (index % 8)

    def get(self, index: int) -> bool:
        byte, mask = self._locate(index)
        return bool(self._bits[byte] & mask)

    def set(self, index: int, value: bool = True) -> None:
        byte, mask = self._locate(index)
        if value:
            self._bits[byte] |= mask
        else:
            self._bits[byte] &= ~mask & 0xFF

    def encode(self) -> str:
        """``u`` + base64url(no padding) of the GZIP-compressed bitstring (§3.1)."""
        packed = gzip.compress(bytes(self._bits), mtime=0)
        return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: object) -> StatusList:
        """The inverse of :meth:`encode`; anything unreadable or too short is ``malformed``."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise malformed("encodedList must be a multibase base64url string (prefix 'u')")
        body = encoded[1:]
        if any(c in body for c in "=+/"):
            raise malformed("encodedList is not unpadded base64url")
        try:
            packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
            raw = inflater.decompress(packed, MAX_BYTES + 1)
        except (binascii.Error, ValueError, zlib.error):
            raise malformed("encodedList is not base64url-encoded GZIP data") from None
        if len(raw) > MAX_BYTES or not inflater.eof:
            raise malformed("encodedList is truncated or larger than allowed")
        if len(raw) * 8 < MIN_BITS:
            # §3.2 step 7: STATUS_LIST_LENGTH_ERROR
            raise malformed(f"status list has {len(raw) * 8} bits, fewer than {MIN_BITS}")
        result = cls(len(raw) * 8)
        result._bits[:] = raw
        return result


def status_entry(list_url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """A ``credentialStatus`` value (§2.1) pointing at bit ``index`` of the list at ``list_url``."""
    if purpose not in STATUS_PURPOSES:
        raise malformed(f"statusPurpose {purpose!r} is not supported")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise malformed("statusListIndex must be a non-negative integer")
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def parse_status_entry(entry: object) -> tuple[str, int, str]:
    """(statusListCredential, statusListIndex, statusPurpose) of a §2.1 entry."""
    if not isinstance(entry, Mapping) or entry.get("type") != "BitstringStatusListEntry":
        raise malformed("credentialStatus must be a BitstringStatusListEntry object")
    url, index, purpose = (
        entry.get("statusListCredential"),
        entry.get("statusListIndex"),
        entry.get("statusPurpose"),
    )
    if not isinstance(url, str) or not url:
        raise malformed("credentialStatus.statusListCredential must be a URL")
    if not isinstance(index, str) or not index.isdigit() or not index.isascii():
        raise malformed("credentialStatus.statusListIndex must be a string of decimal digits")
    if purpose not in STATUS_PURPOSES:
        raise malformed(f"credentialStatus.statusPurpose {purpose!r} is not supported")
    if entry.get("statusSize", 1) != 1:
        raise malformed("only statusSize 1 is supported")
    return url, int(index), str(purpose)


def status_list_credential(
    *,
    list_url: str,
    issuer: str,
    status_list: StatusList,
    purpose: str = "revocation",
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """The unsecured ``BitstringStatusListCredential`` (§2.2); sign it with
    :func:`twinspace.identity.credentials.issue_credential`."""
    if purpose not in STATUS_PURPOSES:
        raise malformed(f"statusPurpose {purpose!r} is not supported")
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": format_datetime(valid_from),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": status_list.encode(),
        },
    }
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    return credential
