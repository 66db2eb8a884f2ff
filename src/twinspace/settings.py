"""Settings for one participant's connector, read from ``TWINSPACE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from twinspace.identity.did import did_web_for


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWINSPACE_", extra="ignore")

    name: str = Field(
        "participant", description="Short name of this participant (also names its files)"
    )
    participant_id: str = Field(
        "", description="The DSP participantId of this participant (default urn:twinspace:<name>)"
    )
    host: str = "127.0.0.1"
    port: int = 8181
    public_url: str | None = Field(
        None,
        description="Base URL other participants use to reach this one (default http://host:port)",
    )
    dsp_path: str = Field("/dsp", description="Path under which the DSP endpoints are served")
    data_dir: Path = Field(Path("var"), description="Where the SQLite file and received data go")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/<name>.db"
    )
    api_key: str | None = Field(None, description="X-Api-Key for the management API (required)")
    did: str | None = Field(
        None,
        description="did:web DID of this participant (default did:web:<host>%3A<port>:<name> "
        "from the public URL)",
    )
    key_file: Path | None = Field(
        None,
        description="Private signing key (JWK, generated on first start); "
        "default <data_dir>/<name>.key.json",
    )

    auth: Literal["dcp", "none"] = Field(
        "dcp",
        description="How DSP callers are authenticated: dcp (self-issued ID tokens and verifiable "
        "credentials, DCP 1.0) or none (development only: the Authorization header names the "
        "caller)",
    )
    authority: str | None = Field(
        None,
        description="DID of the governance authority: trusted as an issuer, and this participant "
        "asks it for its own credentials",
    )
    transparency_log: str | None = Field(
        None,
        description="DID of the transparency log agreements and transfers are logged to "
        "(default: the authority, with auth=dcp; 'none' turns logging off)",
    )
    run_log: bool = Field(
        False,
        description="Also run a transparency log at <base>/<name>/log (auth=dcp); others may "
        "log to it with TWINSPACE_TRANSPARENCY_LOG=<this DID>",
    )
    trusted_issuers: list[str] = Field(
        default_factory=list,
        description='More trusted credential issuers (DIDs, JSON list: ["did:web:..."])',
    )
    dataspace: str = Field(
        "urn:twinspace:dataspace",
        description="Id of the data space: the authority certifies membership of it and callers "
        "must hold such a membership",
    )
    allow_http_did: bool = Field(
        False,
        description="Development only: resolve did:web on localhost/127.0.0.1 over plain http",
    )
    key_overlap_seconds: int = Field(
        86_400,
        description="After a key rotation, how long the old key stays valid (make it longer "
        "than every verifier's DID cache)",
    )
    did_cache_seconds: float = Field(300, description="How long a resolved DID document is used")
    status_list_cache_seconds: float = Field(
        60,
        description="How long a fetched status list is used (a revocation takes effect within it)",
    )
    presentation_cache_seconds: float = Field(
        60,
        description="How long a caller's verified credentials are reused (capped by "
        "status_list_cache_seconds)",
    )
    on_authority_unreachable: Literal["refuse", "stale"] = Field(
        "refuse",
        description="When DID documents or status lists cannot be refreshed: refuse callers, or "
        "keep using the expired copy for stale_grace_seconds",
    )
    stale_grace_seconds: float = Field(
        600, description="How long an expired copy may serve with on_authority_unreachable=stale"
    )
    token_leeway_seconds: float = Field(30, description="Clock skew tolerated on token times")
    id_token_seconds: int = Field(
        120, description="Lifetime of the ID tokens this participant sends"
    )
    credential_days: int = Field(
        365, description="Authority: validity of the credentials it issues, in days"
    )
    status_list_seconds: int = Field(
        3600, description="Authority: validity of each status list credential it publishes"
    )

    usage_enforcement: bool = Field(
        True,
        description="Decide every data-plane access by the agreement's policy (turn off only "
        "to measure its cost)",
    )
    policy_monitor_seconds: float = Field(
        5.0, description="How often running transfers are checked against their agreements"
    )

    max_body_bytes: int = Field(1_048_576, description="Largest DSP request body accepted")
    catalog_page_size: int = 50

    token_ttl_seconds: int = Field(300, description="Lifetime of a data-plane access token")
    refresh_ttl_seconds: int = Field(86_400, description="Lifetime of a data-plane refresh token")

    manager_interval: float = Field(0.05, description="Seconds between outbox polls when idle")
    lease_seconds: float = Field(30.0, description="How long a claimed outbound message is leased")
    send_timeout: float = Field(10.0, description="HTTP timeout for one outbound DSP message")
    max_attempts: int = Field(8, description="Delivery attempts before a process is terminated")
    backoff_base: float = Field(
        0.25, description="First retry delay in seconds (doubles each time)"
    )
    backoff_max: float = Field(30.0, description="Largest retry delay in seconds")
    run_managers: bool = Field(True, description="Run the outbound manager loop in this process")

    tck_mode: bool = Field(False, description="Serve the hooks the Eclipse DSP TCK needs")
    twin: bool = Field(True, description="Run the NGSI-LD twin broker at /ngsi-ld/v1")
    twin_auth: Literal["api-key", "none"] = Field(
        "api-key",
        description="Who may use the NGSI-LD API: api-key (the X-Api-Key of the management API) "
        "or none (open: conformance runs, or behind an authenticating gateway)",
    )
    twin_context_dir: Path | None = Field(
        None,
        description="A folder of @context documents to preload (index.json maps URL to file), "
        "for deployments without internet",
    )
    twin_context_timeout: float = Field(
        3.0, description="Timeout for fetching a user's remote @context (fetched once, cached)"
    )
    twin_validate_models: bool = Field(
        True,
        description="Check entities of the bundled Smart Data Model types against their schema",
    )
    twin_max_limit: int = Field(1000, description="Largest page size of an NGSI-LD query")
    twin_max_body_bytes: int = Field(
        16 * 1_048_576, description="Largest NGSI-LD request body accepted (batches)"
    )
    twin_writers: int = Field(
        0,
        ge=0,
        le=64,
        description="Writer processes that share the twin's large batch writes (0: all in the "
        "server process; up to one per core helps, see docs/twin.md)",
    )
    twin_notify_attempts: int = Field(
        8, description="Delivery attempts of an NGSI-LD notification before it is given up"
    )
    mqtt_url: str | None = Field(
        None,
        description="MQTT broker the twin ingests sensor messages from, e.g. mqtt://127.0.0.1:1883 "
        "(none: no MQTT ingest)",
    )
    mqtt_prefix: str = Field(
        "twinspace/ngsi-ld", description="Topic prefix of the MQTT ingest (<prefix>/<tenant>/...)"
    )
    mqtt_context: str = Field(
        "https://smartdatamodels.org/context.jsonld",
        description="@context of MQTT payloads that carry none",
    )

    gc_threshold: int = Field(
        50_000,
        ge=0,
        description="Young-generation threshold of the garbage collector in `twinspace serve` "
        "(0: Python's default, 700); high values spare large batches hundreds of collections",
    )

    @model_validator(mode="after")
    def _default_participant_id(self) -> Settings:
        if self.auth == "dcp":  # under DCP a participant is known by its DID, nothing else
            if not self.participant_id:
                self.participant_id = self.effective_did()
            elif self.participant_id != self.effective_did():
                raise ValueError(
                    f"with auth=dcp the participant id is the DID ({self.effective_did()}); "
                    f"participant_id {self.participant_id!r} differs (leave it unset)"
                )
        elif not self.participant_id:
            self.participant_id = f"urn:twinspace:{self.name}"
        if self.tck_mode and self.auth != "none":
            raise ValueError("TCK mode speaks the unauthenticated profile: set auth=none")
        return self

    def log_did(self) -> str | None:
        """The transparency log to use: the configured one, else the authority's (DCP only)."""
        if self.transparency_log == "none" or self.auth != "dcp":
            return None
        return self.transparency_log or self.authority

    def issuers(self) -> frozenset[str]:
        """Trusted credential issuers: the authority and the extra ones."""
        return frozenset([*([self.authority] if self.authority else []), *self.trusted_issuers])

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def dsp_url(self) -> str:
        return self.base_url() + self.dsp_path.rstrip("/")

    def effective_did(self) -> str:
        """The configured DID, else the path-based did:web of the public URL and name."""
        return self.did or did_web_for(self.base_url(), self.name)

    def effective_key_file(self) -> Path:
        return self.key_file or self.data_dir / f"{self.name}.key.json"

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{self.name}.db').resolve()}"
