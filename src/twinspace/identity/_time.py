"""Time helpers shared by tokens, credentials and presentations (internal)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import IdentityError, malformed


def parse_datetime(value: object, what: str) -> datetime:
    """An XSD ``dateTimeStamp`` (ISO 8601 with an offset or ``Z``), as VC DM 2.0 §4.9 and
    CID 1.0 §2.2 require; a date-time without a timezone is ``malformed``."""
    if not isinstance(value, str):
        raise malformed(f"{what} must be a date-time string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise malformed(f"{what} {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise malformed(f"{what} {value!r} has no timezone")
    return moment.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    """Seconds precision, ``Z`` suffix: ``2026-01-01T00:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> datetime | None:
    """A JWT NumericDate claim (RFC 7519 §2) as a UTC datetime."""
    value = claims.get(name)
    if value is None:
        if required:
            raise malformed(f"claim {name!r} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise malformed(f"claim {name!r} must be a NumericDate (a number)")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise malformed(f"claim {name!r} is out of range") from None


def required_date(claims: Mapping[str, Any], name: str) -> datetime:
    """Like :func:`numeric_date`, but the claim must be present."""
    value = numeric_date(claims, name, required=True)
    if value is None:  # pragma: no cover - numeric_date raised already
        raise malformed(f"claim {name!r} is missing")
    return value


def check_window(
    now: datetime,
    *,
    not_before: datetime | None,
    not_after: datetime | None,
    leeway: timedelta,
    what: str,
) -> None:
    """Refuse with ``not_yet_valid`` / ``expired`` outside ``[not_before, not_after]``
    widened by ``leeway`` on both ends (RFC 7519 §4.1.4-4.1.5, VC DM 2.0 §4.9)."""
    if not_before is not None and now + leeway < not_before:
        raise IdentityError("not_yet_valid", f"{what} is not valid before {not_before}")
    if not_after is not None and now - leeway >= not_after:
        raise IdentityError("expired", f"{what} expired at {not_after}")
