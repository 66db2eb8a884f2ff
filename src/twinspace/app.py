"""``create_app(settings)``: one participant's connector as an ASGI application."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from twinspace import __version__
from twinspace.api import (
    credentials,
    did,
    dsp,
    errors,
    management,
    ngsi,
    public,
    tck,
    transparency,
    twin_admin,
)
from twinspace.clock import Clock
from twinspace.connector.service import Connector
from twinspace.dataplane.push import pusher_for
from twinspace.settings import Settings
from twinspace.store import Store
from twinspace.trust.participant import load_identity
from twinspace.twin.dataspace import TwinSharing
from twinspace.twin.service import MqttSource, Twin, TwinLimits

log = logging.getLogger("twinspace")


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    settings = settings or Settings()
    if not settings.api_key:
        settings = settings.model_copy(update={"api_key": secrets.token_urlsafe(24)})
        log.warning("no TWINSPACE_API_KEY set; generated one for this run: %s", settings.api_key)
    identity = load_identity(settings, clock)  # the signing key: generated on first start
    if settings.auth == "none":
        log.warning(
            "auth=none: DSP callers are NOT authenticated (development only); "
            "set TWINSPACE_AUTH=dcp and TWINSPACE_AUTHORITY for a data space"
        )
    elif not settings.issuers():
        log.warning(
            "auth=dcp but no TWINSPACE_AUTHORITY or TWINSPACE_TRUSTED_ISSUERS: every caller "
            "will be refused until an issuer is trusted"
        )
    connector = Connector(
        settings,
        store=store,
        clock=clock,
        http_client=http_client,
        pusher_factory=pusher_for,
        identity=identity,
    )
    if settings.tck_mode:  # TCK mode hook: seed the TCK fixtures, script their next actions
        from twinspace.tck import install

        install(connector)

    twin = build_twin(settings, connector) if settings.twin else None
    if twin is not None:  # twin queries as data-space assets, pulled or streamed
        TwinSharing(twin, settings.data_dir).install(connector)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with connector.running():
            if twin is None:
                yield
            else:
                async with twin.running():
                    yield

    app = FastAPI(
        title=f"twinspace connector ({settings.name})",
        version=__version__,
        lifespan=lifespan,
        docs_url="/management/docs",
        openapi_url="/management/openapi.json",
    )
    app.state.connector = connector
    app.state.identity = identity
    app.state.twin = twin
    errors.install(app, settings.dsp_path)
    app.include_router(dsp.version_router(connector))
    app.include_router(dsp.router(connector), prefix=settings.dsp_path)
    app.include_router(management.router(connector))
    app.include_router(public.router(connector))
    app.include_router(tck.router(connector))
    app.include_router(did.router(connector))
    app.include_router(credentials.router(connector))
    app.include_router(transparency.router(connector))
    if twin is not None:
        key = settings.api_key if settings.twin_auth == "api-key" else None
        app.include_router(ngsi.router(twin, api_key=key))
        app.include_router(twin_admin.router(twin, connector))
    if settings.run_log and connector.trust is not None:  # this participant runs a log too
        from twinspace.transparency.log import LogService
        from twinspace.transparency.routes import router as log_router

        log_service = LogService(
            did=identity.did,
            key=identity.keyring,
            store=connector.store,
            clock=connector.ctx.clock,
            resolver=connector.trust.resolver,
        )
        app.state.log = log_service
        app.include_router(log_router(log_service, f"/{settings.name}/log"))
    return app


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def build_twin(settings: Settings, connector: Connector) -> Twin:
    """The participant's NGSI-LD twin over the connector's store, clock and HTTP client."""
    mqtt = None
    if settings.mqtt_url:
        mqtt = MqttSource.from_url(
            settings.mqtt_url,
            prefix=settings.mqtt_prefix,
            context=settings.mqtt_context,
            # stable for this deployment (its persistent MQTT session), distinct from any other
            client_id=f"twinspace-{settings.name}-{_digest(settings.effective_database_url())}",
        )
    return Twin(
        connector.store,
        connector.http,
        clock=connector.ctx.clock,
        context_dir=settings.twin_context_dir,
        context_timeout=settings.twin_context_timeout,
        base_url=settings.base_url(),
        validate_models=settings.twin_validate_models,
        limits=TwinLimits(
            max_limit=settings.twin_max_limit, max_body_bytes=settings.twin_max_body_bytes
        ),
        notify_attempts=settings.twin_notify_attempts,
        mqtt=mqtt,
        writers=settings.twin_writers,
        gc_threshold=settings.gc_threshold,
    )
