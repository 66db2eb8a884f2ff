"""``twinspace authority``: run a governance authority and manage its members.

``serve`` runs the authority with uvicorn; ``onboard``, ``members``, ``revoke``, ``suspend`` and
``reinstate`` drive a running one through its admin API (``--url``, ``--api-key``). Every
failure (nothing listening, a wrong key, a refused change) is one line and exit code 1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from twinspace.authority.client import DEFAULT_AUTHORITY_URL, AdminClientError, AuthorityClient
from twinspace.cli.console import CliError, console, fail, run
from twinspace.cli.serve import run_server, settings_from, setup_logging, with_api_key
from twinspace.identity import IdentityError

authority_app = typer.Typer(
    help="Run the data space's governance authority and manage its members.",
    no_args_is_help=True,
)

Json = dict[str, Any]
T = TypeVar("T")
UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="TWINSPACE_AUTHORITY_URL",
        help="The authority: its base URL and name.",
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="TWINSPACE_API_KEY",
        help="X-Api-Key of the authority's admin API (default: the global --api-key).",
    ),
]
ReasonOption = Annotated[str | None, typer.Option(help="Why (kept in the register).")]


def connect(url: str, api_key: str | None) -> AuthorityClient:
    """The client the commands use (tests replace it to talk to an in-process app)."""
    return AuthorityClient(url, api_key)


def _call(
    ctx: typer.Context,
    url: str,
    api_key: str | None,
    action: Callable[[AuthorityClient], Awaitable[T]],
) -> T:
    """Run ``action`` on a client of the authority at ``url``; failures end the command."""

    async def go() -> T:
        try:
            async with connect(url, api_key or getattr(ctx.obj, "api_key", None)) as client:
                return await action(client)
        except AdminClientError as exc:
            raise CliError(exc.message, exc.hint) from None

    return run(go())


def _show(member: Json, verb: str) -> None:
    reason = f" ({member['reason']})" if member.get("reason") else ""
    console.print(
        f"{verb} [cyan]{escape(str(member.get('did')))}[/]: "
        f"status [bold]{escape(str(member.get('status')))}[/]{escape(reason)}"
    )


@authority_app.command()
def onboard(
    ctx: typer.Context,
    did: Annotated[str, typer.Argument(help="The participant's did:web DID.")],
    legal_name: Annotated[str, typer.Option(help="Registered legal name.")],
    registration_number: Annotated[str, typer.Option(help="Company / registry number.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country code, e.g. DE.")],
    role: Annotated[
        list[str] | None, typer.Option(help="A role in the data space (repeatable).")
    ] = None,
    security_level: Annotated[
        str | None,
        typer.Option(help="Certified security level: base, trust or trust+ (IDS)."),
    ] = None,
    url: UrlOption = DEFAULT_AUTHORITY_URL,
    api_key: KeyOption = None,
) -> None:
    """Onboard a participant: it may then fetch its credentials from the authority."""
    body: dict[str, object] = {
        "did": did,
        "legalName": legal_name,
        "registrationNumber": registration_number,
        "country": country,
        "roles": role or [],
    }
    if security_level:
        body["securityLevel"] = security_level

    member = _call(ctx, url, api_key, lambda client: client.onboard(body))
    _show(member, "onboarded")
    console.print(f"  status list index {member.get('statusIndex')}")


@authority_app.command()
def members(
    ctx: typer.Context, url: UrlOption = DEFAULT_AUTHORITY_URL, api_key: KeyOption = None
) -> None:
    """List the members and their status."""

    found = _call(ctx, url, api_key, lambda client: client.members())
    if not found:
        console.print("no members yet; add one with `twinspace authority onboard`")
        return
    # one line per member (not a table): a DID stays whole, to be copied into the next command
    for m in found:
        status = str(m.get("status"))
        colour = {"active": "green", "suspended": "yellow", "revoked": "red"}.get(status, "white")
        roles = ", ".join(str(r) for r in m.get("roles") or []) or "no roles"
        reason = f"  ({m['reason']})" if m.get("reason") else ""
        console.print(
            f"[cyan]{escape(str(m.get('did')))}[/]  [{colour}]{escape(status)}[/]  "
            f"{escape(str(m.get('legalName')))} ({escape(str(m.get('country')))})  "
            f"{escape(roles)}  since {escape(str(m.get('updatedAt')))}{escape(reason)}"
        )


def _change(
    ctx: typer.Context, did: str, action: str, reason: str | None, url: str, key: str | None
) -> None:
    verbs = {"revoke": "revoked", "suspend": "suspended", "reinstate": "reinstated"}
    _show(_call(ctx, url, key, lambda client: client.change(did, action, reason)), verbs[action])


DidArgument = Annotated[str, typer.Argument(help="The member's DID.")]


@authority_app.command()
def revoke(
    ctx: typer.Context,
    did: DidArgument,
    reason: ReasonOption = None,
    url: UrlOption = DEFAULT_AUTHORITY_URL,
    api_key: KeyOption = None,
) -> None:
    """Revoke a membership for good: its credentials fail verification from now on."""
    _change(ctx, did, "revoke", reason, url, api_key)


@authority_app.command()
def suspend(
    ctx: typer.Context,
    did: DidArgument,
    reason: ReasonOption = None,
    url: UrlOption = DEFAULT_AUTHORITY_URL,
    api_key: KeyOption = None,
) -> None:
    """Suspend a membership (undo with `reinstate`)."""
    _change(ctx, did, "suspend", reason, url, api_key)


@authority_app.command()
def reinstate(
    ctx: typer.Context,
    did: DidArgument,
    reason: ReasonOption = None,
    url: UrlOption = DEFAULT_AUTHORITY_URL,
    api_key: KeyOption = None,
) -> None:
    """Make a suspended membership active again (a revoked one cannot be)."""
    _change(ctx, did, "reinstate", reason, url, api_key)


@authority_app.command()
def serve(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Name of the authority (its URL path and DID).")] = (
        "authority"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on. [env TWINSPACE_HOST]")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL (default: SQLite in --data-dir). [env TWINSPACE_DATABASE_URL]"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the SQLite file and the signing key. [env TWINSPACE_DATA_DIR]"
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL participants reach the authority at (default http://HOST:PORT); "
            "it makes the DID. [env TWINSPACE_PUBLIC_URL]"
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="X-Api-Key of the admin API (default: the global --api-key, else one is "
            "generated and printed). [env TWINSPACE_API_KEY]"
        ),
    ] = None,
    dataspace: Annotated[
        str | None,
        typer.Option(
            help="Id of the data space it certifies membership of. [env TWINSPACE_DATASPACE]"
        ),
    ] = None,
    credential_days: Annotated[
        int | None,
        typer.Option(help="Validity of the credentials it issues. [env TWINSPACE_CREDENTIAL_DAYS]"),
    ] = None,
    allow_http_did: Annotated[
        bool | None,
        typer.Option(
            "--allow-http-did/--no-allow-http-did",
            help="Development only: resolve participants' did:web on localhost over plain http. "
            "[env TWINSPACE_ALLOW_HTTP_DID]",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Log level: debug, info, warning, error.")
    ] = "info",
) -> None:
    """Run the governance authority (issuer service, status lists, admin API) until stopped."""
    from twinspace.authority import create_authority_app

    try:
        settings = settings_from(
            {
                "name": name,
                "port": port,
                "host": host,
                "database_url": database_url,
                "data_dir": data_dir,
                "public_url": public_url,
                "api_key": api_key or getattr(ctx.obj, "api_key", None),
                "dataspace": dataspace,
                "credential_days": credential_days,
                "allow_http_did": allow_http_did,
            }
        )
    except CliError as exc:
        fail(exc)
    except IdentityError as exc:  # a public URL or name that makes no did:web DID
        fail(CliError(f"invalid settings: {exc.message}"))
    settings = with_api_key(settings)
    setup_logging(log_level)
    try:
        app = create_authority_app(settings)
    except Exception as exc:  # a key file or database that cannot be used, mostly
        fail(CliError(f"cannot start the authority {settings.name}: {type(exc).__name__}: {exc}"))
    base = f"{settings.base_url()}/{settings.name}"
    console.print(
        f"[bold]twinspace[/] governance authority [cyan]{settings.name}[/]\n"
        f"  DID          {settings.effective_did()}\n"
        f"  listening    http://{settings.host}:{settings.port}\n"
        f"  issuer       {base}/issuer\n"
        f"  status lists {base}/status/revocation, {base}/status/suspension\n"
        f"  admin        {base}/admin/participants  (X-Api-Key)\n"
        f"  data space   {settings.dataspace}"
    )
    run_server(app, settings, log_level, f"the authority {settings.name}")
