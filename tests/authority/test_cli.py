"""``twinspace authority``: the admin commands against the app in process, and their errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from twinspace.authority import create_authority_app
from twinspace.authority.client import AuthorityClient
from twinspace.cli import app
from twinspace.cli import authority as cli
from twinspace.clock import ManualClock
from twinspace.store import Store

from .conftest import API_KEY, authority_settings

URL = "https://authority.test/authority"
CITY = "did:web:127.0.0.1%3A8101:city"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), terminal_width=200, env=env)


def assert_user_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in result.output, result.output


@pytest.fixture
def authority(
    store: Store, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The commands talk to an authority app in this process."""
    application = create_authority_app(authority_settings(tmp_path), store=store, clock=clock)

    def connect(url: str, api_key: str | None) -> AuthorityClient:
        return AuthorityClient(url, api_key, transport=httpx.ASGITransport(app=application))

    monkeypatch.setattr(cli, "connect", connect)
    yield


def onboard(*extra: str) -> Result:
    return invoke(
        "authority",
        "onboard",
        CITY,
        "--legal-name",
        "City of Example",
        "--registration-number",
        "HRB 1",
        "--country",
        "DE",
        "--role",
        "provider",
        "--role",
        "consumer",
        "--url",
        URL,
        "--api-key",
        API_KEY,
        *extra,
    )


def test_manage_members(authority: None) -> None:
    result = onboard()
    assert result.exit_code == 0, result.output
    assert "onboarded" in result.output and CITY in result.output and "active" in result.output
    assert_user_error(onboard(), "HTTP 409", "already onboarded")
    result = invoke("authority", "members", "--url", URL, "--api-key", API_KEY)
    assert result.exit_code == 0, result.output
    assert CITY in result.output and "City of Example" in result.output
    assert "provider, consumer" in result.output
    admin = ("--url", URL, "--api-key", API_KEY)
    result = invoke("authority", "suspend", CITY, "--reason", "audit", *admin)
    assert result.exit_code == 0 and "suspended" in result.output and "audit" in result.output
    assert invoke("authority", "reinstate", CITY, *admin).exit_code == 0
    result = invoke("authority", "revoke", CITY, "--reason", "left", *admin)
    assert result.exit_code == 0 and "revoked" in result.output
    assert_user_error(invoke("authority", "reinstate", CITY, *admin), "HTTP 409", "final")
    assert_user_error(
        invoke("authority", "suspend", "did:web:nobody.test", *admin), "HTTP 404", "not onboarded"
    )


def test_the_api_key_comes_from_the_environment(authority: None) -> None:
    result = invoke("authority", "members", "--url", URL, env={"TWINSPACE_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    assert "no members yet" in result.output
    result = invoke("--api-key", API_KEY, "authority", "members", "--url", URL)
    assert result.exit_code == 0, result.output


def test_refusals_are_one_line(authority: None) -> None:
    assert_user_error(onboard("--country", "Germany"), "HTTP 400", "ISO 3166-1")
    result = invoke("authority", "members", "--url", URL, "--api-key", "wrong")
    assert_user_error(result, "refused the API key", "TWINSPACE_API_KEY")
    result = invoke("authority", "members", "--url", URL, env={"TWINSPACE_API_KEY": ""})
    assert_user_error(result, "refused the API key")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "command",
    [
        ["members"],
        ["revoke", CITY],
        ["suspend", CITY],
        ["reinstate", CITY],
        ["onboard", CITY, "--legal-name", "x", "--registration-number", "1", "--country", "DE"],
    ],
    ids=lambda c: c[0],
)
def test_unreachable_authority(closed_port: int, command: list[str]) -> None:
    url = f"http://127.0.0.1:{closed_port}/authority"
    result = invoke("authority", *command, "--url", url, "--api-key", "k")
    assert_user_error(result, "cannot reach the authority", str(closed_port), "authority serve")


def test_argument_errors() -> None:
    result = invoke("authority", "onboard", CITY, "--legal-name", "x")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "registration-number" in result.output
    assert_user_error(invoke("authority", "members", "--url", "ftp://x"), "not an http(s) URL")


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["onboard"], ["members"], ["revoke"], ["suspend"], ["reinstate"]]
)
def test_help(command: list[str]) -> None:
    result = invoke("authority", *command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output, result.output


def test_serve_options() -> None:
    result = invoke("authority", "serve", "--help")
    for option in (
        "--name",
        "--port",
        "--host",
        "--data-dir",
        "--public-url",
        "--allow-http-did",
        "--api-key",
        "--database-url",
        "8100",
    ):
        assert option in result.output


def test_serve_errors_before_listening(tmp_path: Path) -> None:
    result = invoke(
        "authority", "serve", "--public-url", "ftp://authority.example", "--data-dir", str(tmp_path)
    )
    assert_user_error(result, "invalid settings")
    (tmp_path / "authority.key.json").write_text("not a key")
    result = invoke("authority", "serve", "--data-dir", str(tmp_path), "--api-key", "k")
    assert_user_error(result, "cannot start the authority", "authority.key.json")
