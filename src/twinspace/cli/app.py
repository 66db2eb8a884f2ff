"""The ``twinspace`` command tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinspace import __version__
from twinspace.cli import commands
from twinspace.cli.audit import audit_command, trail_command
from twinspace.cli.authority import authority_app
from twinspace.cli.client import DEFAULT_CONNECTOR
from twinspace.cli.console import console
from twinspace.cli.serve import serve

app = typer.Typer(
    name="twinspace",
    help="twinspace: a data space for federated local digital twins (DSP 2025-1 connector).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        console.print(f"twinspace {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    connector: Annotated[
        str,
        typer.Option(
            envvar="TWINSPACE_CONNECTOR_URL",
            help="Base URL of the connector whose management API the commands use.",
        ),
    ] = DEFAULT_CONNECTOR,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="TWINSPACE_API_KEY", help="X-Api-Key of that management API."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Run a participant (serve), drive a connector (asset, offer, catalog, negotiate, transfer,
    status), or watch three participants share data (demo)."""
    ctx.obj = commands.Target(connector, api_key)


app.command(no_args_is_help=False)(serve)
app.add_typer(commands.asset_app, name="asset")
app.add_typer(commands.offer_app, name="offer")
app.command()(commands.catalog)
app.command()(commands.negotiate)
app.command()(commands.transfer)
app.command()(commands.status)
app.add_typer(authority_app, name="authority")
app.command("audit")(audit_command)
app.command("trail")(trail_command)


@app.command()
def demo(
    keep_data: Annotated[
        bool,
        typer.Option(help="Keep databases, logs and data in ./demo-run instead of a temp dir."),
    ] = False,
    base_port: Annotated[
        int, typer.Option(help="City on this port, mobility operator +1, environment agency +2.")
    ] = 8101,
    run_dir: Annotated[
        Path | None, typer.Option(help="Where --keep-data puts the run.", hidden=True)
    ] = None,
) -> None:
    """Three participants on this machine: publish, discover, negotiate, transfer, verify.

    Starts a city, a mobility operator and an environment agency as separate processes, each with
    its own SQLite database; the city negotiates for the operator's traffic counts and pulls them
    through the data plane. Everything is stopped again at the end.
    """
    from twinspace.demo.runner import run_demo

    code = run_demo(keep_data=keep_data, base_port=base_port, run_dir=run_dir)
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    app()
