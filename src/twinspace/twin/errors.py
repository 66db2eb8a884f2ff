"""NGSI-LD errors as problem details (CIM 009 §5.5.2, RFC 9457).

Every pure twin module raises :class:`NgsiError`; the HTTP layer turns it into an
``application/json`` (or ``application/problem+json``) body with :meth:`NgsiError.problem`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ERRORS_BASE", "HTTP_KINDS", "NGSI_KINDS", "NgsiError"]

ERRORS_BASE = "https://uri.etsi.org/ngsi-ld/errors/"

# kind -> (HTTP status, default title); the error types of CIM 009 §5.5.2.
NGSI_KINDS: dict[str, tuple[int, str]] = {
    "InvalidRequest": (400, "Invalid request"),
    "BadRequestData": (400, "Bad request data"),
    "AlreadyExists": (409, "Already exists"),
    "OperationNotSupported": (422, "Operation not supported"),
    "ResourceNotFound": (404, "Resource not found"),
    "InternalError": (500, "Internal error"),
    "TooComplexQuery": (403, "Too complex query"),
    "TooManyResults": (403, "Too many results"),
    "LdContextNotAvailable": (504, "LD context not available"),
    "NoMultiTenantSupport": (501, "No multi-tenant support"),
    "NonexistentTenant": (404, "Nonexistent tenant"),
}

# HTTP-level problems that have no NGSI-LD error type: their ``type`` is ``about:blank``.
HTTP_KINDS: dict[str, tuple[int, str]] = {
    "LengthRequired": (411, "Length required"),
    "UnsupportedMediaType": (415, "Unsupported media type"),
    "NotAcceptable": (406, "Not acceptable"),
    "Unauthorized": (401, "Unauthorized"),
}


class NgsiError(Exception):
    """An NGSI-LD problem: ``kind`` names the error type, ``detail`` says what went wrong."""

    def __init__(
        self, kind: str, detail: str, *, title: str | None = None, status: int | None = None
    ) -> None:
        known = NGSI_KINDS.get(kind) or HTTP_KINDS.get(kind)
        if known is None:
            raise ValueError(f"unknown NGSI-LD error kind: {kind!r}")
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = known[0] if status is None else status
        self.title = known[1] if title is None else title
        self.type = ERRORS_BASE + kind if kind in NGSI_KINDS else "about:blank"

    def problem(self) -> dict[str, Any]:
        """The ProblemDetails JSON object: type, title, status, detail."""
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }

    def __repr__(self) -> str:
        return f"NgsiError({self.kind!r}, {self.detail!r})"
