"""Every message builder produces a document that its official DSP 2025-1 schema accepts."""

from __future__ import annotations

import inspect
from typing import Any, TypedDict

import pytest

from twinspace.protocol import messages
from twinspace.protocol.negotiation import CN
from twinspace.protocol.schemas import DSPACE_CONTEXT, SchemaViolation, problems, validate
from twinspace.protocol.transfer import TP

Json = dict[str, Any]

PROVIDER_PID = "urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab"
CONSUMER_PID = "urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833"


class Pids(TypedDict):
    provider_pid: str
    consumer_pid: str


PIDS = Pids(provider_pid=PROVIDER_PID, consumer_pid=CONSUMER_PID)
CALLBACK = "https://consumer.example/dsp/callback"
DATASET = "urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88"
OFFER: Json = {
    "@type": "Offer",
    "@id": "urn:uuid:d526561f-528e-4d5a-ae12-9a9dd9b7a518",
    "target": DATASET,
    "permission": [{"action": "use"}],
}
AGREEMENT: Json = {
    "@id": "urn:uuid:e8dc8655-44c2-46ef-b701-4cffdc2faa44",
    "@type": "Agreement",
    "target": DATASET,
    "timestamp": "2025-03-01T10:00:00Z",
    "assigner": "did:web:provider.example",
    "assignee": "did:web:consumer.example",
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2025-12-31T23:59Z"}
            ],
        }
    ],
}
ADDRESS = messages.data_address(
    "https://provider.example/public/data",
    {"authorization": "TOKEN-ABCDEFG", "authType": "bearer"},
)
PUSH_DESTINATION = messages.data_address(
    "s3://consumer-bucket/incoming", {"region": "eu-central-1"}, endpoint_type="urn:example:S3"
)

#: Optional fields a builder leaves out when it is not given them.
OPTIONAL = ("code", "reason", "filter", "dataAddress", "callbackAddress")


def check(document: Json, message_type: str) -> None:
    """``document`` is a valid compact DSP message of ``message_type`` with no null fields."""
    assert document["@context"] == [DSPACE_CONTEXT]
    assert document["@type"] == message_type
    assert None not in document.values()
    validate(document)
    validate(document, message_type)


def absent(document: Json, *fields: str) -> None:
    for name in fields:
        assert name not in document, name


# --- catalog -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filter_", [None, [], [{"keyword": "traffic"}]], ids=["no-filter", "empty", "filter"]
)
def test_catalog_request(filter_: list[Any] | None) -> None:
    document = messages.catalog_request(filter_)
    check(document, "CatalogRequestMessage")
    if filter_ is None:
        absent(document, "filter")
    else:
        assert document["filter"] == filter_


def test_dataset_request() -> None:
    document = messages.dataset_request(DATASET)
    check(document, "DatasetRequestMessage")
    assert document["dataset"] == DATASET


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (None, None),
        ("", None),
        ([], None),
        (
            "Catalog not provisioned for this requester.",
            ["Catalog not provisioned for this requester."],
        ),
        (["first", "second"], ["first", "second"]),
    ],
)
def test_catalog_error(reason: str | list[str] | None, expected: list[str] | None) -> None:
    document = messages.catalog_error("123-A", reason)
    check(document, "CatalogError")
    assert document["code"] == "123-A"
    assert document.get("reason") == expected


# --- negotiation ---------------------------------------------------------------------------------


def test_contract_request() -> None:
    initial = messages.contract_request(
        consumer_pid=CONSUMER_PID, offer=OFFER, callback_address=CALLBACK
    )
    check(initial, "ContractRequestMessage")
    absent(initial, "providerPid")
    assert initial["offer"] == OFFER
    assert initial["callbackAddress"] == CALLBACK

    counter = messages.contract_request(
        consumer_pid=CONSUMER_PID, offer=OFFER, provider_pid=PROVIDER_PID
    )
    check(counter, "ContractRequestMessage")
    absent(counter, "callbackAddress")
    assert counter["providerPid"] == PROVIDER_PID


def test_contract_request_relies_on_the_schema_for_its_one_of() -> None:
    # The builder passes what it is given; the schema's oneOf refuses neither and both.
    with pytest.raises(SchemaViolation):
        validate(messages.contract_request(consumer_pid=CONSUMER_PID, offer=OFFER))
    with pytest.raises(SchemaViolation):
        validate(
            messages.contract_request(
                consumer_pid=CONSUMER_PID,
                offer=OFFER,
                provider_pid=PROVIDER_PID,
                callback_address=CALLBACK,
            )
        )


