"""The consumer journeys' pure parts: finding the offer, turning an EDR into a data address."""

from __future__ import annotations

import pytest

from twinspace.cli.console import CliError
from twinspace.cli.flows import datasets_of, dsp_data_address, pick_offer
from twinspace.dataplane.pull import edr_from


def test_datasets_of_nested_catalogs_and_single_objects() -> None:
    catalog = {
        "dataset": {"@id": "a"},
        "catalog": [
            {"dataset": [{"@id": "b"}, {"@id": "c"}]},
            {"catalog": {"dataset": {"@id": "d"}}},
        ],
    }
    assert [d["@id"] for d in datasets_of(catalog)] == ["a", "b", "c", "d"]
    assert datasets_of({}) == []


def test_pick_offer_fills_in_the_target_without_touching_the_catalog() -> None:
    offer = {"@id": "o1", "permission": [{"action": "use"}]}
    catalog = {"dataset": [{"@id": "counts", "hasPolicy": [offer, {"@id": "o2"}]}]}
    picked = pick_offer(catalog, "counts")
    assert picked == {"@id": "o1", "@type": "Offer", "target": "counts", **offer}
    assert "target" not in offer
    assert pick_offer(catalog, "counts", "o2")["@id"] == "o2"


def test_pick_offer_errors_name_what_exists() -> None:
    catalog = {"dataset": [{"@id": "counts", "hasPolicy": []}]}
    with pytest.raises(CliError, match="has any offer"):
        pick_offer(catalog, "counts")
    with pytest.raises(CliError, match="it has: counts"):
        pick_offer(catalog, "noise")


def test_flat_edr_becomes_a_dsp_data_address_the_data_plane_reads() -> None:
    edr = {
        "@type": "DataAddress",
        "endpoint": "http://p/public/data",
        "authorization": "tok",
        "authType": "bearer",
        "refreshToken": "ref",
        "refreshEndpoint": "http://p/public/token",
        "expiresIn": 300,
        "transferProcessId": "t1",
        "contractId": None,
    }
    address = dsp_data_address(edr)
    assert address["endpoint"] == "http://p/public/data"
    names = {p["name"]: p["value"] for p in address["endpointProperties"]}
    assert names["authorization"] == "tok"
    assert "contractId" not in names
    read = edr_from(address)
    assert (read.endpoint, read.token, read.refresh_token) == ("http://p/public/data", "tok", "ref")
    assert read.refresh_endpoint == "http://p/public/token"
    assert read.expires_in == 300


def test_dsp_data_address_passes_through() -> None:
    address = {
        "endpoint": "http://p/x",
        "endpointProperties": [{"name": "authorization", "value": "t"}],
    }
    assert dsp_data_address(address) is address


async def test_waiting_shows_why_a_message_is_being_retried() -> None:
    from twinspace.cli.flows import wait_for_state

    answers = iter(
        [
            {"state": "REQUESTING", "pendingMessage": None},
            {
                "state": "REQUESTING",
                "pendingMessage": {"type": "ContractRequestMessage", "lastError": "refused"},
            },
            {"state": "FINALIZED"},
        ]
    )
    seen: list[str] = []

    async def fetch() -> dict[str, object]:
        return next(answers)

    final = await wait_for_state(
        fetch, {"FINALIZED"}, what="negotiation n1", timeout=5, on_state=seen.append
    )
    assert final["state"] == "FINALIZED"
    assert seen == [
        "REQUESTING",
        "REQUESTING (retrying ContractRequestMessage: refused)",
        "FINALIZED",
    ]


async def test_waiting_gives_up_after_the_timeout() -> None:
    from twinspace.cli.flows import wait_for_state

    async def fetch() -> dict[str, object]:
        return {"state": "REQUESTED"}

    with pytest.raises(CliError, match="still REQUESTED"):
        await wait_for_state(fetch, {"FINALIZED"}, what="negotiation n1", timeout=0.2)
