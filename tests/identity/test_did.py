from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from twinspace.identity import (
    CATALOG_SERVICE,
    CREDENTIAL_SERVICE,
    DATA_SERVICE,
    IdentityError,
    InMemoryDidResolver,
    build_did_document,
    did_web_to_url,
    generate_key,
    parse_did_document,
    split_did_url,
    url_to_did_web,
)

from .conftest import CITY, START, services

MAPPING = [
    ("did:web:example.com", "https://example.com/.well-known/did.json"),
    ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
    ("did:web:localhost%3A8101:city", "https://localhost:8101/city/did.json"),
    ("did:web:localhost%3a8101", "https://localhost:8101/.well-known/did.json"),
    ("did:web:a.example:x:y_z:v1.2", "https://a.example/x/y_z/v1.2/did.json"),
]


@pytest.mark.parametrize(("did", "url"), MAPPING)
def test_did_web_to_url(did: str, url: str) -> None:
    assert did_web_to_url(did) == url


@pytest.mark.parametrize(("did", "url"), [m for m in MAPPING if "%3a" not in m[0]])
def test_url_to_did_web_is_the_inverse(did: str, url: str) -> None:
    assert url_to_did_web(url) == did


def test_plain_http_only_with_the_development_flag() -> None:
    assert did_web_to_url(CITY, allow_http=True) == "http://localhost:8101/city/did.json"
    assert url_to_did_web("http://localhost:8101/city/did.json", allow_http=True) == CITY
    with pytest.raises(IdentityError):
        url_to_did_web("http://localhost:8101/city/did.json")


@pytest.mark.parametrize(
    "did",
    [
        "did:key:z6Mk",
        "did:web:",
        "did:web:exa mple.com",
        "did:web:example.com::a",
        "did:web:example.com:..",
        "did:web:example.com:a/b",
        "did:web:example.com#key-1",
        "did:web:example.com?x=1",
        "did:web:-bad.com",
        "did:web:example.com%3A99999",
        "did:web:example.com%3Aport",
        "did:web:example.com%2Fevil",
        "did:web:user%40example.com",
    ],
)
def test_malformed_did_web(did: str) -> None:
    with pytest.raises(IdentityError) as err:
        did_web_to_url(did)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/did.json",
        "https://example.com/",
        "https://example.com/did.json",
        "https://example.com/a/did.json?x=1",
        "https://user@example.com/a/did.json",
        "https://example.com/a/../did.json",
        "https://example.com/a//did.json",
    ],
)
def test_malformed_did_urls_to_did_web(url: str) -> None:
    with pytest.raises(IdentityError) as err:
        url_to_did_web(url)
    assert err.value.code == "malformed"


@pytest.mark.parametrize("value", ["did:web:x", "#k", "did:web:x#", "k1", 3, "did:web#k"])
def test_split_did_url_refuses_non_did_urls(value: object) -> None:
    with pytest.raises(IdentityError):
        split_did_url(value)


def city_doc() -> tuple[dict[str, Any], Any]:
    key = generate_key(f"{CITY}#key-1")
    return build_did_document(CITY, [key], services(CITY, 8101, "city")), key


def test_build_and_parse_round_trip() -> None:
    data, key = city_doc()
    doc = parse_did_document(data, expected_did=CITY)
    assert doc.id == CITY
    assert set(doc.methods) == {key.kid}
    assert doc.relationships["authentication"] == {key.kid}
    assert doc.relationships["assertionMethod"] == {key.kid}
    for type_ in (CREDENTIAL_SERVICE, CATALOG_SERVICE, DATA_SERVICE):
        service = doc.service(type_)
        assert service is not None and service.endpoint.startswith("https://localhost:8101/city")
    assert doc.find_key(key.kid, purpose="authentication", at=START).as_dict() == key.key.as_dict(
        private=False
    )
    assert all("d" not in m["publicKeyJwk"] for m in data["verificationMethod"])


def test_relative_ids_and_embedded_methods_are_understood() -> None:
    data, key = city_doc()
    method = data["verificationMethod"][0]
    data["verificationMethod"] = []
    data["authentication"] = [dict(method, id="#key-1")]
    data["assertionMethod"] = ["#key-1"]
    doc = parse_did_document(data, expected_did=CITY)
    assert doc.find_key(key.kid, purpose="assertionMethod", at=START) is not None


def test_other_method_types_are_skipped_not_fatal() -> None:
    data, _ = city_doc()
    data["verificationMethod"].append(
        {"id": f"{CITY}#mk", "type": "Multikey", "controller": CITY, "publicKeyMultibase": "z6"}
    )
    data["authentication"].append(f"{CITY}#mk")
    doc = parse_did_document(data, expected_did=CITY)
    with pytest.raises(IdentityError) as err:
        doc.find_key(f"{CITY}#mk", purpose="authentication", at=START)
    assert err.value.code == "unknown_key"


