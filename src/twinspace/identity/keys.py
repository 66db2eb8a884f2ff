"""Keys (JWK) and compact JWS signing/verification on top of joserfc.

Supported: Ed25519 (RFC 8037 ``kty: OKP``; we emit ``alg: EdDSA`` and accept the fully-specified
``alg: Ed25519`` of RFC 9864 too) and P-256 (``kty: EC``, ``alg: ES256``, RFC 7518 §3.4). Every
other algorithm, ``none`` and HMAC included, is refused with code ``algorithm``.

A key id (``kid``) here is always the DID URL of the verification method (DCP 1.0 §4.3.1,
VC-JOSE-COSE §3.3.1), e.g. ``did:web:localhost%3A8101:city#key-1``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from joserfc import jws
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from .errors import IdentityError, malformed

KeyKind = Literal["Ed25519", "P-256"]
PublicKey = OKPKey | ECKey

#: JOSE algorithms accepted on verification, by key kind.
ACCEPTED_ALGS: Mapping[KeyKind, frozenset[str]] = {
    "Ed25519": frozenset({"EdDSA", "Ed25519"}),
    "P-256": frozenset({"ES256"}),
}
#: The algorithm we emit, by key kind.
EMITTED_ALG: Mapping[KeyKind, str] = {"Ed25519": "EdDSA", "P-256": "ES256"}
_ALL_ALGS = frozenset().union(*ACCEPTED_ALGS.values())


class _Registry(JWSRegistry):
    """Allows exactly our algorithms, without joserfc's per-call EdDSA deprecation warning
    (RFC 9864 deprecates the polymorphic name; DCP deployments still use it, so we emit it)."""

    def get_alg(self, name: str) -> Any:
        if name not in _ALL_ALGS:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


_REGISTRY = _Registry(algorithms=sorted(_ALL_ALGS))


@dataclass(frozen=True)
class SigningKey:
    """A private key with the DID URL it is published under."""

    kid: str
    key: PublicKey

    @property
    def kind(self) -> KeyKind:
        return key_kind(self.key)

    @property
    def alg(self) -> str:
        return EMITTED_ALG[self.kind]

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK (no ``d``), as published in ``publicKeyJwk``."""
        return export_public_jwk(self.key)

    def private_jwk(self) -> dict[str, Any]:
        """The private JWK with ``kid``, for storing the key in a secret store."""
        data = dict(self.key.as_dict(private=True))
        data["kid"] = self.kid
        return data


def key_kind(key: PublicKey) -> KeyKind:
    """``Ed25519`` or ``P-256``; anything else (Ed448, P-384, X25519...) is refused."""
    curve = key.curve_name
    if isinstance(key, OKPKey) and curve == "Ed25519":
        return "Ed25519"
    if isinstance(key, ECKey) and curve == "P-256":
        return "P-256"
    raise IdentityError("algorithm", f"unsupported key curve {curve!r}")


def generate_key(kid: str, kind: KeyKind = "Ed25519") -> SigningKey:
    """A fresh key pair published as ``kid``."""
    key: PublicKey = (
        OKPKey.generate_key("Ed25519") if kind == "Ed25519" else ECKey.generate_key("P-256")
    )
    return SigningKey(kid=kid, key=key)


def _import_jwk(data: object, *, private: bool) -> PublicKey:
    if not isinstance(data, Mapping):
        raise malformed("a JWK must be a JSON object")
    kty, crv = data.get("kty"), data.get("crv")
    if (kty, crv) not in {("OKP", "Ed25519"), ("EC", "P-256")}:
        raise IdentityError("algorithm", f"unsupported JWK kty={kty!r} crv={crv!r}")
    if private and "d" not in data:
        raise malformed("private JWK has no 'd'")
    if not private and "d" in data:
        raise malformed("a public JWK must not contain the private member 'd'")
    try:
        key: PublicKey = (
            OKPKey.import_key(dict(data)) if kty == "OKP" else ECKey.import_key(dict(data))
        )
    except (JoseError, ValueError, TypeError, binascii.Error) as exc:
        raise malformed(f"invalid JWK: {exc}") from None
    return key


