"""Log entries: what may be recorded, built and signed by the submitter.

An entry is a flat JSON object: the envelope ``v`` (1), ``kind``, ``submitter`` (the DID that
signs it) and ``at`` (when it happened, UTC), plus the fields of its kind (:data:`ENTRY_KINDS`).
Every value is one of four shapes, so that nothing personal fits in by construction:

* an **identifier** (DID, URN, UUID, asset id...): at most 512 URI characters, no ``@`` (no
  e-mail address) and not just digits (no phone number);
* a **hash**: 64 lowercase hex digits (SHA-256), e.g. of the agreement document;
* a **state** from the closed set of its field (``STARTED``, ``delete``, ``GIVEN``...);
* a **time**: ``2026-01-01T00:00:00Z`` (given as an aware ``datetime``).

Unknown fields are refused, and so are names that look like personal data (``name``, ``email``,
...) with a message that says so. The submitter signs the entry's canonical JSON
(:mod:`twinspace.ledger.canonical`) as a compact JWS with ``typ: ts-entry+jwt``; the log's leaf is
:func:`entry_leaf` of that JWS, exactly as submitted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twinspace.identity import SigningKey
from twinspace.identity.keys import sign_jwt

from ._jose import b64url_decode, check_did, did_of, format_time, parse_time, peek, verify
from .canonical import canonical_json, parse_canonical
from .errors import LedgerError, malformed
from .merkle import leaf_hash

ENTRY_TYP = "ts-entry+jwt"
ENTRY_VERSION = 1
MAX_IDENTIFIER = 512

TRANSFER_STATES = frozenset({"STARTED", "SUSPENDED", "COMPLETED", "TERMINATED"})
DUTY_ACTIONS = frozenset({"delete", "inform", "notify"})
CONSENT_STATES = frozenset({"GIVEN", "REVOKED"})

_IDENTIFIER = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]!$&'()*+,;=%]+$")
_PHONE = re.compile(r"^\+?[0-9()\-.]{7,}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")

Check = Callable[[object, str], str]


def identifier(value: object, what: str) -> str:
    """An identifier (see the module doc), or ``malformed``."""
    if not isinstance(value, str) or not value:
        raise malformed(f"{what} must be a non-empty identifier string")
    if len(value) > MAX_IDENTIFIER:
        raise malformed(f"{what} is longer than {MAX_IDENTIFIER} characters")
    if "@" in value:
        raise malformed(f"{what} looks like an e-mail address; only identifiers may be logged")
    if _PHONE.match(value):
        raise malformed(f"{what} looks like a phone number; only identifiers may be logged")
    if not _IDENTIFIER.match(value):
        raise malformed(f"{what} {value!r} is not an identifier (URI characters only)")
    return value


def sha256_hex(value: object, what: str) -> str:
    """64 lowercase hex digits; 32 raw bytes are accepted and converted."""
    if isinstance(value, bytes) and len(value) == 32:
        return value.hex()
    if not isinstance(value, str) or not _HASH.match(value):
        raise malformed(f"{what} must be a SHA-256 hash in 64 lowercase hex digits")
    return value


def _time(value: object, what: str) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    parse_time(value, what)
    return str(value)


def _state(states: frozenset[str]) -> Check:
    def check(value: object, what: str) -> str:
        if not isinstance(value, str) or value not in states:
            raise malformed(f"{what} must be one of {sorted(states)}, got {value!r}")
        return value

    return check


@dataclass(frozen=True)
class EntryKind:
    """The fields of one kind of entry: name -> check, required or optional."""

    required: Mapping[str, Check]
    optional: Mapping[str, Check]


ENTRY_KINDS: Mapping[str, EntryKind] = {
    # a contract agreement was concluded: which one (id and hash of its document), between whom
    "agreement": EntryKind(
        {
            "agreement": identifier,
            "agreement_hash": sha256_hex,
            "provider": identifier,
            "consumer": identifier,
        },
        {"asset": identifier},
    ),
    # a transfer process reached a state
    "transfer": EntryKind(
        {"transfer": identifier, "agreement": identifier, "state": _state(TRANSFER_STATES)}, {}
    ),
    # a use of data under an agreement was refused (reason: the ODRL term that failed)
    "usage_denied": EntryKind(
        {"agreement": identifier, "requester": identifier},
        {
            "transfer": identifier,
            "asset": identifier,
            "reason": identifier,
            "request_hash": sha256_hex,
        },
    ),
    # a duty of an agreement was carried out (deletion, notification)
    "duty": EntryKind(
        {"agreement": identifier, "action": _state(DUTY_ACTIONS), "fulfilled_at": _time},
        {"transfer": identifier, "evidence_hash": sha256_hex},
    ),
    # a consent record (kept in the citizen's pod) was given or revoked, for a purpose
    "consent": EntryKind(
        {
            "consent": identifier,
            "recipient": identifier,
            "purpose": identifier,
            "state": _state(CONSENT_STATES),
        },
        {"record_hash": sha256_hex, "until": _time},
    ),
}

_ENVELOPE = frozenset({"v", "kind", "submitter", "at"})

#: Field names refused with "looks like personal data" (compared lowercased, without - and _).
PERSONAL_NAMES = frozenset(
    {
        "name", "fullname", "firstname", "givenname", "lastname", "familyname", "surname",
        "username", "nickname", "email", "mail", "emailaddress", "phone", "phonenumber",
        "telephone", "mobile", "address", "street", "postcode", "zipcode", "city", "birthdate",
        "dateofbirth", "birthday", "dob", "age", "gender", "sex", "nationality", "ip",
        "ipaddress", "location", "lat", "lon", "lng", "latitude", "longitude", "iban", "ssn",
        "passport", "person", "citizen", "user", "comment", "note", "description", "text",
    }
)  # fmt: skip


def _looks_personal(field: str) -> bool:
    return field.lower().replace("-", "").replace("_", "") in PERSONAL_NAMES


def _fields(kind: str, fields: Mapping[str, object]) -> dict[str, str]:
    spec = ENTRY_KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise malformed(f"unknown entry kind {kind!r}; known: {sorted(ENTRY_KINDS)}")
    if not isinstance(fields, Mapping):
        raise malformed("entry fields must be a mapping")
    result: dict[str, str] = {}
    for field, value in fields.items():
        if not isinstance(field, str):
            raise malformed(f"field names must be strings, got {field!r}")
        if _looks_personal(field):
            raise malformed(
                f"field {field!r} looks like personal data: ledger entries hold only "
                "identifiers, hashes, states and times"
            )
        check = spec.required.get(field) or spec.optional.get(field)
        if check is None:
            allowed = sorted([*spec.required, *spec.optional])
            raise malformed(f"unknown field {field!r} for a {kind} entry; allowed: {allowed}")
        result[field] = check(value, f"field {field!r}")
    missing = sorted(set(spec.required) - set(result))
    if missing:
        raise malformed(f"a {kind} entry needs {missing}")
    return result


def _ordered(entry: Mapping[str, object]) -> dict[str, Any]:
    value = parse_canonical(canonical_json(entry))
    assert isinstance(value, dict)
    return value


def make_entry(
    kind: str, fields: Mapping[str, object], *, submitter: str, at: datetime
) -> dict[str, Any]:
    """A checked entry of ``kind`` (``agreement``, ``transfer``, ``usage_denied``, ``duty``,
    ``consent``) submitted by the DID ``submitter`` about something that happened ``at``."""
    values = _fields(kind, fields)
    envelope = {
        "v": ENTRY_VERSION,
        "kind": kind,
        "submitter": check_did(submitter, "submitter"),
        "at": format_time(at),
    }
    return _ordered({**values, **envelope})


def check_entry(entry: object) -> dict[str, Any]:
    """Validate an entry as read back (wire form: strings only); returns it in canonical
    member order, or raises ``malformed``."""
    if not isinstance(entry, Mapping):
        raise malformed("an entry must be a JSON object")
    if entry.get("v") != ENTRY_VERSION or isinstance(entry.get("v"), bool):
        raise malformed(f"entry version must be {ENTRY_VERSION}, got {entry.get('v')!r}")
    check_did(entry.get("submitter"), "submitter")
    parse_time(entry.get("at"), "entry time 'at'")
    fields = {k: v for k, v in entry.items() if k not in _ENVELOPE}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise malformed(f"field {name!r} must be a string in a stored entry")
    _fields(str(entry.get("kind")), fields)
    return _ordered(entry)


def sign_entry(entry: Mapping[str, Any], key: SigningKey) -> str:
    """The submitter's compact JWS (``typ: ts-entry+jwt``) over the entry's canonical JSON.

    The key must belong to the entry's ``submitter`` (its ``kid`` is a DID URL of that DID)."""
    ordered = check_entry(entry)
    if not isinstance(key, SigningKey):
        raise malformed("entries are signed with a twinspace.identity.SigningKey")
    if did_of(key.kid) != ordered["submitter"]:
        raise malformed(f"key {key.kid!r} is not a key of the submitter {ordered['submitter']!r}")
    token = sign_jwt(ordered, key, typ=ENTRY_TYP)
    if b64url_decode(token.split(".")[1], "payload") != canonical_json(ordered):
        raise malformed("the JWS payload is not the canonical JSON")  # pragma: no cover
    return token


