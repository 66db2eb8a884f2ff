"""Responses of the NGSI-LD API: the @context as a Link header (JSON) or in the body (JSON-LD),
and errors as ProblemDetails."""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from twinspace.api.ngsi.request import CONTEXT_REL, GEO_JSON, JSON, JSON_LD
from twinspace.twin.context import CORE_CONTEXT_URL
from twinspace.twin.errors import NgsiError

Context = list[str | dict[str, Any]] | None

_STATUS_KINDS = {
    400: "BadRequestData",
    404: "ResourceNotFound",
    405: "OperationNotSupported",
    406: "NotAcceptable",
    409: "AlreadyExists",
    411: "LengthRequired",
    415: "UnsupportedMediaType",
    422: "OperationNotSupported",
}


def link_header(url: str) -> str:
    return f'<{url}>; rel="{CONTEXT_REL}"; type="{JSON_LD}"'


def context_url(context: Context) -> str:
    """The URL a Link header can name for ``context`` (one URL; the core context otherwise)."""
    if context and len(context) == 1 and isinstance(context[0], str):
        return context[0]
    return CORE_CONTEXT_URL


def body_context(context: Context) -> Any:
    if not context:
        return CORE_CONTEXT_URL
    return context[0] if len(context) == 1 else list(context)


def dumps(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # an integer beyond 64 bits: the standard encoder writes it exactly
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def ngsi_response(
    body: Any,
    media: str,
    context: Context,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` (an entity, a list of them, a FeatureCollection...) in ``media`` with its context."""
    out = dict(headers or {})
    if media == JSON_LD:
        ctx = body_context(context)
        if isinstance(body, list):
            body = [{**item, "@context": ctx} if isinstance(item, dict) else item for item in body]
        elif isinstance(body, dict):
            body = {**body, "@context": ctx}
    else:
        out["Link"] = link_header(context_url(context))
    return Response(dumps(body), status_code=status, media_type=media, headers=out)


def plain(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON body that carries no terms to compact (batch results, ids)."""
    return Response(dumps(body), status_code=status, media_type=JSON, headers=headers)


def problem(exc: NgsiError) -> JSONResponse:
    return JSONResponse(exc.problem(), status_code=exc.status, media_type=JSON)


def problem_for_status(status: int, detail: str) -> JSONResponse:
    """A ProblemDetails answer for an error raised outside the NGSI-LD code (routing, framework)."""
    kind = _STATUS_KINDS.get(status, "InternalError" if status >= 500 else "BadRequestData")
    return problem(NgsiError(kind, detail, status=status))


__all__ = [
    "GEO_JSON",
    "JSON",
    "JSON_LD",
    "body_context",
    "context_url",
    "link_header",
    "ngsi_response",
    "plain",
    "problem",
    "problem_for_status",
]
