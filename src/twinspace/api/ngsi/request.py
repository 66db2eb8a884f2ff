"""HTTP binding details of NGSI-LD shared by every route (ETSI GS CIM 009 clause 6.3).

- the body: ``Content-Length`` required (411), ``application/json`` or ``application/ld+json``
  (or ``application/merge-patch+json`` where a merge is meant) else 415, valid JSON else
  InvalidRequest;
- the ``@context``: from the JSON-LD ``Link`` header with ``application/json``, from the body's
  ``@context`` member with ``application/ld+json`` (both at once, or a body ``@context`` under
  ``application/json``, is BadRequestData), else the core context alone;
- the representation asked for by ``Accept`` (406 when none of ours is acceptable);
- the tenant from ``NGSILD-Tenant``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from twinspace.twin.errors import NgsiError

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
TENANT_HEADER = "NGSILD-Tenant"
DEFAULT_TENANT = ""

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_TENANT = re.compile(r"^[A-Za-z0-9_\-:.]{1,64}$")


@dataclass(frozen=True)
class Body:
    """A parsed request body and the @context it is to be read with (None: core context only)."""

    payload: Any
    context: list[str | dict[str, Any]] | None
    media_type: str


class EncodedPathRoute(APIRoute):
    """A route whose path parameters may hold an encoded ``/`` (``%2F``): entity ids are URIs
    and may contain slashes, which clients percent-encode in the URL (clause 6.3.2). Starlette
    matches on the decoded path, where such a slash would split the segment; this matches on
    the raw path instead, each segment decoded on its own, and decodes the parameters after."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = scope.get("raw_path")
        if scope["type"] != "http" or not raw or b"%2f" not in raw.lower():
            return super().matches(scope)
        text = raw.decode("latin-1").split("?", 1)[0]
        segments = [
            unquote(part).replace("%", "%25").replace("/", "%2F") for part in text.split("/")
        ]
        match, child = super().matches({**scope, "path": "/".join(segments)})
        if match is not Match.NONE:
            params = child.get("path_params", {})
            child["path_params"] = {
                key: unquote(value) if isinstance(value, str) else value
                for key, value in params.items()
            }
        return match, child


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def link_context(request: Request) -> str | None:
    """The URL of the JSON-LD context ``Link`` header; BadRequestData when malformed or repeated."""
    found: list[str] = []
    for header in request.headers.getlist("link"):
        for match in _LINK.finditer(header):
            params = match.group(2).lower().replace(" ", "")
            if f'rel="{CONTEXT_REL}"' in params or f"rel={CONTEXT_REL}" in params:
                found.append(match.group(1).strip())
    if not found:
        return None
    if len(found) > 1:
        raise NgsiError("BadRequestData", "more than one JSON-LD context Link header was given")
    url = found[0]
    if not url.startswith(("http://", "https://", "urn:")):
        raise NgsiError(
            "BadRequestData", f"the JSON-LD context Link {url!r} is not an absolute URL"
        )
    return url


def query_context(request: Request) -> list[str | dict[str, Any]] | None:
    """The context a GET or DELETE is read with: the Link header's, else the core context."""
    url = link_context(request)
    return None if url is None else [url]


