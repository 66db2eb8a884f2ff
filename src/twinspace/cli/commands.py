"""The commands that drive a running connector through its management API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from twinspace.cli import flows
from twinspace.cli.client import DEFAULT_CONNECTOR, Json, ManagementClient
from twinspace.cli.console import CliError, console, fail, run


@dataclass
class Target:
    """The connector the commands talk to (the global --connector and --api-key)."""

    connector: str = DEFAULT_CONNECTOR
    api_key: str | None = None


def connect(ctx: typer.Context) -> ManagementClient:
    target: Target = ctx.obj or Target()
    return ManagementClient(target.connector, target.api_key)


asset_app = typer.Typer(help="Publish assets (the data behind datasets).", no_args_is_help=True)
offer_app = typer.Typer(help="Offer assets under a policy.", no_args_is_help=True)


def _parse_properties(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--property {pair!r} is not KEY=VALUE")
        found[key] = value
    return found


@asset_app.command("create")
def asset_create(
    ctx: typer.Context,
    asset_id: Annotated[str, typer.Argument(help="Id of the asset (becomes the dataset id).")],
    file: Annotated[
        Path | None, typer.Option(help="Serve this local file (a File data address).")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Proxy this HTTP URL instead (an HttpData data address).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Human-readable name.")] = None,
    description: Annotated[str | None, typer.Option(help="What the data is.")] = None,
    content_type: Annotated[
        str | None, typer.Option(help="Media type, e.g. text/csv (guessed from --file).")
    ] = None,
    prop: Annotated[
        list[str] | None,
        typer.Option("--property", help="Extra property KEY=VALUE (repeatable)."),
    ] = None,
) -> None:
    """Create an asset on the connector from a local file or an HTTP URL."""
    if (file is None) == (url is None):
        fail(CliError("give exactly one of --file or --url"))
    address: Json
    if file is not None:
        if not file.is_file():
            fail(CliError(f"--file {file} is not a readable file"))
        address = {"type": "File", "path": str(file.resolve())}
    else:
        address = {"type": "HttpData", "baseUrl": url}
    if content_type:
        address["contentType"] = content_type

    async def go() -> None:
        properties: dict[str, Any] = {"name": name or asset_id, **_parse_properties(prop or [])}
        if description:
            properties["description"] = description
        if content_type:
            properties["contenttype"] = content_type
        async with connect(ctx) as client:
            await client.create_asset(asset_id, properties, address)
        console.print(f"[green]created asset[/] {asset_id}")

    run(go())


@offer_app.command("create")
def offer_create(
    ctx: typer.Context,
    asset_id: Annotated[str, typer.Argument(help="The asset to offer.")],
    policy_file: Annotated[
        Path | None,
        typer.Option(help="ODRL policy as JSON (default: permission to use, no constraints)."),
    ] = None,
    policy_id: Annotated[str | None, typer.Option(help="Default policy-<asset>.")] = None,
    definition_id: Annotated[str | None, typer.Option(help="Default offer-<asset>.")] = None,
) -> None:
    """Offer an asset: a policy definition and a contract definition, in one step."""
    policy: Json = {"permission": [{"action": "use"}]}
    if policy_file is not None:
        try:
            policy = json.loads(policy_file.read_text())
        except (OSError, ValueError) as exc:
            fail(CliError(f"cannot read the policy from {policy_file}: {exc}"))
    pid = policy_id or f"policy-{asset_id}"
    did = definition_id or f"offer-{asset_id}"

    async def go() -> None:
        async with connect(ctx) as client:
            await client.create_policy(pid, policy)
            await client.create_contract_definition(did, pid, pid, asset_id)
        console.print(
            f"[green]offered[/] {asset_id} under policy {pid} (contract definition {did})"
        )

    run(go())


def catalog(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The provider's DSP URL, e.g. http://h:8182/dsp")],
    provider_id: Annotated[
        str | None,
        typer.Option(
            "--provider-id",
            help="The provider's participant id (its DID): required when connectors run DCP.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw DSP catalog.")] = False,
) -> None:
    """Ask a provider for its catalog (through this connector) and list its datasets."""

    async def go() -> None:
        async with connect(ctx) as client:
            result = await client.request_catalog(provider, provider_id)
        if as_json:
            console.print_json(data=result)
            return
        table = Table(title=f"catalog of {result.get('participantId', provider)}")
        for column in ("dataset", "name", "offers", "media type"):
            table.add_column(column)
        for dataset in flows.datasets_of(result):
            offers = [o.get("@id", "?") for o in flows.as_list(dataset.get("hasPolicy"))]
            kinds = {
                str(d.get("mediaType") or d.get("format") or "")
                for d in flows.as_list(dataset.get("distribution"))
                if isinstance(d, dict)
            }
            table.add_row(
                str(dataset.get("@id")),
                str(dataset.get("name") or dataset.get("title") or ""),
                "\n".join(str(o) for o in offers),
                ", ".join(sorted(k for k in kinds if k)),
            )
        console.print(table)

    run(go())


def negotiate(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The provider's DSP URL.")],
    dataset_id: Annotated[str, typer.Argument(help="The dataset to negotiate for.")],
    provider_id: Annotated[
        str | None,
        typer.Option(
            "--provider-id",
            help="The provider's participant id (its DID): required when connectors run DCP.",
        ),
    ] = None,
    offer_id: Annotated[
        str | None, typer.Option(help="Which of the dataset's offers (default: the first).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for FINALIZED.")] = 60.0,
) -> None:
    """Negotiate a contract for a dataset and wait until it is FINALIZED; print the agreement."""

    async def go() -> None:
        async with connect(ctx) as client:
            with console.status("requesting the catalog") as status:

                def on_state(state: str) -> None:
                    status.update(f"negotiation [cyan]{state}[/]")

                done = await flows.negotiate(
                    client,
                    provider,
                    dataset_id,
                    offer_id=offer_id,
                    provider_id=provider_id,
                    timeout=timeout,
                    on_state=on_state,
                )
        console.print(f"negotiation {done.negotiation_id} [green]{done.state}[/]")
        console.print(f"agreement [bold]{done.agreement_id}[/]")

    run(go())


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "data"


def transfer(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The provider's DSP URL.")],
    agreement_id: Annotated[str, typer.Argument(help="The contract agreement to transfer under.")],
    transfer_type: Annotated[
        str,
        typer.Option(
            "--type",
            help="HttpData-PULL (we fetch), HttpData-PUSH (they send) or, for a twin asset, "
            "NgsiLd-PUSH (their twin streams its changes into ours until stopped).",
        ),
    ] = flows.PULL,
    tenant: Annotated[
        str | None,
        typer.Option(help="With NgsiLd-PUSH: the tenant of our twin that receives the stream."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where a pulled file goes (default ./<agreement id>).")
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            help="The purpose of this use, declared to the provider (its policy may require one)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each state.")] = 60.0,
) -> None:
    """Transfer data under an agreement: start, wait for STARTED, pull, complete."""
    if transfer_type not in (flows.PULL, flows.PUSH, flows.STREAM):
        fail(
            CliError(
                f"--type must be {flows.PULL} or {flows.PUSH} (or {flows.STREAM} for a twin asset)"
            )
        )
    if tenant and transfer_type != flows.STREAM:
        fail(CliError(f"--tenant is only for --type {flows.STREAM}"))
    dest = out or Path(_safe_name(agreement_id))

    async def go() -> None:
        async with connect(ctx) as client:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("transfer REQUESTED", total=None)

                def on_state(state: str) -> None:
                    bar.update(task, description=f"transfer {state}")

                def on_bytes(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                result = await flows.transfer(
                    client,
                    provider,
                    agreement_id,
                    out=dest,
                    transfer_type=transfer_type,
                    purpose=purpose,
                    timeout=timeout,
                    on_state=on_state,
                    progress=on_bytes,
                    tenant=tenant,
                )
        if transfer_type == flows.STREAM:
            console.print(
                f"transfer {result.transfer_id} [green]{result.state}[/]: the provider's twin "
                f"now streams into ours (tenant {tenant or 'default'!r}); stop it with POST "
                "/management/v3/transferprocesses/<id>/suspend or /terminate"
            )
            return
        where = f"to {result.path}" if result.path else "pushed to this connector"
        console.print(
            f"transfer {result.transfer_id} [green]{result.state}[/]: "
            f"{result.nbytes:,} bytes {where} in {result.seconds:.2f} s"
        )

    run(go())


def status(ctx: typer.Context) -> None:
    """List this connector's contract negotiations and transfer processes."""

    async def go() -> None:
        async with connect(ctx) as client:
            negotiations = await client.list_negotiations()
            transfers = await client.list_transfers()
        table = Table(title=f"contract negotiations ({len(negotiations)})")
        for column in ("id", "role", "state", "asset", "counter-party", "agreement"):
            table.add_column(column, overflow="fold")
        for n in negotiations:
            table.add_row(
                *_cells(n, "@id", "type", "state", "assetId", "counterPartyAddress"),
                *_cells(n, "contractAgreementId"),
            )
        console.print(table)
        table = Table(title=f"transfer processes ({len(transfers)})")
        for column in ("id", "role", "state", "asset", "transfer type", "bytes", "agreement"):
            table.add_column(column, overflow="fold")
        for t in transfers:
            table.add_row(
                *_cells(t, "@id", "type", "state", "assetId", "transferType"),
                *_cells(t, "bytesTransferred", "contractId"),
            )
        console.print(table)

    run(go())


def _cells(item: Json, *keys: str) -> list[str]:
    return ["" if item.get(key) is None else str(item.get(key)) for key in keys]
