"""The participant's own signing key (file-backed) and the DID document it serves."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import httpx
import pytest

from twinspace.app import create_app
from twinspace.identity import (
    CATALOG_SERVICE,
    CREDENTIAL_SERVICE,
    DATA_SERVICE,
    IdentityError,
    did_web_for,
    did_web_to_url,
    parse_did_document,
)
from twinspace.settings import Settings
from twinspace.trust.participant import KeyFileError, load_identity, load_or_create_key

API_KEY = "test-key"


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "name": "city",
        "host": "localhost",
        "port": 8101,
        "data_dir": tmp_path / "city",
        "api_key": API_KEY,
        "run_managers": False,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_did_is_derived_from_the_public_address_and_name(tmp_path: Path) -> None:
    assert settings_for(tmp_path).effective_did() == "did:web:localhost%3A8101:city"
    public = settings_for(tmp_path, public_url="https://city.example/")
    assert public.effective_did() == "did:web:city.example:city"
    configured = settings_for(tmp_path, did="did:web:id.example:c")
    assert configured.effective_did() == "did:web:id.example:c"
    assert did_web_for("http://h:1/base", "x") == "did:web:h%3A1:base:x"
    with pytest.raises(IdentityError):
        did_web_for("ftp://h", "x")


def test_key_file_defaults_into_the_data_dir(tmp_path: Path) -> None:
    assert settings_for(tmp_path).effective_key_file() == tmp_path / "city" / "city.key.json"
    other = tmp_path / "keys" / "k.json"
    assert settings_for(tmp_path, key_file=other).effective_key_file() == other


def test_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = load_identity(settings)
    path = settings.effective_key_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["kty"] == "OKP" and stored["crv"] == "Ed25519" and "d" in stored
    assert stored["kid"] == first.key.kid == "did:web:localhost%3A8101:city#key-1"
    again = load_identity(settings)  # a restart
    assert again.key.kid == first.key.kid
    assert again.key.public_jwk() == first.key.public_jwk()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"kty": "OKP", "crv": "Ed25519"}'])
def test_corrupt_key_file_is_a_clear_error_and_kept(tmp_path: Path, content: str) -> None:
    path = tmp_path / "city.key.json"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=re.escape(str(path))):
        load_or_create_key(path, "did:web:localhost%3A8101:city#key-1")
    assert path.read_text() == content  # never silently regenerated
    with pytest.raises(KeyFileError, match=re.escape("city.key.json")):
        create_app(settings_for(tmp_path, key_file=path))


async def test_served_document_lists_the_key_and_services(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    app = create_app(settings)
    did = "did:web:localhost%3A8101:city"
    url = did_web_to_url(did, allow_http=True)
    assert url == "http://localhost:8101/city/did.json"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/did+json")
    data = response.json()
    assert data["id"] == did
    doc = parse_did_document(data, expected_did=did)
    kid = f"{did}#key-1"
    assert set(doc.methods) == {kid}
    assert (
        doc.methods[kid].key.as_dict(private=False)["x"] == app.state.identity.key.public_jwk()["x"]
    )
    assert kid in doc.relationships["authentication"]
    assert kid in doc.relationships["assertionMethod"]
    endpoints = {s.type: s.endpoint for s in doc.services}
    assert endpoints == {
        CATALOG_SERVICE: "http://localhost:8101/dsp/catalog",
        DATA_SERVICE: "http://localhost:8101/.well-known/dspace-version",
        CREDENTIAL_SERVICE: "http://localhost:8101/city/credentials",
    }
    # a restart serves the same key
    again = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=again)) as client:
        assert (await client.get(url)).json() == data


async def test_configured_did_and_public_url_path_are_served(tmp_path: Path) -> None:
    did = "did:web:id.example:org:city"
    app = create_app(settings_for(tmp_path, did=did, public_url="https://id.example/org"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.get("/city/did.json")  # the proxy strips /org
    assert response.status_code == 200
    assert parse_did_document(response.json(), expected_did=did).id == did
