"""``twinspace demo``: a city, a mobility operator and an environment agency share data.

0. start a governance authority, onboard the three participants, and start them with DCP on: each
   fetches its membership and legal-participant credentials, and every DSP call between them
   carries a self-issued ID token that the callee verifies;
1. start the three participants as separate processes, each with its own SQLite database;
2. the mobility operator publishes traffic counts and the environment agency air quality (CSV files
   the demo generates), each as an asset, a policy and a contract definition;
3. the city reads both catalogs, negotiates an agreement for each dataset, pulls the data through
   the provider's data plane with the token of the transfer, completes the transfer and checks that
   the bytes it received are the bytes that were published (SHA-256);
4. the authority revokes the mobility operator's membership: its next catalog request to the
   environment agency is refused once the agency's status list cache (2 s in the demo) renews;
5. every process is stopped again, whatever happened.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from rich.markup import escape
from rich.panel import Panel

from twinspace.authority.client import AdminClientError, AuthorityClient
from twinspace.cli import flows
from twinspace.cli.audit import run_audit
from twinspace.cli.client import Json
from twinspace.cli.console import CliError, console, errors
from twinspace.demo import twin
from twinspace.demo.data import write_air_quality, write_traffic_counts
from twinspace.demo.participants import DemoError, Fleet, Participant, prepare_home


@dataclass
class Exchange:
    dataset: str
    provider: str
    consumer: str
    negotiation_id: str = ""
    agreement_id: str = ""
    negotiation_state: str = ""
    negotiation_seconds: float = 0.0
    transfer_id: str = ""
    transfer_state: str = ""
    nbytes: int = 0
    transfer_seconds: float = 0.0
    sha256: str = ""
    policy: str = ""
    uses: int = 0
    notified: bool = False
    refusal: str = ""


@dataclass
class Summary:
    catalogs: dict[str, list[str]] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    members: dict[str, str] = field(default_factory=dict)  # key -> DID
    revoked: str = ""
    refused_after: float = 0.0
    log_entries: int = 0
    log_checks: int = 0
    trail: list[str] = field(default_factory=list)
    city_twin: twin.TwinSummary | None = None


@dataclass
class Publication:
    asset_id: str
    name: str
    description: str
    write: Callable[[Path], Path]
    #: The ODRL policy of the offer (access and contract); the city declares ``purpose``.
    policy: Json = field(default_factory=lambda: {"permission": [{"action": "use"}]})
    purpose: str | None = None
    summary: str = "use, no constraints"


#: The mobility operator's terms: members of the data space only, for traffic planning, at most
#: five uses, and tell the provider when the data is used.
TRAFFIC_POLICY: Json = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "twinspace:membership", "operator": "eq", "rightOperand": "active"},
                {
                    "leftOperand": "purpose",
                    "operator": "isAnyOf",
                    "rightOperand": ["traffic-planning", "air-quality-modelling"],
                },
                {"leftOperand": "count", "operator": "lteq", "rightOperand": "5"},
            ],
            "duty": [{"action": "twinspace:notify"}],
        }
    ]
}


PUBLICATIONS = {
    "mobility": Publication(
        "traffic-counts",
        "Traffic counts",
        "Vehicles per 15 minutes at four intersections over one weekday (CSV)",
        write_traffic_counts,
        policy=TRAFFIC_POLICY,
        purpose="traffic-planning",
        summary="members only, purpose traffic-planning or air-quality-modelling, at most 5 "
        "uses, notify the provider",
    ),
    "environment": Publication(
        "air-quality",
        "Air quality",
        "Hourly NO2, PM10, PM2.5 and O3 at three monitoring stations (CSV)",
        write_air_quality,
    ),
}


LEGAL = {
    "city": ("City of Twinsburg", "DE-CITY-0001"),
    "mobility": ("Twinsburg Mobility GmbH", "HRB 4711"),
    "environment": ("Regional Environment Agency", "DE-ENV-0042"),
}
#: The environment agency re-checks status lists every 2 s, so the revocation shows quickly.
QUICK_STATUS = {
    "TWINSPACE_STATUS_LIST_CACHE_SECONDS": "2",
    "TWINSPACE_PRESENTATION_CACHE_SECONDS": "2",
}


def participants(base_port: int, home: Path, *, mqtt: bool = False) -> list[Participant]:
    authority = Participant("authority", "governance authority", base_port + 3, home / "authority")
    did = authority.participant_id
    run = uuid.uuid4().hex[:8]  # this run's own MQTT topics

    def sensors(key: str) -> dict[str, str]:
        return twin.mqtt_settings(f"twinspace-demo/{run}/{key}") if mqtt else {}

    return [
        authority,
        # the city runs its duties (here: notify the provider) every second
        Participant(
            "city",
            "city",
            base_port,
            home / "city",
            authority=did,
            settings={"TWINSPACE_POLICY_MONITOR_SECONDS": "1"},
        ),
        Participant(
            "mobility",
            "mobility operator",
            base_port + 1,
            home / "mobility",
            did,
            settings=sensors("mobility"),
        ),
        Participant(
            "environment",
            "environment agency",
            base_port + 2,
            home / "environment",
            did,
            settings={**QUICK_STATUS, **sensors("environment")},
        ),
    ]


def connectors(fleet: Fleet) -> list[Participant]:
    return [p for p in fleet if not p.is_authority]


def authority_of(fleet: Fleet) -> Participant:
    return next(p for p in fleet if p.is_authority)


def admin(authority: Participant) -> AuthorityClient:
    return AuthorityClient(f"{authority.base_url}/{authority.key}", authority.api_key)


async def onboard(fleet: Fleet) -> None:
    """The authority registers the three participants (before they start)."""
    authority = authority_of(fleet)
    async with admin(authority) as api:
        for p in connectors(fleet):
            name, number = LEGAL[p.key]
            try:
                await api.onboard(
                    {
                        "did": p.participant_id,
                        "legalName": name,
                        "registrationNumber": number,
                        "country": "DE",
                        "roles": ["provider", "consumer"],
                    }
                )
            except AdminClientError as exc:
                raise DemoError(f"onboarding the {p.label}: {exc}", authority) from None
            done(f"authority onboarded the {p.label} ({p.participant_id})")


async def wait_enrolled(fleet: Fleet, timeout: float = 60.0) -> None:
    """Until every connector holds its credentials from the authority."""
    for p in connectors(fleet):
        began = time.monotonic()
        async with p.client() as api:
            while True:
                wallet = await api.call("GET", "/credentials")
                held = sorted(c["type"] for c in wallet.get("credentials", []))
                if len(held) >= 2:
                    break
                if time.monotonic() - began > timeout:
                    why = (wallet.get("enrolment") or {}).get("lastError") or "no answer"
                    raise DemoError(
                        f"the {p.label} got no credentials in {timeout:.0f} s: {why}",
                        p,
                        authority_of(fleet),
                    )
                await asyncio.sleep(0.1)
        done(f"{p.label} holds {' and '.join(held)}", time.monotonic() - began)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def done(text: str, seconds: float | None = None) -> None:
    took = f" [dim]({seconds:.2f} s)[/]" if seconds is not None else ""
    console.print(f"[green]✓[/] {text}{took}")


@asynccontextmanager
async def step(what: str, *involved: Participant) -> AsyncIterator[None]:
    """A demo step: a management-API error becomes a DemoError naming who was involved."""
    try:
        yield
    except CliError as exc:
        raise DemoError(f"{what}: {exc.message}", *involved) from None


async def publish(provider: Participant, data_file: Path, publication: Publication) -> None:
    async with step(f"publishing {publication.asset_id}", provider), provider.client() as api:
        await api.create_asset(
            publication.asset_id,
            {
                "name": publication.name,
                "description": publication.description,
                "contenttype": "text/csv",
            },
            {"type": "File", "path": str(data_file.resolve()), "contentType": "text/csv"},
        )
        policy_id = f"policy-{publication.asset_id}"
        await api.create_policy(policy_id, publication.policy)
        await api.create_contract_definition(
            f"offer-{publication.asset_id}", policy_id, policy_id, publication.asset_id
        )


async def fetch(
    consumer: Participant, provider: Participant, dataset: str, catalog: Json, published: Path
) -> Exchange:
    """Negotiate for ``dataset`` and pull it; check it arrived unchanged."""
    ex = Exchange(dataset, provider.key, consumer.key, policy=PUBLICATIONS[provider.key].summary)
    async with step(f"getting {dataset}", consumer, provider), consumer.client() as api:
        began = time.monotonic()
        with console.status(f"negotiating for {dataset} with the {provider.label}") as status:
            negotiated = await flows.negotiate(
                api,
                provider.dsp_url,
                dataset,
                catalog=catalog,
                provider_id=provider.participant_id,
                on_state=lambda s: status.update(f"negotiation for {dataset}: [cyan]{s}[/]"),
            )
        ex.negotiation_id, ex.agreement_id = negotiated.negotiation_id, negotiated.agreement_id
        ex.negotiation_state = negotiated.state
        ex.negotiation_seconds = time.monotonic() - began
        done(f"agreement for {dataset}: [bold]{ex.agreement_id}[/]", ex.negotiation_seconds)

        out = consumer.home / "received" / f"{dataset}.csv"
        with console.status(f"transferring {dataset}") as status:
            moved = await flows.transfer(
                api,
                provider.dsp_url,
                ex.agreement_id,
                out=out,
                purpose=PUBLICATIONS[provider.key].purpose,
                on_state=lambda s: status.update(f"transfer of {dataset}: [cyan]{s}[/]"),
                progress=lambda n, total: status.update(
                    f"pulling {dataset}: {n:,}" + (f" / {total:,}" if total else "") + " bytes"
                ),
            )
    ex.transfer_id, ex.transfer_state = moved.transfer_id, moved.state
    ex.nbytes, ex.transfer_seconds = moved.nbytes, moved.seconds
    ex.sha256 = sha256_of(out)
    if ex.sha256 != sha256_of(published):
        raise DemoError(
            f"{dataset}: the city received {out.stat().st_size} bytes that differ from the "
            f"{published.stat().st_size} bytes published (SHA-256 mismatch)",
            consumer,
            provider,
        )
    done(f"pulled {dataset}: {ex.nbytes:,} bytes, SHA-256 verified", ex.transfer_seconds)
    return ex


async def usage_control(fleet: Fleet, summary: Summary, timeout: float = 15.0) -> None:
    """What the mobility operator's policy did: uses counted, the city's notification received,
    and why a use for another purpose would be refused (explained by the provider)."""
    _city, mobility, _environment = connectors(fleet)
    ex = next(e for e in summary.exchanges if e.provider == mobility.key)
    async with step("reading the traffic-counts usage", mobility), mobility.client() as api:
        began = time.monotonic()
        while True:  # the city's notify duty runs in the background
            usage = await api.call("GET", f"/agreements/{ex.agreement_id}/usage")
            events = [e.get("event") for e in usage.get("log", [])]
            if "notification" in events or time.monotonic() - began > timeout:
                break
            await asyncio.sleep(0.2)
        explained = await api.call(
            "POST",
            "/policies/explain",
            {
                "agreementId": ex.agreement_id,
                "moment": "access",
                "facts": {"purpose": "advertising", "count": 0, "membership": "active"},
            },
        )
    ex.uses = int(usage.get("uses", 0))
    ex.notified = "notification" in events
    failed = [r["message"] for r in explained.get("reasons", []) if r.get("satisfied") is False]
    ex.refusal = "; ".join(failed) or str(explained.get("allowed"))
    done(
        f"the mobility operator counted {ex.uses} use(s) of traffic-counts"
        + (", and was notified by the city" if ex.notified else "")
    )
    done(f"a use for advertising would be refused: {escape(ex.refusal)}")


async def transparency(fleet: Fleet, summary: Summary) -> None:
    """The city audits the transparency log and reads the trail of one agreement."""
    city = connectors(fleet)[0]
    ex = summary.exchanges[0]
    async with (
        step("auditing the transparency log", city, authority_of(fleet)),
        city.client() as api,
    ):
        report, _view = await run_audit(api, allow_http_did=True)
        trail = await api.call("GET", f"/agreements/{ex.agreement_id}/trail")
    if not report.ok:
        problems = "; ".join(f"[{p.code}] {p.message}" for p in report.problems)
        raise DemoError(f"the transparency log audit failed: {problems}", authority_of(fleet))
    summary.log_entries = report.size
    summary.log_checks = len(report.checked)
    summary.trail = [
        f"#{e['index']} {e['kind']} {e['entry'].get('state', '')}".strip() for e in trail["entries"]
    ]
    done(
        f"the city audited the transparency log: {report.size} entries, "
        f"{len(report.checked)} checks passed"
    )
    done(
        f"{ex.dataset}'s agreement has {len(trail['entries'])} log entries "
        "(the agreement from both sides, the transfer states), every inclusion proof verified"
    )


async def revocation(fleet: Fleet, summary: Summary, timeout: float = 30.0) -> None:
    """The authority revokes the mobility operator; the environment agency then refuses it."""
    _city, mobility, environment = connectors(fleet)
    authority = authority_of(fleet)
    what = f"the {mobility.label} reading the {environment.label}'s catalog"
    async with step(what, mobility, environment), mobility.client() as api:
        await api.request_catalog(environment.dsp_url, environment.participant_id)
    done(f"{mobility.label} can read the {environment.label}'s catalog (a member)")
    async with admin(authority) as adm:
        try:
            await adm.change(mobility.participant_id, "revoke", "demo: membership ended")
        except AdminClientError as exc:
            raise DemoError(f"revoking the {mobility.label}: {exc}", authority) from None
    began = time.monotonic()
    done(f"authority revoked the {mobility.label}'s membership")
    async with mobility.client() as api:
        with console.status(f"waiting for the {environment.label} to refuse it"):
            while True:
                try:
                    await api.request_catalog(environment.dsp_url, environment.participant_id)
                except CliError:
                    break  # refused: 404 from the agency, 502 from the mobility connector
                if time.monotonic() - began > timeout:
                    raise DemoError(
                        f"the {environment.label} still serves the revoked {mobility.label} "
                        f"after {timeout:.0f} s",
                        environment,
                    )
                await asyncio.sleep(0.25)
    summary.revoked = mobility.key
    summary.refused_after = time.monotonic() - began
    done(f"the {environment.label} now refuses the {mobility.label}", summary.refused_after)


async def scenario(fleet: Fleet) -> Summary:
    city, *providers = connectors(fleet)
    summary = Summary(members={p.key: p.participant_id for p in connectors(fleet)})
    published: dict[str, Path] = {}
    for provider in providers:
        pub = PUBLICATIONS[provider.key]
        began = time.monotonic()
        data_file = pub.write(provider.home / "datasets" / f"{pub.asset_id}.csv")
        await publish(provider, data_file, pub)
        published[provider.key] = data_file
        size = data_file.stat().st_size
        done(
            f"{provider.label} published {pub.asset_id} ({size:,} bytes)", time.monotonic() - began
        )

    catalogs: dict[str, Json] = {}
    for provider in providers:
        async with (
            step(f"reading the {provider.label}'s catalog", city, provider),
            city.client() as api,
        ):
            catalogs[provider.key] = await api.request_catalog(
                provider.dsp_url, provider.participant_id
            )
        seen = [str(d.get("@id")) for d in flows.datasets_of(catalogs[provider.key])]
        summary.catalogs[provider.key] = seen
        done(f"city read the {provider.label}'s catalog: {', '.join(seen) or 'empty'}")

    for provider in providers:
        dataset = PUBLICATIONS[provider.key].asset_id
        summary.exchanges.append(
            await fetch(city, provider, dataset, catalogs[provider.key], published[provider.key])
        )
    await usage_control(fleet, summary)
    await transparency(fleet, summary)
    async with step("building the city's twin", *connectors(fleet)):
        summary.city_twin = await twin.city_twin(connectors(fleet))
    await revocation(fleet, summary)
    return summary


def print_summary(fleet: Fleet, summary: Summary, seconds: float) -> None:
    labels = {p.key: p.label for p in fleet}
    console.rule("[bold]twinspace demo: summary")
    console.print(
        "every DSP call carried a self-issued ID token (DCP 1.0) that the callee verified, "
        "with the caller's membership credentials from the governance authority"
    )
    for key, did in summary.members.items():
        console.print(f"member {labels[key]}: {did}")
    for key, datasets in summary.catalogs.items():
        console.print(f"catalog of the {labels[key]}: {', '.join(datasets)}")
    for ex in summary.exchanges:
        console.print(f"\n[bold]{ex.dataset}[/]: {labels[ex.provider]} → {labels[ex.consumer]}")
        console.print(f"  agreement    {ex.agreement_id}")
        console.print(
            f"  negotiation  {ex.negotiation_state} in {ex.negotiation_seconds:.2f} s"
            f"  ({ex.negotiation_id})"
        )
        console.print(
            f"  transfer     {ex.transfer_state} in {ex.transfer_seconds:.2f} s  ({ex.transfer_id})"
        )
        console.print(
            f"  bytes moved  {ex.nbytes:,} (sha256 {ex.sha256[:16]}…, identical to the original)"
        )
        console.print(f"  policy       {ex.policy}")
        if ex.refusal:
            console.print(
                f"  usage        {ex.uses} use(s) counted by the provider"
                + ("; provider notified" if ex.notified else "")
                + f"; for advertising: refused ({escape(ex.refusal)})"
            )
    if summary.log_entries:
        console.print(
            f"\ntransparency log: {summary.log_entries} entries, audit passed "
            f"({summary.log_checks} checks); trail of {summary.exchanges[0].dataset}: "
            + ", ".join(summary.trail)
        )
    if summary.city_twin is not None:
        console.print()
        twin.print_twin(summary.city_twin)
    if summary.revoked:
        console.print(
            f"\nrevoked: the {labels[summary.revoked]} was refused "
            f"{summary.refused_after:.1f} s after the authority revoked its membership"
        )
    total = sum(ex.nbytes for ex in summary.exchanges)
    console.print(f"\n{total:,} bytes moved in all; the demo took {seconds:.1f} s")
    console.rule()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo the way Ctrl-C does, so its clean-up runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def report_failure(fleet: Fleet, exc: DemoError, home: Path) -> None:
    errors.print(f"[bold red]demo failed:[/] {escape(exc.message)}")
    involved = list(exc.participants)
    involved += [p for p in fleet.dead() if p not in involved]
    for p in involved:
        code = p.exit_code()
        state = "running" if code is None else f"exited with code {code}"
        errors.print(
            Panel(
                escape(p.log_tail()),
                title=f"{p.label} ({state}): last lines of {p.log_path}",
                title_align="left",
            )
        )
    if any(p.process is not None for p in fleet):
        errors.print(f"[dim]the run's files are kept in {home}[/]")


def run_demo(*, keep_data: bool = False, base_port: int = 8101, run_dir: Path | None = None) -> int:
    """Run the demo; the process exit code (0 when everything worked)."""
    began = time.monotonic()
    try:
        home = prepare_home(keep_data, run_dir)
    except DemoError as exc:
        errors.print(f"[bold red]demo failed:[/] {escape(exc.message)}")
        return 1
    fleet = Fleet(participants(base_port, home, mqtt=twin.mqtt_reachable()))
    where = ", ".join(f"{p.label} :{p.port}" for p in fleet)
    console.print(
        f"[bold]twinspace demo[/]: three participants and an authority ({where}); files in {home}"
    )
    code = 1
    try:
        with sigterm_as_interrupt():
            fleet.check_ports()
            fleet.start(authority_of(fleet))
            with console.status("starting the governance authority"):
                ready = fleet.wait_ready()
            done(
                f"governance authority is up at {authority_of(fleet).base_url}", ready["authority"]
            )
            asyncio.run(onboard(fleet))
            fleet.start()
            with console.status("starting the participants"):
                ready = fleet.wait_ready()
            for p in connectors(fleet):
                done(f"{p.label} is up at {p.base_url}", ready[p.key])
            with console.status("participants fetch their credentials from the authority"):
                asyncio.run(wait_enrolled(fleet))
            summary = asyncio.run(scenario(fleet))
            print_summary(fleet, summary, time.monotonic() - began)
            code = 0
    except DemoError as exc:
        report_failure(fleet, exc, home)
        keep_data = keep_data or any(p.process is not None for p in fleet)  # keep the logs
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        code = 130
    finally:
        killed = fleet.stop()
        stopped = "all participants stopped"
        console.print(stopped + (f" (had to kill {', '.join(killed)})" if killed else ""))
        if not keep_data:
            shutil.rmtree(home, ignore_errors=True)
    return code
