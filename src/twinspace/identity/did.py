"""did:web identifiers and DID documents: URL mapping, builder, validating parser, key lookup.

Specs: did:web method (w3c-ccg, §3.1 create, §3.2 read), DID Core 1.0 (§3.2 DID URL, §5.2
verification methods, §5.3 relationships, §5.4 services), Controlled Identifiers 1.0 §2.2.1
(the optional ``expires`` dateTimeStamp of a verification method, which we use as the key's
cut-over time for rotation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from ._time import format_datetime, parse_datetime
from .errors import IdentityError, malformed
from .keys import PublicKey, SigningKey, load_public_jwk

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
JWK_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1"
#: Verification method types whose key is a ``publicKeyJwk``.
JWK_METHOD_TYPES = frozenset({"JsonWebKey2020", "JsonWebKey"})
CREDENTIAL_SERVICE = "CredentialService"
CATALOG_SERVICE = "CatalogService"
DATA_SERVICE = "DataService"

Purpose = Literal["authentication", "assertionMethod"]
PURPOSES: tuple[Purpose, ...] = ("authentication", "assertionMethod")

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*(:(?P<port>[0-9]{{1,5}}))?$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


def _check_host(host: str, did: str) -> None:
    match = _HOST.match(host)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        raise malformed(f"{did!r}: {host!r} is not a host name with an optional port")


def _check_segments(segments: Sequence[str], where: str) -> None:
    for segment in segments:
        if not _SEGMENT.match(segment) or segment in {".", ".."}:
            raise malformed(f"{where}: bad path segment {segment!r}")


def did_web_to_url(did: str, *, allow_http: bool = False) -> str:
    """The URL of the DID document (did:web §3.2): ``did:web:host%3Aport:a:b`` ->
    ``https://host:port/a/b/did.json``; no path -> ``/.well-known/did.json``.

    ``allow_http`` (development only) gives ``http://`` instead of ``https://``.
    """
    if not isinstance(did, str) or not did.startswith("did:web:"):
        raise malformed(f"{did!r} is not a did:web DID")
    if any(c in did for c in "#?/"):
        raise malformed(f"{did!r}: a DID (not a DID URL) has no path, query or fragment")
    host, *segments = did[len("did:web:") :].split(":")
    host = re.sub("%3[aA]", ":", host)
    if "%" in host:
        raise malformed(f"{did!r}: only the port separator may be percent-encoded")
    _check_host(host, did)
    _check_segments(segments, repr(did))
    scheme = "http" if allow_http else "https"
    path = "/".join(segments) + "/did.json" if segments else ".well-known/did.json"
    return f"{scheme}://{host}/{path}"


def url_to_did_web(url: str, *, allow_http: bool = False) -> str:
    """The inverse of :func:`did_web_to_url` for a URL ending in ``did.json``."""
    parts = urlsplit(url)
    allowed = {"https", "http"} if allow_http else {"https"}
    if parts.scheme not in allowed:
        raise malformed(f"{url!r}: scheme must be one of {sorted(allowed)}")
    if parts.query or parts.fragment or "@" in parts.netloc or not parts.hostname:
        raise malformed(f"{url!r}: no user info, query or fragment allowed")
    host = parts.netloc
    _check_host(host, url)
    if parts.path == "/.well-known/did.json":
        segments: list[str] = []
    elif parts.path.endswith("/did.json") and len(parts.path) > len("/did.json"):
        segments = parts.path[1 : -len("/did.json")].split("/")
        _check_segments(segments, repr(url))
    else:
        raise malformed(f"{url!r}: path must be /.well-known/did.json or end in /did.json")
    return ":".join(["did:web", host.replace(":", "%3A"), *segments])


def did_web_for(base_url: str, *segments: str) -> str:
    """The path-based did:web DID of a participant reached at ``base_url``:
    ``("http://localhost:8101", "city")`` -> ``did:web:localhost%3A8101:city`` (the base URL's
    own path, if any, comes before ``segments``). http and https are both accepted: the scheme
    is not part of a did:web DID."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"}:
        raise malformed(f"{base_url!r}: scheme must be http or https")
    path = "/".join([parts.path.strip("/"), *segments]).strip("/")
    if not path:
        return url_to_did_web(f"https://{parts.netloc}/.well-known/did.json")
    return url_to_did_web(f"https://{parts.netloc}/{path}/did.json")