def _mutations() -> list[tuple[str, Any]]:
    def drop_id(d: dict[str, Any]) -> None:
        del d["id"]

    def other_id(d: dict[str, Any]) -> None:
        d["id"] = "did:web:evil.example"

    def bad_context(d: dict[str, Any]) -> None:
        d["@context"] = ["https://example.org/other"]

    def methods_not_list(d: dict[str, Any]) -> None:
        d["verificationMethod"] = {"id": "x"}

    def method_not_object(d: dict[str, Any]) -> None:
        d["verificationMethod"] = ["x"]

    def foreign_method(d: dict[str, Any]) -> None:
        d["verificationMethod"][0]["id"] = "did:web:evil.example#key-1"

    def duplicate(d: dict[str, Any]) -> None:
        d["verificationMethod"].append(copy.deepcopy(d["verificationMethod"][0]))

    def no_jwk(d: dict[str, Any]) -> None:
        del d["verificationMethod"][0]["publicKeyJwk"]

    def bad_jwk(d: dict[str, Any]) -> None:
        d["verificationMethod"][0]["publicKeyJwk"]["x"] = "!!"

    def bad_controller(d: dict[str, Any]) -> None:
        d["verificationMethod"][0]["controller"] = 5

    def bad_expires(d: dict[str, Any]) -> None:
        d["verificationMethod"][0]["expires"] = "tomorrow"

    def naive_expires(d: dict[str, Any]) -> None:
        d["verificationMethod"][0]["expires"] = "2026-01-01T00:00:00"

    def bad_service(d: dict[str, Any]) -> None:
        d["service"] = [{"id": "#s"}]

    def bad_ref(d: dict[str, Any]) -> None:
        d["authentication"] = [7]

    return [(f.__name__, f) for f in (drop_id, other_id, bad_context, methods_not_list,
            method_not_object, foreign_method, duplicate, no_jwk, bad_jwk, bad_controller,
            bad_expires, naive_expires, bad_service, bad_ref)]  # fmt: skip


@pytest.mark.parametrize(("name", "mutate"), _mutations())
def test_malformed_did_documents(name: str, mutate: Any) -> None:
    data, _ = city_doc()
    mutate(data)
    with pytest.raises(IdentityError) as err:
        parse_did_document(data, expected_did=CITY)
    assert err.value.code == "malformed", name


@pytest.mark.parametrize("data", [None, [], "did", 1])
def test_did_document_not_an_object(data: object) -> None:
    with pytest.raises(IdentityError) as err:
        parse_did_document(data, expected_did=CITY)
    assert err.value.code == "malformed"


def test_key_missing_from_document_or_purpose_is_unknown() -> None:
    data, key = city_doc()
    doc = parse_did_document(data, expected_did=CITY)
    for kid in (f"{CITY}#key-2", "did:web:evil.example#key-1"):
        with pytest.raises(IdentityError) as err:
            doc.find_key(kid, purpose="authentication", at=START)
        assert err.value.code == "unknown_key"
    data["assertionMethod"] = []
    doc = parse_did_document(data, expected_did=CITY)
    with pytest.raises(IdentityError) as err:
        doc.find_key(key.kid, purpose="assertionMethod", at=START)
    assert err.value.code == "unknown_key"


def test_rotation_old_key_until_cut_over_from_document() -> None:
    old, new = generate_key(f"{CITY}#key-1"), generate_key(f"{CITY}#key-2")
    cutover = START + timedelta(days=7)
    data = build_did_document(CITY, [old, new], expires={old.kid: cutover})
    assert data["verificationMethod"][0]["expires"] == "2026-01-08T00:00:00Z"
    doc = parse_did_document(data, expected_did=CITY)
    doc.find_key(old.kid, purpose="authentication", at=cutover - timedelta(seconds=1))
    doc.find_key(new.kid, purpose="authentication", at=cutover + timedelta(days=1))
    with pytest.raises(IdentityError) as err:
        doc.find_key(old.kid, purpose="authentication", at=cutover)
    assert err.value.code == "key_retired"


def test_rotation_cut_over_from_local_configuration() -> None:
    data, key = city_doc()
    doc = parse_did_document(data, expected_did=CITY)
    retired = {key.kid: START}
    doc.find_key(key.kid, purpose="authentication", at=START - timedelta(1), retired=retired)
    with pytest.raises(IdentityError) as err:
        doc.find_key(key.kid, purpose="authentication", at=START, retired=retired)
    assert err.value.code == "key_retired"


def test_builder_refuses_keys_of_another_did() -> None:
    with pytest.raises(IdentityError):
        build_did_document(CITY, [generate_key("did:web:evil.example#k")])


def test_resolver_unknown_did_is_unresolved() -> None:
    with pytest.raises(IdentityError) as err:
        InMemoryDidResolver().resolve(CITY)
    assert err.value.code == "unresolved"