def test_contract_offer() -> None:
    initial = messages.contract_offer(
        provider_pid=PROVIDER_PID, offer=OFFER, callback_address="https://provider.example/cb"
    )
    check(initial, "ContractOfferMessage")
    absent(initial, "consumerPid")

    counter = messages.contract_offer(offer=OFFER, **PIDS)
    check(counter, "ContractOfferMessage")
    absent(counter, "callbackAddress")
    assert counter["providerPid"] == PROVIDER_PID
    assert counter["consumerPid"] == CONSUMER_PID


def test_contract_agreement() -> None:
    document = messages.contract_agreement(agreement=AGREEMENT, **PIDS)
    check(document, "ContractAgreementMessage")
    assert document["agreement"] == AGREEMENT


def test_agreement_verification() -> None:
    document = messages.agreement_verification(**PIDS)
    check(document, "ContractAgreementVerificationMessage")
    assert set(document) == {"@context", "@type", "providerPid", "consumerPid"}


@pytest.mark.parametrize("event_type", ["ACCEPTED", "FINALIZED"])
def test_negotiation_event(event_type: str) -> None:
    document = messages.negotiation_event(event_type=event_type, **PIDS)
    check(document, "ContractNegotiationEventMessage")
    assert document["eventType"] == event_type


@pytest.mark.parametrize(
    ("code", "reason"),
    [(None, None), ("policy-violation", "Usage period exceeded"), (None, ["a", "b"])],
    ids=["bare", "code-and-reason", "reasons"],
)
def test_negotiation_termination(code: str | None, reason: str | list[str] | None) -> None:
    document = messages.negotiation_termination(code=code, reason=reason, **PIDS)
    check(document, "ContractNegotiationTerminationMessage")
    if code is None:
        absent(document, "code")
    if reason is None:
        absent(document, "reason")
    else:
        assert document["reason"] == ([reason] if isinstance(reason, str) else reason)


@pytest.mark.parametrize("state", list(CN))
def test_contract_negotiation(state: CN) -> None:
    document = messages.contract_negotiation(state=state, **PIDS)
    check(document, "ContractNegotiation")
    assert document["state"] == state.value


@pytest.mark.parametrize(
    ("provider_pid", "consumer_pid"),
    [(PROVIDER_PID, CONSUMER_PID), (None, CONSUMER_PID), (None, None)],
    ids=["known", "provider-unknown", "both-unknown"],
)
def test_negotiation_error(provider_pid: str | None, consumer_pid: str | None) -> None:
    document = messages.negotiation_error(
        provider_pid=provider_pid,
        consumer_pid=consumer_pid,
        code="404",
        reason="no such negotiation",
    )
    check(document, "ContractNegotiationError")
    assert document["providerPid"] == (provider_pid or "unknown")
    assert document["consumerPid"] == (consumer_pid or "unknown")
    assert document["reason"] == ["no such negotiation"]


# --- transfer ------------------------------------------------------------------------------------


def test_transfer_request() -> None:
    pull = messages.transfer_request(
        consumer_pid=CONSUMER_PID,
        agreement_id=AGREEMENT["@id"],
        format_="HttpData-PULL",
        callback_address=CALLBACK,
    )
    check(pull, "TransferRequestMessage")
    absent(pull, "dataAddress", "providerPid")
    assert pull["format"] == "HttpData-PULL"
    assert pull["agreementId"] == AGREEMENT["@id"]

    push = messages.transfer_request(
        consumer_pid=CONSUMER_PID,
        agreement_id=AGREEMENT["@id"],
        format_="S3-PUSH",
        callback_address=CALLBACK,
        data_address=PUSH_DESTINATION,
    )
    check(push, "TransferRequestMessage")
    assert push["dataAddress"] == PUSH_DESTINATION


def test_transfer_start() -> None:
    pull = messages.transfer_start(data_address=ADDRESS, **PIDS)
    check(pull, "TransferStartMessage")
    assert messages.endpoint_properties(pull["dataAddress"]) == {
        "authorization": "TOKEN-ABCDEFG",
        "authType": "bearer",
    }

    push = messages.transfer_start(**PIDS)
    check(push, "TransferStartMessage")
    absent(push, "dataAddress")

    unauthenticated = messages.transfer_start(
        data_address=messages.data_address("https://provider.example/open", {}), **PIDS
    )
    check(unauthenticated, "TransferStartMessage")


