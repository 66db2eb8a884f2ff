"""Every error mapped in one place, each in its protocol's own format."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinspace.api.ngsi.respond import problem, problem_for_status
from twinspace.connector.errors import ManagementError, ProtocolError
from twinspace.protocol import messages as m
from twinspace.twin.errors import NgsiError

log = logging.getLogger("twinspace.api")
NGSI_PATH = "/ngsi-ld/"


def protocol_error_body(exc: ProtocolError) -> dict[str, Any]:
    if exc.area == "negotiation":
        return m.negotiation_error(
            provider_pid=exc.provider_pid,
            consumer_pid=exc.consumer_pid,
            code=exc.code,
            reason=exc.reason,
        )
    if exc.area == "transfer":
        return m.transfer_error(
            provider_pid=exc.provider_pid,
            consumer_pid=exc.consumer_pid,
            code=exc.code,
            reason=exc.reason,
        )
    return m.catalog_error(code=exc.code, reason=exc.reason)


def area_of(path: str, dsp_path: str) -> str | None:
    """The DSP area a request path belongs to, or None outside the DSP endpoints."""
    rest = path[len(dsp_path) :] if dsp_path and path.startswith(dsp_path) else None
    if rest is None:
        return None
    for area, prefix in (
        ("negotiation", "/negotiations"),
        ("transfer", "/transfers"),
        ("catalog", "/catalog"),
    ):
        if rest.startswith(prefix):
            return area
    return "catalog"


def management_error(status: int, message: str, kind: str) -> JSONResponse:
    """EDC's management API answers errors as a list of {message, type}."""
    return JSONResponse([{"message": message, "type": kind}], status_code=status)


def install(app: FastAPI, dsp_path: str) -> None:
    @app.exception_handler(ProtocolError)
    async def _protocol(_request: Request, exc: ProtocolError) -> JSONResponse:
        return JSONResponse(protocol_error_body(exc), status_code=exc.status)

    @app.exception_handler(ManagementError)
    async def _management(_request: Request, exc: ManagementError) -> JSONResponse:
        return management_error(exc.status, exc.message, exc.kind)

    @app.exception_handler(NgsiError)
    async def _ngsi(_request: Request, exc: NgsiError) -> JSONResponse:
        return problem(exc)

    def _fallback(request: Request, status: int, code: str, reason: str) -> JSONResponse:
        if request.url.path.startswith(NGSI_PATH):  # NGSI-LD: ProblemDetails
            return problem_for_status(status, reason)
        area = area_of(request.url.path, dsp_path)
        if area is not None:
            return JSONResponse(
                protocol_error_body(ProtocolError(area, status, code, reason)), status_code=status
            )
        kinds = {
            400: "InvalidRequest",
            401: "AuthenticationFailed",
            404: "ObjectNotFound",
            405: "MethodNotAllowed",
        }
        return management_error(status, reason, kinds.get(status, "Error"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _fallback(request, exc.status_code, str(exc.status_code), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _fallback(request, 400, "INVALID_REQUEST", problems)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _fallback(request, 500, "INTERNAL_ERROR", f"internal error: {type(exc).__name__}")
