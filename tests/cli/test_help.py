"""Every command answers --help, and the tree is what the README documents."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from twinspace.cli import app

COMMANDS = [
    [],
    ["serve"],
    ["asset"],
    ["asset", "create"],
    ["offer"],
    ["offer", "create"],
    ["catalog"],
    ["negotiate"],
    ["transfer"],
    ["status"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "twinspace")
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "Traceback" not in result.output


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    for name in ("serve", "asset", "offer", "catalog", "negotiate", "transfer", "status", "demo"):
        assert name in result.output


def test_global_options_documented_with_their_environment_variables() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert "--connector" in result.output
    assert "TWINSPACE_CONNECTOR_URL" in result.output
    assert "TWINSPACE_API_KEY" in result.output


def test_serve_options() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    for option in (
        "--name",
        "--port",
        "--host",
        "--database-url",
        "--data-dir",
        "--participant-id",
        "--api-key",
        "--public-url",
        "--twin-writers",
    ):
        assert option in result.output


def test_version() -> None:
    from twinspace import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_no_arguments_shows_help() -> None:
    result = CliRunner().invoke(app, [])
    assert "Usage:" in result.output
