"""``twinspace audit`` and ``twinspace trail``: check the transparency log from this
participant's point of view.

``audit`` reads, through the connector's management API, the log's DID and keys, the receipts
this participant holds and the checkpoints it has seen (and cosigned); fetches every entry and
the current checkpoint from the log itself; and runs the pure audit (``twinspace.ledger.audit``):
the entries reproduce the signed root, every receipt is included, the checkpoints only grew,
nothing was forked or rolled back, every entry is signed by its submitter. It prints what it
checked and exits 1 on any finding.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from twinspace.cli import commands
from twinspace.cli.console import CliError, console, errors, fail, run
from twinspace.identity import IdentityError, did_web_to_url, parse_did_document
from twinspace.identity.keys import peek_jwt
from twinspace.ledger import AuditReport, LedgerError, audit, read_entry

PAGE = 1000


async def _entries(http: httpx.AsyncClient, log_url: str) -> list[str]:
    found: list[str] = []
    while True:
        page = await http.get(
            f"{log_url}/entries", params={"start": len(found), "end": len(found) + PAGE}
        )
        if page.status_code != 200:
            raise CliError(f"the log at {log_url} answered HTTP {page.status_code}")
        items = page.json()
        found.extend(str(item["entry"]) for item in items)
        if len(items) < PAGE:
            return found


async def _submitter_keys(
    http: httpx.AsyncClient, entries: list[str], allow_http: bool
) -> dict[str, Any]:
    """Key id -> public key of every submitter, from their did:web documents."""
    keys: dict[str, Any] = {}
    dids: set[str] = set()
    for jws in entries:
        try:
            dids.add(read_entry(jws).submitter)
        except LedgerError:
            continue  # the audit reports a malformed entry itself
    for did in sorted(dids):
        url = did_web_to_url(did, allow_http=allow_http)
        try:
            response = await http.get(url)
            document = parse_did_document(response.json(), expected_did=did)
        except (httpx.HTTPError, ValueError, IdentityError) as exc:
            errors.print(f"[yellow]cannot resolve {did}: {exc}[/]")
            continue
        keys.update({kid: m.key for kid, m in document.methods.items()})
    return keys


async def _witnessed(http: httpx.AsyncClient, witnesses: list[str]) -> dict[str, Any]:
    """What other participants saw: ``<their base URL>/transparency/checkpoints``."""
    seen: dict[str, Any] = {}
    for base in witnesses:
        url = base.rstrip("/") + "/transparency/checkpoints"
        try:
            response = await http.get(url)
            seen[base] = response.json()["checkpoints"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise CliError(f"cannot read the checkpoints witness {base} saw: {exc}") from None
    return seen


async def run_audit(
    client: Any,
    allow_http_did: bool,
    *,
    witnesses: list[str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[AuditReport, dict[str, Any]]:
    """Audit the log as the participant behind ``client`` (a ManagementClient) saw it, and
    compare with what each witness (another participant's base URL) saw."""
    view: dict[str, Any] = await client.call("GET", "/transparency")
    log_url = str(view["logUrl"])
    async with httpx.AsyncClient(timeout=30.0, transport=transport) as http:
        entries = await _entries(http, log_url)
        current = (await http.get(f"{log_url}/checkpoint")).json()
        keys = await _submitter_keys(http, entries, allow_http_did)
        witnessed = await _witnessed(http, witnesses or [])
    checkpoints = [*view.get("checkpoints", []), current]
    kid = str(peek_jwt(current["checkpoint"])[0]["kid"])
    log_key = view.get("logKeys", {}).get(kid)
    if log_key is None:
        raise CliError(f"the log signs with {kid}, which its DID document does not list")

    def resolver(key_id: str) -> Any:
        if key_id not in keys:
            raise LedgerError("unknown_key", f"{key_id} is not in its DID document")
        return keys[key_id]

    report = audit(
        {**log_key, "kid": kid},
        entries,
        checkpoints,
        view.get("receipts", []),
        witnessed=witnessed,
        resolver=resolver,
        log=str(view["log"]),
    )
    return report, view


def audit_command(
    ctx: typer.Context,
    allow_http_did: Annotated[
        bool,
        typer.Option(help="Development only: resolve localhost did:web over plain http."),
    ] = False,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            help="Base URL of another participant whose seen checkpoints to compare (repeatable)."
        ),
    ] = None,
) -> None:
    """Verify the transparency log end to end from this participant's receipts and checkpoints."""

    async def go() -> bool:
        async with commands.connect(ctx) as client:
            report, view = await run_audit(client, allow_http_did, witnesses=witness or [])
        console.print(f"[bold]transparency log[/] {view['log']} at {view['logUrl']}")
        for line in report.checked:
            console.print(f"[green]✓[/] {line}")
        for problem in report.problems:
            console.print(f"[red]✗ [{problem.code}][/] {problem.message}")
        verdict = "[green]the log is consistent[/]" if report.ok else "[red]the audit failed[/]"
        console.print(f"{verdict}: {report.size} entries, {len(report.problems)} problem(s)")
        return report.ok

    if not run(go()):
        raise typer.Exit(1)


def trail_command(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(help="The contract agreement.")],
) -> None:
    """Everything the transparency log holds about an agreement, each proof verified."""

    async def go() -> dict[str, Any]:
        async with commands.connect(ctx) as client:
            found: dict[str, Any] = await client.call("GET", f"/agreements/{agreement_id}/trail")
            return found

    trail = run(go())
    cp = trail["checkpoint"]
    console.print(
        f"agreement {agreement_id}: log checkpoint size {cp['size']}, root {cp['root'][:16]}…"
    )
    for entry in trail["entries"]:
        body = entry["entry"]
        what = body.get("state") or body.get("kind")
        console.print(
            f"  #{entry['index']:<5} {entry['kind']:<12} {what:<10} by {entry['submitter']}"
            "  [green]inclusion proof verified[/]"
        )
    if not trail["entries"]:
        fail(CliError("the log holds nothing about this agreement (yet)"))