def split_did_url(did_url: object) -> tuple[str, str]:
    """``did:web:x#key-1`` -> (``did:web:x``, ``key-1``); both parts must be non-empty."""
    if not isinstance(did_url, str) or not did_url.startswith("did:"):
        raise malformed(f"{did_url!r} is not a DID URL")
    did, sep, fragment = did_url.partition("#")
    if not sep or not fragment or len(did.split(":")) < 3 or any(c in did for c in "?/ "):
        raise malformed(f"{did_url!r} is not a DID URL with a fragment")
    return did, fragment


@dataclass(frozen=True)
class VerificationMethod:
    """A ``JsonWebKey2020`` / ``JsonWebKey`` verification method (DID Core §5.2)."""

    id: str
    controller: str
    key: PublicKey
    type: str = "JsonWebKey2020"
    expires: datetime | None = None


@dataclass(frozen=True)
class Service:
    """A service endpoint (DID Core §5.4), e.g. ``CredentialService`` (DCP 1.0 §5.1)."""

    id: str
    type: str
    endpoint: str


@dataclass(frozen=True)
class DidDocument:
    id: str
    methods: Mapping[str, VerificationMethod]
    relationships: Mapping[str, frozenset[str]]
    services: tuple[Service, ...] = field(default=())

    def service(self, type_: str) -> Service | None:
        """The first service of that type, if any."""
        return next((s for s in self.services if s.type == type_), None)

    def find_key(
        self,
        kid: str,
        *,
        purpose: Purpose,
        at: datetime,
        retired: Mapping[str, datetime] | None = None,
    ) -> PublicKey:
        """The key ``kid`` if this DID authorises it for ``purpose`` at time ``at``.

        Refusals: ``unknown_key`` when the kid is not one of this document's verification
        methods or not listed under ``purpose`` (DID Core §5.3); ``key_retired`` when ``at`` is
        at or past the method's cut-over: the earlier of its ``expires`` (CID 1.0 §2.2.1) and
        ``retired[kid]`` (local configuration of keys known to be rotated out).
        """
        did, _ = split_did_url(kid)
        method = self.methods.get(kid)
        if did != self.id or method is None:
            raise IdentityError("unknown_key", f"{kid!r} is not a verification method of {self.id}")
        if kid not in self.relationships.get(purpose, frozenset()):
            raise IdentityError("unknown_key", f"{kid!r} is not authorised for {purpose}")
        cutovers = [t for t in (method.expires, (retired or {}).get(kid)) if t is not None]
        if cutovers and at >= min(cutovers):
            raise IdentityError("key_retired", f"{kid!r} was retired at {min(cutovers)}")
        return method.key


