"""The data space's governance authority (``twinspace authority``): onboards participants,
issues them MembershipCredential and LegalParticipantCredential (W3C VC 2.0, ``vc+jwt``) over
the DCP issuance flow, publishes revocation and suspension Bitstring Status Lists and its trust
list. See docs/authority.md."""

from .app import create_authority_app
from .errors import AuthorityError
from .service import CREDENTIAL_TYPES, ISSUER_SERVICE, AuthorityService
from .validation import Onboarding

__all__ = [
    "CREDENTIAL_TYPES",
    "ISSUER_SERVICE",
    "AuthorityError",
    "AuthorityService",
    "Onboarding",
    "create_authority_app",
]