@dataclass(frozen=True)
class SignedEntry:
    """An entry as read from its JWS: who signed it (``kid``), what it says, its leaf."""

    kid: str
    entry: Mapping[str, Any]
    jws: str

    @property
    def kind(self) -> str:
        return str(self.entry["kind"])

    @property
    def submitter(self) -> str:
        return str(self.entry["submitter"])

    @property
    def leaf(self) -> bytes:
        return entry_leaf(self.jws)


def read_entry(entry_jws: object) -> SignedEntry:
    """Parse a signed entry *without* checking its signature (see :func:`verify_entry`): the
    JWS must carry ``typ: ts-entry+jwt``, a canonical payload, a valid entry, and a ``kid`` of
    the submitter's DID."""
    header, _ = peek(entry_jws, "entry")
    assert isinstance(entry_jws, str)
    if header.get("typ") != ENTRY_TYP:
        raise malformed(f"entry JWS has typ {header.get('typ')!r}, expected {ENTRY_TYP!r}")
    payload = b64url_decode(entry_jws.split(".")[1], "entry payload")
    entry = check_entry(parse_canonical(payload))
    kid = str(header["kid"])
    if did_of(kid) != entry["submitter"]:
        raise LedgerError(
            "unknown_key", f"entry signed with {kid!r}, not a key of {entry['submitter']!r}"
        )
    return SignedEntry(kid=kid, entry=entry, jws=entry_jws)


def verify_entry(entry_jws: object, key: object) -> SignedEntry:
    """:func:`read_entry`, then the submitter's signature with ``key`` (a ``SigningKey``,
    public key or JWK): ``signature`` / ``unknown_key`` when it is not the submitter's."""
    signed = read_entry(entry_jws)
    verify(signed.jws, key, typ=ENTRY_TYP, what="entry")
    return signed


def entry_leaf(entry_jws: str) -> bytes:
    """The log's leaf hash of a signed entry: ``leaf_hash`` of the compact JWS's ASCII bytes."""
    if not isinstance(entry_jws, str):
        raise malformed("a signed entry must be a compact JWS string")
    try:
        data = entry_jws.encode("ascii")
    except UnicodeEncodeError:
        raise malformed("a compact JWS is ASCII only") from None
    return leaf_hash(data)
