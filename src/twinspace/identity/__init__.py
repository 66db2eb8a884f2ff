"""Trust core (DCP 1.0 style), pure and sans-I/O: keys, did:web, VC/VP over JOSE, status lists,
self-issued ID tokens. Documents and status lists come in already fetched through
:class:`DidResolver` / :class:`StatusListSource`; time comes from an injected clock.
Every refusal is an :class:`IdentityError` with a ``code``. See docs/identity.md.
"""

from .context import (
    DidResolver,
    InMemoryDidResolver,
    InMemoryStatusLists,
    StatusListSource,
    TrustContext,
)
from .credentials import (
    LEGAL_PARTICIPANT,
    MEMBERSHIP,
    VerifiedCredential,
    issue_credential,
    legal_participant_credential,
    membership_credential,
    verify_credential,
)
from .did import (
    CATALOG_SERVICE,
    CREDENTIAL_SERVICE,
    DATA_SERVICE,
    DidDocument,
    Service,
    VerificationMethod,
    build_did_document,
    did_web_for,
    did_web_to_url,
    parse_did_document,
    split_did_url,
    url_to_did_web,
)
from .errors import ERROR_CODES, ErrorCode, IdentityError
from .keys import SigningKey, export_public_jwk, generate_key, load_public_jwk, load_signing_key
from .presentations import ParticipantClaims, create_presentation, verify_presentation
from .status_list import StatusList, status_entry, status_list_credential
from .tokens import IdToken, InMemoryReplayStore, ReplayStore, create_id_token, verify_id_token

__all__ = [
    "CATALOG_SERVICE",
    "CREDENTIAL_SERVICE",
    "DATA_SERVICE",
    "ERROR_CODES",
    "LEGAL_PARTICIPANT",
    "MEMBERSHIP",
    "DidDocument",
    "DidResolver",
    "ErrorCode",
    "IdToken",
    "IdentityError",
    "InMemoryDidResolver",
    "InMemoryReplayStore",
    "InMemoryStatusLists",
    "ParticipantClaims",
    "ReplayStore",
    "Service",
    "SigningKey",
    "StatusList",
    "StatusListSource",
    "TrustContext",
    "VerificationMethod",
    "VerifiedCredential",
    "build_did_document",
    "create_id_token",
    "create_presentation",
    "did_web_for",
    "did_web_to_url",
    "export_public_jwk",
    "generate_key",
    "issue_credential",
    "legal_participant_credential",
    "load_public_jwk",
    "load_signing_key",
    "membership_credential",
    "parse_did_document",
    "split_did_url",
    "status_entry",
    "status_list_credential",
    "url_to_did_web",
    "verify_credential",
    "verify_id_token",
    "verify_presentation",
]