def load_signing_key(data: Mapping[str, Any], kid: str | None = None) -> SigningKey:
    """Load a private JWK (as written by :meth:`SigningKey.private_jwk`)."""
    key_id = kid if kid is not None else data.get("kid")
    if not isinstance(key_id, str) or not key_id:
        raise malformed("private JWK has no 'kid' and none was given")
    return SigningKey(kid=key_id, key=_import_jwk(data, private=True))


def load_public_jwk(data: object) -> PublicKey:
    """Parse a ``publicKeyJwk``; refuses private material and unsupported curves."""
    return _import_jwk(data, private=False)


def export_public_jwk(key: PublicKey) -> dict[str, Any]:
    """``kty``, ``crv``, ``x`` (and ``y`` for EC) only."""
    return {k: v for k, v in key.as_dict(private=False).items() if k in {"kty", "crv", "x", "y"}}


def _b64decode(segment: str, what: str) -> bytes:
    if not segment or any(c in segment for c in "=+/"):
        raise malformed(f"{what} is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise malformed(f"{what} is not valid base64url") from None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise malformed(f"{what} is not a JSON object")
    return value


def peek_jwt(token: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unverified (header, claims) of a compact JWS (RFC 7515 §7.1), or ``malformed``.

    Only used to find out *who* signed and with which key; nothing is trusted before
    :func:`verify_jws` succeeds.
    """
    if not isinstance(token, str):
        raise malformed("a JWT must be a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise malformed("not a compact JWS (expected three dot-separated parts)")
    header = _json_object(_b64decode(parts[0], "JWS header"), "JWS header")
    claims = _json_object(_b64decode(parts[1], "JWS payload"), "JWS payload")
    _b64decode(parts[2], "JWS signature")
    if "crit" in header:
        raise malformed("JWS 'crit' header parameters are not supported")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ALL_ALGS:
        raise IdentityError("algorithm", f"JWS alg {alg!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise malformed("JWS header has no 'kid'")
    return header, claims


def sign_jwt(
    claims: Mapping[str, Any], key: SigningKey, *, typ: str, alg: str | None = None
) -> str:
    """Sign ``claims`` as a compact JWS with header ``{alg, kid, typ}``.

    ``alg`` defaults to the emitted name for the key (``EdDSA`` / ``ES256``); ``Ed25519`` may be
    asked for explicitly (RFC 9864 fully-specified name)."""
    chosen = alg or key.alg
    if chosen not in ACCEPTED_ALGS[key.kind]:
        raise IdentityError("algorithm", f"alg {chosen!r} does not match the key")
    header = {"alg": chosen, "kid": key.kid, "typ": typ}
    payload = json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False)
    return jws.serialize_compact(header, payload.encode(), key.key, registry=_REGISTRY)


def verify_jws(token: str, key: PublicKey, *, typs: Collection[str] | None = None) -> None:
    """Check the signature of ``token`` with ``key`` (RFC 7515 §5.2), refusing algorithm
    confusion: the header ``alg`` must be one accepted for the key's curve."""
    header, _ = peek_jwt(token)
    if typs is not None and header.get("typ") not in typs:
        raise malformed(f"JWS typ {header.get('typ')!r} is not one of {sorted(typs)}")
    if header["alg"] not in ACCEPTED_ALGS[key_kind(key)]:
        raise IdentityError("algorithm", f"alg {header['alg']!r} does not match the key")
    try:
        jws.deserialize_compact(token, key, registry=_REGISTRY)
    except JoseError as exc:
        if exc.error == "bad_signature":
            raise IdentityError("signature", "the signature does not verify") from None
        raise malformed(f"JWS refused: {exc}") from None
