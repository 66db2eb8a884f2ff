"""User errors end with one clear message and exit code 1, never a Python traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from twinspace.cli import app, commands
from twinspace.cli.client import ManagementClient

Handler = Callable[[httpx.Request], httpx.Response]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), terminal_width=200)


def assert_user_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in result.output, result.output


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Handler]]:
    """Commands talk to a fake management API; tests append the handler it answers with."""
    handlers: list[Handler] = []

    def handle(request: httpx.Request) -> httpx.Response:
        return handlers[-1](request)

    def connect(ctx: typer.Context) -> ManagementClient:
        target: commands.Target = ctx.obj
        return ManagementClient(
            target.connector, target.api_key, transport=httpx.MockTransport(handle)
        )

    monkeypatch.setattr(commands, "connect", connect)
    yield handlers


@pytest.mark.parametrize(
    "command",
    [
        ["catalog", "http://127.0.0.1:1/dsp"],
        ["negotiate", "http://127.0.0.1:1/dsp", "traffic-counts"],
        ["transfer", "http://127.0.0.1:1/dsp", "agreement-1"],
        ["status"],
        ["offer", "create", "traffic-counts"],
    ],
    ids=lambda c: c[0],
)
def test_connection_refused(closed_port: int, command: list[str]) -> None:
    result = invoke("--connector", f"http://127.0.0.1:{closed_port}", *command)
    assert_user_error(result, "cannot reach the connector", str(closed_port), "twinspace serve")


def test_connector_url_from_the_environment(closed_port: int) -> None:
    result = CliRunner().invoke(
        app, ["status"], env={"TWINSPACE_CONNECTOR_URL": f"http://127.0.0.1:{closed_port}"}
    )
    assert_user_error(result, f"127.0.0.1:{closed_port}")


def test_connector_url_must_be_http() -> None:
    assert_user_error(invoke("--connector", "localhost:8181", "status"), "not an http(s) URL")


def test_wrong_api_key(connector: list[Handler]) -> None:
    connector.append(lambda r: httpx.Response(401, json=[{"message": "bad key"}]))
    assert_user_error(invoke("--api-key", "nope", "status"), "refused the API key", "--api-key")


def test_api_key_is_sent(connector: list[Handler]) -> None:
    seen: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-api-key"))
        return httpx.Response(200, json=[])

    connector.append(handle)
    result = CliRunner().invoke(app, ["status"], env={"TWINSPACE_API_KEY": "from-env"})
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {"from-env"}


def test_edc_error_list_is_shown(connector: list[Handler]) -> None:
    connector.append(
        lambda r: httpx.Response(
            400,
            json=[
                {"message": "asset traffic-counts already exists", "type": "ObjectConflict"},
                {"message": "second problem", "type": "InvalidRequest", "path": "properties"},
            ],
        )
    )
    result = invoke("offer", "create", "traffic-counts")
    assert_user_error(
        result, "HTTP 400", "asset traffic-counts already exists", "second problem (properties)"
    )


def test_non_json_error_body(connector: list[Handler]) -> None:
    connector.append(lambda r: httpx.Response(502, text="Bad Gateway from the proxy"))
    assert_user_error(invoke("status"), "HTTP 502", "Bad Gateway from the proxy")


def test_asset_needs_exactly_one_source(tmp_path: Path) -> None:
    assert_user_error(invoke("asset", "create", "a1"), "exactly one of --file or --url")
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    assert_user_error(
        invoke("asset", "create", "a1", "--file", str(data), "--url", "http://x/"),
        "exactly one of",
    )


def test_asset_file_must_exist(tmp_path: Path) -> None:
    assert_user_error(
        invoke("asset", "create", "a1", "--file", str(tmp_path / "missing.csv")),
        "not a readable file",
    )


def test_asset_property_syntax(connector: list[Handler], tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    connector.append(lambda r: httpx.Response(200, json={"@id": "a1"}))
    result = invoke("asset", "create", "a1", "--file", str(data), "--property", "novalue")
    assert_user_error(result, "KEY=VALUE")


def test_asset_create_sends_edc_shape(connector: list[Handler], tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    bodies: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append((request.method, request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"@id": "a1"})

    connector.append(handle)
    result = invoke(
        "asset", "create", "a1", "--file", str(data), "--name", "Counts", "--property", "k=v"
    )
    assert result.exit_code == 0, result.output
    method, path, body = bodies[0]
    assert (method, path) == ("POST", "/management/v3/assets")
    assert body["@id"] == "a1"
    assert body["properties"] == {"name": "Counts", "k": "v"}
    assert body["dataAddress"] == {"type": "File", "path": str(data.resolve())}


def test_policy_file_must_be_json(tmp_path: Path) -> None:
    bad = tmp_path / "policy.json"
    bad.write_text("{not json")
    assert_user_error(
        invoke("offer", "create", "a1", "--policy-file", str(bad)), "cannot read the policy"
    )


def test_transfer_type_is_checked() -> None:
    result = invoke("transfer", "http://p/dsp", "agr", "--type", "S3-PUSH")
    assert_user_error(result, "--type must be HttpData-PULL or HttpData-PUSH")


CATALOG = {
    "@type": "Catalog",
    "participantId": "urn:twinspace:provider",
    "dataset": [
        {
            "@id": "traffic-counts",
            "hasPolicy": [{"@id": "offer-1", "@type": "Offer", "permission": [{"action": "use"}]}],
        }
    ],
}


def test_unknown_dataset(connector: list[Handler]) -> None:
    connector.append(lambda r: httpx.Response(200, json=CATALOG))
    result = invoke("negotiate", "http://p/dsp", "noise")
    assert_user_error(result, "no dataset 'noise'", "traffic-counts")


def test_unknown_offer(connector: list[Handler]) -> None:
    connector.append(lambda r: httpx.Response(200, json=CATALOG))
    result = invoke("negotiate", "http://p/dsp", "traffic-counts", "--offer-id", "offer-9")
    assert_user_error(result, "has an offer 'offer-9'")


def test_terminated_negotiation_prints_error_detail(connector: list[Handler]) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/management/v3")
        if path == "/catalog/request":
            return httpx.Response(200, json=CATALOG)
        if path == "/contractnegotiations":
            sent = json.loads(request.content)
            assert sent["policy"]["target"] == "traffic-counts"
            assert sent["counterPartyId"] == "urn:twinspace:provider"
            return httpx.Response(200, json={"@id": "n1"})
        return httpx.Response(
            200, json={"@id": "n1", "state": "TERMINATED", "errorDetail": "purpose not allowed"}
        )

    connector.append(handle)
    result = invoke("negotiate", "http://p/dsp", "traffic-counts")
    assert_user_error(result, "TERMINATED", "purpose not allowed")


def test_finalized_negotiation_prints_agreement(connector: list[Handler]) -> None:
    states = iter(["REQUESTED", "AGREED", "VERIFIED", "FINALIZED"])

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/management/v3")
        if path == "/catalog/request":
            return httpx.Response(200, json=CATALOG)
        if path == "/contractnegotiations":
            return httpx.Response(200, json={"@id": "n1"})
        state = next(states)
        body = {"@id": "n1", "state": state}
        if state == "FINALIZED":
            body["contractAgreementId"] = "agreement-42"
        return httpx.Response(200, json=body)

    connector.append(handle)
    result = invoke("negotiate", "http://p/dsp", "traffic-counts")
    assert result.exit_code == 0, result.output
    assert "agreement-42" in result.output
    assert "FINALIZED" in result.output


def test_audit_without_a_transparency_log_says_so(connector: list[Handler]) -> None:
    connector.append(
        lambda request: httpx.Response(
            409,
            json=[{"message": "no transparency log is configured", "type": "NotSupported"}],
        )
    )
    assert_user_error(invoke("audit"), "no transparency log is configured")


def test_trail_of_an_agreement_nothing_was_logged_about(connector: list[Handler]) -> None:
    connector.append(
        lambda request: httpx.Response(
            200,
            json={
                "agreementId": "a-1",
                "checkpoint": {"size": 3, "root": "ab" * 32},
                "entries": [],
            },
        )
    )
    assert_user_error(invoke("trail", "a-1"), "holds nothing about this agreement")


def test_trail_lists_verified_entries(connector: list[Handler]) -> None:
    entry = {"index": 4, "kind": "transfer", "submitter": "did:web:x.test:city",
             "entry": {"state": "STARTED"}, "proofVerified": True}  # fmt: skip
    connector.append(
        lambda request: httpx.Response(
            200,
            json={
                "agreementId": "a-1",
                "checkpoint": {"size": 9, "root": "ab" * 32},
                "entries": [entry],
            },
        )
    )
    result = invoke("trail", "a-1")
    assert result.exit_code == 0, result.output
    assert "#4" in result.output and "STARTED" in result.output
    assert "inclusion proof verified" in result.output