@pytest.mark.parametrize(
    ("code", "reason"),
    [(None, None), ("maintenance", "Provider paused for maintenance")],
    ids=["bare", "code-and-reason"],
)
def test_transfer_suspension(code: str | None, reason: str | None) -> None:
    document = messages.transfer_suspension(code=code, reason=reason, **PIDS)
    check(document, "TransferSuspensionMessage")
    if code is None:
        absent(document, "code", "reason")
    else:
        assert document["code"] == code
        assert document["reason"] == [reason]


def test_transfer_completion() -> None:
    document = messages.transfer_completion(**PIDS)
    check(document, "TransferCompletionMessage")
    assert set(document) == {"@context", "@type", "providerPid", "consumerPid"}


@pytest.mark.parametrize(
    ("code", "reason"),
    [(None, None), ("99", ["Policy violation"])],
    ids=["bare", "code-and-reason"],
)
def test_transfer_termination(code: str | None, reason: list[str] | None) -> None:
    document = messages.transfer_termination(code=code, reason=reason, **PIDS)
    check(document, "TransferTerminationMessage")
    if code is None:
        absent(document, "code", "reason")
    else:
        assert document["reason"] == reason


@pytest.mark.parametrize("state", list(TP))
def test_transfer_process(state: TP) -> None:
    document = messages.transfer_process(state=state, **PIDS)
    check(document, "TransferProcess")
    assert document["state"] == state.value


@pytest.mark.parametrize(
    ("provider_pid", "consumer_pid"),
    [(PROVIDER_PID, CONSUMER_PID), (PROVIDER_PID, None), (None, None)],
    ids=["known", "consumer-unknown", "both-unknown"],
)
def test_transfer_error(provider_pid: str | None, consumer_pid: str | None) -> None:
    document = messages.transfer_error(
        provider_pid=provider_pid, consumer_pid=consumer_pid, code="409"
    )
    check(document, "TransferError")
    assert document["providerPid"] == (provider_pid or "unknown")
    assert document["consumerPid"] == (consumer_pid or "unknown")
    absent(document, "reason")


# --- data addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "properties",
    [{"authorization": "TOKEN-ABCDEFG", "authType": "bearer"}, {"only": "one"}, {}],
    ids=["two", "one", "none"],
)
def test_data_address(properties: dict[str, str]) -> None:
    address = messages.data_address("https://provider.example/public/data", properties)
    assert problems(address, "transfer/data-address-schema.json") == []
    assert address["@type"] == "DataAddress"
    assert address["endpointType"] == messages.HTTP_ENDPOINT_TYPE
    assert address["endpoint"] == "https://provider.example/public/data"
    if not properties:
        absent(address, "endpointProperties")


@pytest.mark.parametrize(
    "properties",
    [
        {"authorization": "TOKEN-ABCDEFG", "authType": "bearer"},
        {"b": "2", "a": "1", "c": ""},
        {"only": "one"},
        {},
    ],
)
def test_endpoint_properties_round_trip(properties: dict[str, str]) -> None:
    address = messages.data_address("https://provider.example/data", properties, "urn:x:type")
    assert address["endpointType"] == "urn:x:type"
    found = messages.endpoint_properties(address)
    assert found == properties
    assert list(found) == list(properties)  # order is kept


def test_endpoint_properties_of_a_received_address() -> None:
    # The dataAddress of the spec's transfer-start-message.json example.
    address: Json = {
        "@type": "DataAddress",
        "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
        "endpoint": "http://example.com",
        "endpointProperties": [
            {"@type": "EndpointProperty", "name": "authorization", "value": "TOKEN-ABCDEFG"},
            {"@type": "EndpointProperty", "name": "authType", "value": "bearer"},
        ],
    }
    assert messages.endpoint_properties(address) == {
        "authorization": "TOKEN-ABCDEFG",
        "authType": "bearer",
    }
    assert messages.endpoint_properties({"@type": "DataAddress", "endpointType": "x"}) == {}
    assert messages.endpoint_properties({"endpointProperties": None}) == {}
    assert messages.endpoint_properties(
        {"endpointProperties": ["junk", {"name": "n", "value": "v"}]}
    ) == {"n": "v"}


# --- every builder is covered --------------------------------------------------------------------


def test_every_builder_has_a_test() -> None:
    builders = {
        name
        for name, obj in vars(messages).items()
        if inspect.isfunction(obj)
        and obj.__module__ == messages.__name__
        and not name.startswith("_")
    }
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    tested.add("endpoint_properties")  # test_endpoint_properties_round_trip
    assert builders <= tested, sorted(builders - tested)