def build_did_document(
    did: str,
    keys: Sequence[SigningKey],
    services: Mapping[str, str] | None = None,
    *,
    expires: Mapping[str, datetime] | None = None,
) -> dict[str, Any]:
    """A DID document listing ``keys`` (public parts only) as ``JsonWebKey2020`` methods used
    for both ``authentication`` and ``assertionMethod``, and one service per ``{type: url}``.

    ``expires`` maps a kid to its cut-over time (during a rotation both keys are listed).
    """
    methods = []
    for key in keys:
        if split_did_url(key.kid)[0] != did:
            raise malformed(f"key {key.kid!r} is not a DID URL of {did}")
        method: dict[str, Any] = {
            "id": key.kid,
            "type": "JsonWebKey2020",
            "controller": did,
            "publicKeyJwk": key.public_jwk(),
        }
        if expires and key.kid in expires:
            method["expires"] = format_datetime(expires[key.kid])
        methods.append(method)
    kids = [key.kid for key in keys]
    return {
        "@context": [DID_CONTEXT, JWK_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "authentication": list(kids),
        "assertionMethod": list(kids),
        "service": [
            {"id": f"{did}#{type_[0].lower()}{type_[1:]}", "type": type_, "serviceEndpoint": url}
            for type_, url in (services or {}).items()
        ],
    }


def _absolute(ref: object, did: str, where: str) -> str:
    if not isinstance(ref, str) or not ref:
        raise malformed(f"{where}: id must be a non-empty string")
    return did + ref if ref.startswith("#") else ref


def _parse_method(raw: object, did: str, where: str) -> VerificationMethod | None:
    if not isinstance(raw, Mapping):
        raise malformed(f"{where}: a verification method must be an object")
    method_id = _absolute(raw.get("id"), did, where)
    if split_did_url(method_id)[0] != did:
        raise malformed(f"{where}: {method_id!r} is not a DID URL of {did}")
    if raw.get("type") not in JWK_METHOD_TYPES:
        return None  # other key formats (Multikey...) are not ours to use; lookups miss them
    controller = raw.get("controller")
    if not isinstance(controller, str) or not controller.startswith("did:"):
        raise malformed(f"{where}: 'controller' must be a DID")
    expires = raw.get("expires")
    return VerificationMethod(
        id=method_id,
        controller=controller,
        key=load_public_jwk(raw.get("publicKeyJwk")),
        type=str(raw["type"]),
        expires=None if expires is None else parse_datetime(expires, f"{where}.expires"),
    )


def parse_did_document(data: object, *, expected_did: str) -> DidDocument:
    """Validate a fetched DID document; its ``id`` must equal the DID that was resolved
    (did:web §3.2 step 5). Errors are ``malformed`` with the JSON path that is wrong."""
    if not isinstance(data, Mapping):
        raise malformed("a DID document must be a JSON object")
    if data.get("id") != expected_did:
        raise malformed(f"DID document id {data.get('id')!r} is not {expected_did!r}")
    context = data.get("@context")
    if context is not None:
        contexts = context if isinstance(context, list) else [context]
        if not contexts or contexts[0] != DID_CONTEXT:
            raise malformed(f"DID document @context must start with {DID_CONTEXT}")
    methods: dict[str, VerificationMethod] = {}
    ids: set[str] = set()

    def add(raw: object, where: str) -> str:
        method = _parse_method(raw, expected_did, where)
        method_id = _absolute(
            raw.get("id") if isinstance(raw, Mapping) else None, expected_did, where
        )
        if method_id in ids:
            raise malformed(f"{where}: duplicate verification method id {method_id!r}")
        ids.add(method_id)
        if method is not None:
            methods[method_id] = method
        return method_id

    for i, raw in enumerate(_list(data, "verificationMethod")):
        add(raw, f"verificationMethod[{i}]")
    relationships: dict[str, frozenset[str]] = {}
    for purpose in PURPOSES:
        refs = set()
        for i, ref in enumerate(_list(data, purpose)):
            where = f"{purpose}[{i}]"
            refs.add(
                add(ref, where) if isinstance(ref, Mapping) else _absolute(ref, expected_did, where)
            )
        relationships[purpose] = frozenset(refs)
    services = []
    for i, raw in enumerate(_list(data, "service")):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
            raise malformed(f"service[{i}] must be an object with a string 'type'")
        endpoint = raw.get("serviceEndpoint")
        if isinstance(endpoint, str):
            services.append(
                Service(
                    _absolute(raw.get("id"), expected_did, f"service[{i}]"), raw["type"], endpoint
                )
            )
    return DidDocument(expected_did, methods, relationships, tuple(services))


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise malformed(f"DID document {name!r} must be a list")
    return value
