"""Validation of DSP 2025-1 messages against the official JSON Schemas bundled with the package.

Nothing is fetched: every schema is registered by its ``$id`` in a ``referencing.Registry``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

SPEC_VERSION = "2025-1"
BASE_ID = "https://w3id.org/dspace/2025/1/"
DSPACE_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
ODRL_PROFILE_CONTEXT = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"

#: ``@type`` of a message -> schema path under the 2025-1 folder.
SCHEMA_FOR_TYPE: dict[str, str] = {
    "CatalogRequestMessage": "catalog/catalog-request-message-schema.json",
    "DatasetRequestMessage": "catalog/dataset-request-message-schema.json",
    "Catalog": "catalog/catalog-schema.json",
    "Dataset": "catalog/dataset-schema.json",
    "CatalogError": "catalog/catalog-error-schema.json",
    "ContractRequestMessage": "negotiation/contract-request-message-schema.json",
    "ContractOfferMessage": "negotiation/contract-offer-message-schema.json",
    "ContractAgreementMessage": "negotiation/contract-agreement-message-schema.json",
    "ContractAgreementVerificationMessage": (
        "negotiation/contract-agreement-verification-message-schema.json"
    ),
    "ContractNegotiationEventMessage": "negotiation/contract-negotiation-event-message-schema.json",
    "ContractNegotiationTerminationMessage": (
        "negotiation/contract-negotiation-termination-message-schema.json"
    ),
    "ContractNegotiation": "negotiation/contract-negotiation-schema.json",
    "ContractNegotiationError": "negotiation/contract-negotiation-error-schema.json",
    "TransferRequestMessage": "transfer/transfer-request-message-schema.json",
    "TransferStartMessage": "transfer/transfer-start-message-schema.json",
    "TransferSuspensionMessage": "transfer/transfer-suspension-message-schema.json",
    "TransferCompletionMessage": "transfer/transfer-completion-message-schema.json",
    "TransferTerminationMessage": "transfer/transfer-termination-message-schema.json",
    "TransferProcess": "transfer/transfer-process-schema.json",
    "TransferError": "transfer/transfer-error-schema.json",
}
VERSION_SCHEMA = "common/protocol-version-schema.json"


class SchemaViolation(ValueError):
    """A message does not conform to its DSP schema; ``errors`` lists each problem."""

    def __init__(self, message_type: str, errors: list[str]) -> None:
        super().__init__(
            f"{message_type} does not conform to the DSP 2025-1 schema: " + "; ".join(errors)
        )
        self.message_type = message_type
        self.errors = errors


def _spec_root() -> Any:
    return resources.files("twinspace.protocol").joinpath("spec", SPEC_VERSION)


def _load(path: str) -> dict[str, Any]:
    text = _spec_root().joinpath(path).read_text(encoding="utf-8")
    # Upstream defect in 2025-1: some $refs use "#definitions/..." (not a JSON pointer).
    doc: dict[str, Any] = json.loads(text.replace(".json#definitions/", ".json#/definitions/"))
    return doc


@cache
def _registry() -> Registry:
    docs = []
    root = _spec_root()
    for area in ("catalog", "negotiation", "transfer", "common"):
        for entry in root.joinpath(area).iterdir():
            if entry.name.endswith("-schema.json"):
                docs.append(_load(f"{area}/{entry.name}"))
    return Registry().with_resources(
        (d["$id"], Resource.from_contents(d, default_specification=DRAFT201909)) for d in docs
    )


@cache
def _validator(path: str) -> Draft201909Validator:
    return Draft201909Validator(_load(path), registry=_registry())


def context_document(name: str) -> dict[str, Any]:
    """A bundled JSON-LD context: ``dspace.jsonld`` or ``odrl.jsonld``."""
    doc: dict[str, Any] = json.loads(_spec_root().joinpath("context", name).read_text("utf-8"))
    return doc


def problems(document: Any, schema_path: str) -> list[str]:
    """Every schema problem of ``document`` (empty when valid), each with its JSON path."""
    found = []
    for err in sorted(_validator(schema_path).iter_errors(document), key=lambda e: e.json_path):
        found.append(f"{err.json_path}: {err.message}")
    return found


def validate(document: Any, expected_type: str | None = None) -> None:
    """Raise SchemaViolation unless ``document`` is a valid DSP message of ``expected_type``.

    Without ``expected_type`` the document's own ``@type`` picks the schema.
    """
    if not isinstance(document, dict):
        raise SchemaViolation(expected_type or "message", ["$: a JSON object is required"])
    actual = document.get("@type")
    message_type = expected_type or (actual if isinstance(actual, str) else "")
    if message_type not in SCHEMA_FOR_TYPE:
        raise SchemaViolation(
            message_type or "message", [f"$.@type: unknown message type {actual!r}"]
        )
    if expected_type is not None and actual != expected_type:
        raise SchemaViolation(
            expected_type, [f"$.@type: expected {expected_type!r}, got {actual!r}"]
        )
    errors = problems(document, SCHEMA_FOR_TYPE[message_type])
    if errors:
        raise SchemaViolation(message_type, errors)


def validate_version_document(document: Any) -> None:
    errors = problems(document, VERSION_SCHEMA)
    if errors:
        raise SchemaViolation("protocol version", errors)