def _context_list(value: Any) -> list[str | dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    out: list[str | dict[str, Any]] = []
    for item in items:
        if isinstance(item, str | dict):
            out.append(item)
        else:
            raise NgsiError("BadRequestData", "@context must be a URL, an object or a list of them")
    return out


async def read_body(
    request: Request,
    limit: int,
    *,
    expect: type = dict,
    merge_patch: bool = False,
    contextual: bool = True,
) -> Body:
    """The request body, checked as clause 6.3.4/6.3.5 requires, with its @context;
    ``contextual=False`` for bodies whose ``@context`` member is data (POST /jsonldContexts)."""
    declared = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    if declared is None and not chunked:
        raise NgsiError("LengthRequired", "a request with a body needs a Content-Length header")
    kind = media_type(request.headers.get("content-type"))
    allowed = (JSON, JSON_LD, MERGE_PATCH) if merge_patch else (JSON, JSON_LD)
    if kind not in allowed:
        raise NgsiError(
            "UnsupportedMediaType",
            f"Content-Type {kind or '(none)'!r} is not supported here; use {' or '.join(allowed)}",
        )
    raw = await request.body()
    if len(raw) > limit:
        raise NgsiError("InvalidRequest", f"the request body exceeds {limit} bytes", status=413)
    try:
        payload = orjson.loads(raw)  # rejects NaN/Infinity and nesting beyond 1024
    except (ValueError, UnicodeDecodeError) as exc:
        raise NgsiError("InvalidRequest", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise NgsiError("InvalidRequest", "the request body is nested too deeply") from None
    if not isinstance(payload, expect):
        shape = "a JSON object" if expect is dict else "a JSON array"
        raise NgsiError("InvalidRequest", f"the request body must be {shape}")
    if not contextual:
        return Body(payload=payload, context=None, media_type=kind)
    link = link_context(request)
    items = payload if isinstance(payload, list) else [payload]
    contexts = [item.get("@context") for item in items if isinstance(item, dict)]
    if kind == JSON_LD:
        if link is not None:
            raise NgsiError(
                "BadRequestData",
                "a JSON-LD Link header must not be sent with Content-Type application/ld+json",
            )
        if not items or any(c is None for c in contexts) or len(contexts) != len(items):
            raise NgsiError(
                "BadRequestData",
                "with Content-Type application/ld+json the body must carry an @context"
                + (" in every entity" if isinstance(payload, list) else ""),
            )
        context: list[str | dict[str, Any]] | None = _context_list(contexts[0])
        if any(c != contexts[0] for c in contexts[1:]):
            raise NgsiError(
                "BadRequestData", "the entities of one request carry different @context"
            )
    else:
        if any(c is not None for c in contexts):
            raise NgsiError(
                "BadRequestData",
                "an @context in the body needs Content-Type application/ld+json "
                "(with application/json send it in a Link header)",
            )
        context = None if link is None else [link]
    return Body(payload=payload, context=context, media_type=kind)


def _accepted(header: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        q = 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        out.append((pieces[0].lower(), q))
    return out


def negotiate(request: Request, *, geojson: bool = False) -> str:
    """The response media type for ``Accept`` (application/json when absent); 406 otherwise."""
    header = request.headers.get("accept", "")
    if not header.strip():
        return JSON
    offered = [JSON, JSON_LD, *([GEO_JSON] if geojson else [])]
    best: tuple[float, int, str] | None = None
    for kind, q in _accepted(header):
        if q <= 0:
            continue
        for rank, media in enumerate(offered):
            if kind in (media, "*/*", "application/*"):
                candidate = (q, -rank if kind == media else -rank - 10, media)
                if best is None or candidate > best:
                    best = candidate
    if best is None:
        raise NgsiError(
            "NotAcceptable",
            f"none of {header!r} can be produced; this resource offers {', '.join(offered)}",
        )
    return best[2]


def tenant_of(request: Request) -> str:
    """The tenant named by ``NGSILD-Tenant`` ("" for the default tenant)."""
    value = request.headers.get(TENANT_HEADER)
    if value is None or value == "":
        return DEFAULT_TENANT
    if not _TENANT.match(value):
        raise NgsiError(
            "BadRequestData",
            f"the tenant {value!r} is not valid (1-64 letters, digits, '_', '-', ':' or '.')",
        )
    return value


def options(request: Request) -> set[str]:
    """The ``options`` (and ``format``) query parameters as one set of words."""
    words: set[str] = set()
    for name in ("options", "format"):
        for value in request.query_params.getlist(name):
            words.update(w.strip() for w in value.split(",") if w.strip())
    return words


def csv(request: Request, name: str) -> list[str] | None:
    """A comma-separated query parameter as a list (None when absent; BadRequestData if empty)."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    items = [v.strip() for value in values for v in value.split(",")]
    if any(not item for item in items):
        raise NgsiError("BadRequestData", f"the parameter {name!r} holds an empty item")
    return items


def integer(request: Request, name: str, default: int | None, *, minimum: int = 0) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise NgsiError("BadRequestData", f"the parameter {name!r} must be an integer") from None
    if value < minimum:
        raise NgsiError("BadRequestData", f"the parameter {name!r} must be at least {minimum}")
    return value
