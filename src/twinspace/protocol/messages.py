"""Builders for DSP 2025-1 messages in their compact JSON form.

Each builder returns a plain ``dict`` ready to be serialised; every one of them validates against
the official schema (see ``tests/protocol/test_messages.py``).
"""

from __future__ import annotations

from typing import Any

from twinspace.protocol.schemas import DSPACE_CONTEXT

Json = dict[str, Any]


def _base(kind: str, **fields: Any) -> Json:
    doc: Json = {"@context": [DSPACE_CONTEXT], "@type": kind}
    doc.update({k: v for k, v in fields.items() if v is not None})
    return doc


def _reasons(reason: str | list[str] | None) -> list[str] | None:
    if reason is None or reason == [] or reason == "":
        return None
    return [reason] if isinstance(reason, str) else list(reason)


# --- catalog -----------------------------------------------------------------------------------


def catalog_request(filter_: list[Any] | None = None) -> Json:
    return _base("CatalogRequestMessage", filter=filter_)


def dataset_request(dataset: str) -> Json:
    return _base("DatasetRequestMessage", dataset=dataset)


def catalog_error(code: str, reason: str | list[str] | None = None) -> Json:
    return _base("CatalogError", code=code, reason=_reasons(reason))


# --- negotiation -------------------------------------------------------------------------------


def contract_request(
    *,
    consumer_pid: str,
    offer: Json,
    provider_pid: str | None = None,
    callback_address: str | None = None,
) -> Json:
    """Initial request (with ``callback_address``) or counter-request (with ``provider_pid``)."""
    return _base(
        "ContractRequestMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        offer=offer,
        callbackAddress=callback_address,
    )


def contract_offer(
    *,
    provider_pid: str,
    offer: Json,
    consumer_pid: str | None = None,
    callback_address: str | None = None,
) -> Json:
    return _base(
        "ContractOfferMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        offer=offer,
        callbackAddress=callback_address,
    )


def contract_agreement(*, provider_pid: str, consumer_pid: str, agreement: Json) -> Json:
    return _base(
        "ContractAgreementMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        agreement=agreement,
    )


def agreement_verification(*, provider_pid: str, consumer_pid: str) -> Json:
    return _base(
        "ContractAgreementVerificationMessage", providerPid=provider_pid, consumerPid=consumer_pid
    )


def negotiation_event(*, provider_pid: str, consumer_pid: str, event_type: str) -> Json:
    return _base(
        "ContractNegotiationEventMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        eventType=event_type,
    )


def negotiation_termination(
    *,
    provider_pid: str,
    consumer_pid: str,
    code: str | None = None,
    reason: str | list[str] | None = None,
) -> Json:
    return _base(
        "ContractNegotiationTerminationMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        code=code,
        reason=_reasons(reason),
    )


def contract_negotiation(*, provider_pid: str, consumer_pid: str, state: str) -> Json:
    return _base(
        "ContractNegotiation", providerPid=provider_pid, consumerPid=consumer_pid, state=state
    )


def negotiation_error(
    *,
    provider_pid: str | None,
    consumer_pid: str | None,
    code: str,
    reason: str | list[str] | None = None,
) -> Json:
    # The schema requires both pids; unknown ones are reported as "unknown".
    return _base(
        "ContractNegotiationError",
        providerPid=provider_pid or "unknown",
        consumerPid=consumer_pid or "unknown",
        code=code,
        reason=_reasons(reason),
    )


# --- transfer ----------------------------------------------------------------------------------


def transfer_request(
    *,
    consumer_pid: str,
    agreement_id: str,
    format_: str,
    callback_address: str,
    data_address: Json | None = None,
) -> Json:
    return _base(
        "TransferRequestMessage",
        consumerPid=consumer_pid,
        agreementId=agreement_id,
        format=format_,
        dataAddress=data_address,
        callbackAddress=callback_address,
    )


def transfer_start(
    *, provider_pid: str, consumer_pid: str, data_address: Json | None = None
) -> Json:
    return _base(
        "TransferStartMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        dataAddress=data_address,
    )


def transfer_suspension(
    *,
    provider_pid: str,
    consumer_pid: str,
    code: str | None = None,
    reason: str | list[str] | None = None,
) -> Json:
    return _base(
        "TransferSuspensionMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        code=code,
        reason=_reasons(reason),
    )


def transfer_completion(*, provider_pid: str, consumer_pid: str) -> Json:
    return _base("TransferCompletionMessage", providerPid=provider_pid, consumerPid=consumer_pid)


def transfer_termination(
    *,
    provider_pid: str,
    consumer_pid: str,
    code: str | None = None,
    reason: str | list[str] | None = None,
) -> Json:
    return _base(
        "TransferTerminationMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        code=code,
        reason=_reasons(reason),
    )


def transfer_process(*, provider_pid: str, consumer_pid: str, state: str) -> Json:
    return _base("TransferProcess", providerPid=provider_pid, consumerPid=consumer_pid, state=state)


def transfer_error(
    *,
    provider_pid: str | None,
    consumer_pid: str | None,
    code: str,
    reason: str | list[str] | None = None,
) -> Json:
    return _base(
        "TransferError",
        providerPid=provider_pid or "unknown",
        consumerPid=consumer_pid or "unknown",
        code=code,
        reason=_reasons(reason),
    )


# --- data addresses ----------------------------------------------------------------------------

HTTP_ENDPOINT_TYPE = "https://w3id.org/idsa/v4.1/HTTP"


def data_address(
    endpoint: str, properties: dict[str, str], endpoint_type: str = HTTP_ENDPOINT_TYPE
) -> Json:
    address: Json = {"@type": "DataAddress", "endpointType": endpoint_type, "endpoint": endpoint}
    if properties:  # the schema wants at least one property when the list is present
        address["endpointProperties"] = [
            {"@type": "EndpointProperty", "name": name, "value": value}
            for name, value in properties.items()
        ]
    return address


def endpoint_properties(address: Json) -> dict[str, str]:
    """The ``endpointProperties`` of a DataAddress as a name -> value mapping."""
    props = address.get("endpointProperties") or []
    return {str(p.get("name")): str(p.get("value")) for p in props if isinstance(p, dict)}
