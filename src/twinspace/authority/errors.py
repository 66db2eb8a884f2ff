"""The authority's one error type: a machine-readable ``code`` (which fixes the HTTP status) and
a message in words. Every refusal of the service and the API is an :class:`AuthorityError`."""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "bad_request",  # unreadable or invalid input (JSON, message, field, credential type)
    "unauthorized",  # no or a bad ID token / API key
    "not_onboarded",  # the caller's DID is not in the register
    "revoked",  # the caller's membership was revoked (final)
    "suspended",  # the caller's membership is suspended (reversible)
    "not_found",  # no such member (admin API) or route
    "conflict",  # already onboarded, or a status change that is not allowed
]

#: The HTTP status of each code.
HTTP_STATUS: dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "not_onboarded": 403,
    "revoked": 403,
    "suspended": 403,
    "not_found": 404,
    "conflict": 409,
}


class AuthorityError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}
