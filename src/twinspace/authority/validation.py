"""What the admin API accepts: onboarding requests and status-change reasons, checked field by
field, each problem a ``bad_request`` that names the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinspace.identity import IdentityError, did_web_to_url

from .errors import AuthorityError

#: ISO 3166-1 alpha-2: the 249 officially assigned codes, plus XK (Kosovo, user-assigned but in
#: common official use, e.g. by the European Commission).
_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW XK
"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())

#: Column sizes of the ``members`` table.
MAX_DID, MAX_LEGAL_NAME, MAX_REGISTRATION_NUMBER = 512, 512, 128
MAX_ROLES, MAX_ROLE, MAX_REASON = 32, 64, 1000
_ROLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


@dataclass(frozen=True)
class Onboarding:
    """A validated request to onboard a participant."""

    did: str
    legal_name: str
    registration_number: str
    country: str
    roles: tuple[str, ...] = ()
    security_level: str | None = None


def bad(message: str) -> AuthorityError:
    return AuthorityError("bad_request", message)


def check_did(did: object) -> str:
    """A did:web DID (no DID URL), as :func:`twinspace.identity.did_web_to_url` accepts it."""
    if not isinstance(did, str) or not did.strip():
        raise bad("'did' must be a non-empty string (a did:web DID)")
    did = did.strip()
    if len(did) > MAX_DID:
        raise bad(f"'did' is longer than {MAX_DID} characters")
    try:
        did_web_to_url(did)
    except IdentityError as exc:
        raise bad(f"'did' is not a valid did:web DID: {exc.message}") from None
    return did


def check_country(country: object) -> str:
    """An ISO 3166-1 alpha-2 code (``de`` is read as ``DE``)."""
    if not isinstance(country, str):
        raise bad("'country' must be an ISO 3166-1 alpha-2 code such as DE or FR")
    code = country.strip().upper()
    if code not in COUNTRIES:
        raise bad(f"'country' {country!r} is not an ISO 3166-1 alpha-2 code (e.g. DE, FR, NL)")
    return code


def _text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad(f"{name!r} must be a non-empty string")
    if len(value.strip()) > limit:
        raise bad(f"{name!r} is longer than {limit} characters")
    return value.strip()


def check_roles(roles: object) -> tuple[str, ...]:
    """Role names (e.g. ``provider``, ``consumer``), duplicates dropped, order kept."""
    if roles is None:
        return ()
    if not isinstance(roles, list):
        raise bad("'roles' must be a list of role names")
    if len(roles) > MAX_ROLES:
        raise bad(f"'roles' lists more than {MAX_ROLES} roles")
    found: list[str] = []
    for role in roles:
        if not isinstance(role, str) or not _ROLE.match(role) or len(role) > MAX_ROLE:
            raise bad(
                f"role {role!r} is not a role name (letters, digits and . _ : -, "
                f"at most {MAX_ROLE} characters)"
            )
        if role not in found:
            found.append(role)
    return tuple(found)


def parse_onboarding(body: object) -> Onboarding:
    """``{"did", "legalName", "registrationNumber", "country", "roles", "securityLevel"?}`` ->
    :class:`Onboarding`."""
    if not isinstance(body, Mapping):
        raise bad("the body must be a JSON object with did, legalName, registrationNumber, country")
    return Onboarding(
        did=check_did(body.get("did")),
        legal_name=_text(body, "legalName", MAX_LEGAL_NAME),
        registration_number=_text(body, "registrationNumber", MAX_REGISTRATION_NUMBER),
        country=check_country(body.get("country")),
        roles=check_roles(body.get("roles")),
        security_level=check_security_level(body.get("securityLevel")),
    )


#: IDS certification levels, lowest first (the policy operand ``twinspace:securityLevel``).
SECURITY_LEVELS = ("base", "trust", "trust+")


def check_security_level(value: object) -> str | None:
    if value is None:
        return None
    if value not in SECURITY_LEVELS:
        raise bad(f"'securityLevel' must be one of {', '.join(SECURITY_LEVELS)}")
    return str(value)


def parse_reason(body: object) -> str | None:
    """The optional ``{"reason": "..."}`` of a status change (no body at all is fine)."""
    if body is None:
        return None
    if not isinstance(body, Mapping):
        raise bad('the body must be a JSON object: {"reason": "..."}')
    reason = body.get("reason")
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise bad("'reason' must be a string")
    if len(reason) > MAX_REASON:
        raise bad(f"'reason' is longer than {MAX_REASON} characters")
    return reason.strip() or None
