"""``twinspace serve``: run one participant's connector with uvicorn until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from twinspace.cli.console import CliError, console, fail
from twinspace.runtime import tune_gc
from twinspace.settings import Settings


def settings_from(overrides: dict[str, Any]) -> Settings:
    """``Settings`` from TWINSPACE_* variables, with the options given on the command line on top."""
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CliError(f"invalid settings: {problems}") from None


def with_api_key(settings: Settings) -> Settings:
    """``settings`` with an API key: the given one, else a generated one (printed)."""
    if settings.api_key:
        return settings
    settings = settings.model_copy(update={"api_key": secrets.token_urlsafe(24)})
    console.print(f"[yellow]no API key given; generated one:[/] {settings.api_key}")
    return settings


def setup_logging(log_level: str) -> None:
    level = log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step


def run_server(app: Any, settings: Settings, log_level: str, what: str) -> None:
    """Serve ``app`` with uvicorn until SIGINT/SIGTERM (graceful); exit 1 if it never started."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    tune_gc(settings.gc_threshold)  # the app is built: what lives now is frozen
    server.run()  # uvicorn turns SIGINT/SIGTERM into a graceful shutdown
    if not server.started:
        fail(CliError(f"{what} did not start (see the log above)"))


def serve(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option(help="Participant name (names its files). [env TWINSPACE_NAME]")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on. [env TWINSPACE_PORT]")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on. [env TWINSPACE_HOST]")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
            "(default: SQLite in --data-dir). [env TWINSPACE_DATABASE_URL]"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for the SQLite file and received data. [env TWINSPACE_DATA_DIR]"),
    ] = None,
    participant_id: Annotated[
        str | None,
        typer.Option(help="DSP participantId. [env TWINSPACE_PARTICIPANT_ID]"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="X-Api-Key of the management API (default: the global --api-key, "
            "else one is generated and printed). [env TWINSPACE_API_KEY]"
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL others reach this participant at (default http://HOST:PORT). "
            "[env TWINSPACE_PUBLIC_URL]"
        ),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            help="dcp (verify every DSP caller) or none (development only). [env TWINSPACE_AUTH]"
        ),
    ] = None,
    authority: Annotated[
        str | None,
        typer.Option(
            help="DID of the governance authority to trust and get credentials from. "
            "[env TWINSPACE_AUTHORITY]"
        ),
    ] = None,
    allow_http_did: Annotated[
        bool | None,
        typer.Option(
            "--allow-http-did/--no-allow-http-did",
            help="Development only: resolve localhost did:web over plain http. "
            "[env TWINSPACE_ALLOW_HTTP_DID]",
        ),
    ] = None,
    twin_writers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Processes that share the twin's large batch writes (0: none; up to one per "
            "core helps heavy ingest). [env TWINSPACE_TWIN_WRITERS]",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Log level: debug, info, warning, error.")
    ] = "info",
) -> None:
    """Run one participant's connector (DSP, management API, data plane) until stopped.

    Options override the TWINSPACE_* environment variables. SIGTERM or Ctrl-C shut it down
    gracefully: in-flight requests finish and the outbound manager stops.
    """
    from twinspace.app import create_app

    try:
        settings = settings_from(
            {
                "name": name,
                "port": port,
                "host": host,
                "database_url": database_url,
                "data_dir": data_dir,
                "participant_id": participant_id,
                "api_key": api_key or (ctx.obj.api_key if ctx.obj else None),
                "public_url": public_url,
                "auth": auth,
                "authority": authority,
                "allow_http_did": allow_http_did,
                "twin_writers": twin_writers,
            }
        )
    except CliError as exc:
        fail(exc)
    settings = with_api_key(settings)
    setup_logging(log_level)
    try:
        app = create_app(settings)
    except Exception as exc:  # a database that cannot be opened or migrated, mostly
        fail(CliError(f"cannot start {settings.name}: {type(exc).__name__}: {exc}"))
    base = settings.base_url()
    console.print(
        f"[bold]twinspace[/] participant [cyan]{settings.name}[/] ({settings.participant_id})\n"
        f"  listening  http://{settings.host}:{settings.port}\n"
        f"  auth       {settings.auth}"
        + (f" (authority {settings.authority})" if settings.authority else "")
        + "\n"
        f"  DSP        {settings.dsp_url()}\n"
        f"  management {base}/management/v3  (X-Api-Key)\n"
        f"  store      {_shown_url(settings.effective_database_url())}"
        + (
            f"\n  twin       {settings.twin_writers} writer processes"
            if settings.twin_writers
            else ""
        )
    )
    run_server(app, settings, log_level, settings.name)


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url
