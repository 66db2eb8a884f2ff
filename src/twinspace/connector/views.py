"""How the management API shows things: EDC's JSON shapes for this connector's records.

Timestamps are epoch milliseconds (``createdAt``, ``stateTimestamp``, ``nextRetryAt``), except an
agreement's ``contractSigningDate``, which EDC gives in epoch seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from twinspace.connector.jsonld import KNOWN_PREFIXES, compact_term, with_context
from twinspace.protocol import messages as m
from twinspace.protocol.machine import Role
from twinspace.store import (
    PENDING,
    Agreement,
    Asset,
    ContractDefinition,
    Negotiation,
    OutboxItem,
    PolicyDefinition,
    Transfer,
)

Json = dict[str, Any]

#: The DSP version (EDC's ``protocol`` value) this connector speaks.
PROTOCOL = "dataspace-protocol-http:2025-1"
#: Keys of a data address that are not endpoint properties.
_ADDRESS_KEYS = (
    "@type",
    "@id",
    "type",
    "endpointType",
    "endpoint",
    "baseUrl",
    "endpointProperties",
)


def epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def id_response(record_id: str, created: datetime | None) -> Json:
    return with_context({"@type": "IdResponse", "@id": record_id, "createdAt": epoch_ms(created)})


# --- definitions -------------------------------------------------------------------------------


def asset_view(a: Asset) -> Json:
    return with_context(
        {
            "@id": a.id,
            "@type": "Asset",
            "properties": a.properties,
            "privateProperties": a.private_properties,
            "dataAddress": {"@type": "DataAddress", **a.data_address},
            "createdAt": epoch_ms(a.created_at),
        }
    )


def policy_view(p: PolicyDefinition) -> Json:
    return with_context(
        {
            "@id": p.id,
            "@type": "PolicyDefinition",
            "policy": {"@type": "Set", **p.policy},
            "createdAt": epoch_ms(p.created_at),
        }
    )


def contract_definition_view(d: ContractDefinition) -> Json:
    return with_context(
        {
            "@id": d.id,
            "@type": "ContractDefinition",
            "accessPolicyId": d.access_policy_id,
            "contractPolicyId": d.contract_policy_id,
            "assetsSelector": [{"@type": "Criterion", **c} for c in d.assets_selector],
            "createdAt": epoch_ms(d.created_at),
        }
    )


# --- processes ---------------------------------------------------------------------------------


def pending_view(item: OutboxItem | None) -> Json | None:
    """twinspace extension: the delivery status of the latest outbound message of a process."""
    if item is None:
        return None
    return {
        "type": item.message_type,
        "status": item.status,
        "attempts": item.attempts,
        "lastError": item.last_error,
        "nextRetryAt": epoch_ms(item.next_attempt_at) if item.status == PENDING else None,
    }


def _correlation(role: str, provider_pid: str | None, consumer_pid: str | None) -> str | None:
    """The counter-party's process id."""
    return provider_pid if role == Role.CONSUMER else consumer_pid


def negotiation_view(n: Negotiation, pending: OutboxItem | None) -> Json:
    return with_context(
        {
            "@type": "ContractNegotiation",
            "@id": n.id,
            "type": n.role,
            "protocol": PROTOCOL,
            "state": n.state,
            "counterPartyId": n.counter_party_id,
            "counterPartyAddress": n.counter_party_address,
            "correlationId": _correlation(n.role, n.provider_pid, n.consumer_pid),
            "assetId": n.asset_id,
            "contractAgreementId": n.agreement_id,
            "errorDetail": n.error_detail,
            "callbackAddresses": [],
            "createdAt": epoch_ms(n.created_at),
            "stateTimestamp": epoch_ms(n.updated_at),
            "pendingMessage": pending_view(pending),
        }
    )


def agreement_view(a: Agreement) -> Json:
    return with_context(
        {
            "@type": "ContractAgreement",
            "@id": a.id,
            "assetId": a.asset_id,
            "policy": a.policy,
            "contractSigningDate": int(a.signed_at.timestamp()),
            "consumerId": a.consumer_id,
            "providerId": a.provider_id,
            "contractNegotiationId": a.negotiation_id,
        }
    )


def transfer_view(t: Transfer, pending: OutboxItem | None) -> Json:
    doc: Json = {
        "@type": "TransferProcess",
        "@id": t.id,
        "type": t.role,
        "protocol": PROTOCOL,
        "state": t.state,
        "stateTimestamp": epoch_ms(t.updated_at),
        "correlationId": _correlation(t.role, t.provider_pid, t.consumer_pid),
        "counterPartyId": t.counter_party_id,
        "counterPartyAddress": t.counter_party_address,
        "assetId": t.asset_id,
        "contractId": t.agreement_id,
        "transferType": t.format,
        "errorDetail": t.error_detail,
        "callbackAddresses": [],
        "createdAt": epoch_ms(t.created_at),
        "bytesTransferred": t.bytes_transferred,
        "pendingMessage": pending_view(pending),
    }
    if t.data_destination:
        doc["dataDestination"] = edc_data_address(t.data_destination)
    return with_context(doc)


# --- data addresses ----------------------------------------------------------------------------


def edc_data_address(address: Json) -> Json:
    """A DSP ``DataAddress`` as EDC shows one: flat, ``type`` = the endpoint type, every endpoint
    property a key of its own (``authorization``, ``authType``, ``refreshToken`` ...)."""
    endpoint_type = address.get("endpointType") or address.get("type")
    flat: Json = {"@type": "DataAddress", "type": endpoint_type, "endpointType": endpoint_type}
    if address.get("endpoint") is not None:
        flat["endpoint"] = address["endpoint"]
    for name, value in m.endpoint_properties(address).items():
        flat[compact_term(name, KNOWN_PREFIXES)] = value
    for key, value in address.items():  # parts already flat (EDC style) are kept
        if key not in _ADDRESS_KEYS and key not in flat:
            flat[key] = value
    return flat


def dsp_data_address(address: Json) -> Json:
    """An EDC-style flat data address (``{"type": "HttpData", "baseUrl": ...}``) as a DSP one."""
    if "endpointProperties" in address or "endpointType" in address:
        return {**address, "@type": "DataAddress"}
    endpoint = address.get("endpoint") or address.get("baseUrl")
    props = {
        k: v if isinstance(v, str) else str(v)
        for k, v in address.items()
        if k not in _ADDRESS_KEYS and v is not None
    }
    kind = address.get("type")
    endpoint_type = m.HTTP_ENDPOINT_TYPE if kind in (None, "HttpData") else str(kind)
    return m.data_address(str(endpoint or ""), props, endpoint_type)
