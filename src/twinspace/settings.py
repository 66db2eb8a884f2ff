"""Settings for one participant's connector, read from ``TWINSPACE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

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

    @model_validator(mode="after")
    def _default_participant_id(self) -> Settings:
        if not self.participant_id:
            self.participant_id = f"urn:twinspace:{self.name}"
        return self

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
