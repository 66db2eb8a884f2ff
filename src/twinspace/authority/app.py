"""``create_authority_app(settings)``: the governance authority as an ASGI application.

Routes (``N`` = ``settings.name``): ``GET /N/did.json``, ``POST /N/issuer/credentials`` (DCP
credential request, synchronous answer), ``GET /N/status/revocation|suspension`` (signed status
lists), ``GET /N/trust-list``, and the admin API under ``/N/admin/participants`` (X-Api-Key).
Every error is JSON ``{"error": <code>, "message": <text>}``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinspace import __version__
from twinspace.clock import Clock, SystemClock
from twinspace.settings import Settings
from twinspace.store import Store
from twinspace.transparency.log import LogService
from twinspace.transparency.routes import router as log_router
from twinspace.trust.participant import KEY_FRAGMENT, load_or_create_key
from twinspace.trust.runtime import TrustRuntime

from .admin import admin_router
from .errors import AuthorityError
from .routes import public_router
from .service import AuthorityService

log = logging.getLogger("twinspace.authority")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "not_allowed"}


def create_authority_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The authority app. ``store``, ``clock`` and ``http_client`` (used to fetch callers' DID
    documents) are injected in tests; otherwise they come from ``settings``. The signing key is
    read from ``settings.effective_key_file()`` (generated on first start)."""
    if not settings.api_key:
        settings = settings.model_copy(update={"api_key": secrets.token_urlsafe(24)})
        log.warning("no TWINSPACE_API_KEY set; generated one for this run: %s", settings.api_key)
    api_key = settings.api_key or ""
    clock = clock or SystemClock()
    did = settings.effective_did()
    key = load_or_create_key(settings.effective_key_file(), f"{did}#{KEY_FRAGMENT}")
    owned_store = store is None
    store = store or Store.open(settings.effective_database_url())
    owned_http = http_client is None
    http = http_client or httpx.AsyncClient(timeout=settings.send_timeout)
    service = AuthorityService(settings, store=store, key=key, clock=clock)
    runtime = TrustRuntime(settings, did=did, key=key, store=store, clock=clock, http=http)
    log_service = LogService(did=did, key=key, store=store, clock=clock, resolver=runtime.resolver)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned_http:
                await http.aclose()
            if owned_store:
                store.close()

    app = FastAPI(
        title=f"twinspace governance authority ({settings.name})",
        version=__version__,
        lifespan=lifespan,
        docs_url=f"/{settings.name}/admin/docs",
        openapi_url=f"/{settings.name}/admin/openapi.json",
    )
    app.state.authority = service
    app.state.trust = runtime
    app.state.log = log_service
    _install_errors(app)
    app.include_router(public_router(service, runtime))
    app.include_router(log_router(log_service, f"/{settings.name}/log"))
    app.include_router(admin_router(service, api_key))
    return app


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(AuthorityError)
    async def _authority(_request: Request, exc: AuthorityError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            {"error": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(str(e.get("msg", e)) for e in exc.errors())
        return JSONResponse({"error": "bad_request", "message": problems}, status_code=400)
