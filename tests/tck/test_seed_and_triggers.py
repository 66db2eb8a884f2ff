"""TCK mode on and off: seeding, the catalog the TCK sees, the trigger endpoints, the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.connector.harness import network
from tests.tck.util import TCK, TCK_ID, bench, cut_settings, wait_for

from twinspace.app import create_app
from twinspace.protocol.machine import Role
from twinspace.store import Store
from twinspace.tck import install, scripts
from twinspace.tck.properties import render
from twinspace.tck.seed import offered_datasets, seed, tck_offer_id

CATALOG_REQUEST = {
    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
    "@type": "CatalogRequestMessage",
}


def counts(store: Store) -> dict[str, int]:
    with store.transaction() as tx:
        return {
            "assets": tx.assets.count(),
            "policies": tx.policies.count(),
            "contract_definitions": tx.contract_definitions.count(),
            "negotiations": tx.negotiations.count(),
            "agreements": tx.agreements.count(),
            "transfers": tx.transfers.count(),
        }


def test_seeding_is_idempotent(tmp_path: Path) -> None:
    settings = cut_settings(tmp_path)
    app = create_app(settings)
    connector = app.state.connector
    first = counts(connector.store)
    assert first == {
        "assets": 15 + 2 + 1,  # ACN*, CAT0101/2, the transfer asset
        "policies": 1,
        "contract_definitions": 1,
        "negotiations": 32,  # one finalized negotiation per seeded agreement
        "agreements": 32,  # ATP0101..ATP0306, ATPC0101..ATPC0306
        "transfers": 0,
    }
    again = seed(connector.store, settings.participant_id, connector.ctx.clock.now())
    assert again.total == 0
    assert install(connector).total == 0
    create_app(settings)  # a restart on the same database
    assert counts(connector.store) == first


def test_seeding_leaves_existing_records_alone(tmp_path: Path) -> None:
    settings = cut_settings(tmp_path)
    connector = create_app(settings).state.connector
    with connector.store.transaction() as tx:
        agreement = tx.agreements.get("ATP0101")
        agreement.consumer_id = "urn:someone"
        tx.agreements.replace(agreement)
        tx.assets.delete("ACN0101")
    result = seed(connector.store, settings.participant_id, connector.ctx.clock.now())
    assert result.created == {"assets": 1}
    with connector.store.transaction() as tx:
        assert tx.agreements.get("ATP0101").consumer_id == "urn:someone"


def test_seeded_agreements_fit_both_roles(tmp_path: Path) -> None:
    connector = create_app(cut_settings(tmp_path)).state.connector
    with connector.store.transaction() as tx:
        for agreement_id in scripts.provider_agreements():
            agreement = tx.agreements.get(agreement_id)
            negotiation = tx.negotiations.get(agreement.negotiation_id)
            assert negotiation.role == Role.PROVIDER and negotiation.state == "FINALIZED"
            assert agreement.provider_id == "urn:twinspace:cut"
            assert tx.assets.find(agreement.asset_id) is not None
        for agreement_id in scripts.consumer_agreements():
            agreement = tx.agreements.get(agreement_id)
            assert tx.negotiations.get(agreement.negotiation_id).role == Role.CONSUMER
            assert agreement.consumer_id == "urn:twinspace:cut"


async def test_catalog_offers_the_tck_datasets_with_the_configured_offer_ids(
    tmp_path: Path,
) -> None:
    async with bench(tmp_path) as b:
        r = await b.client.post("/dsp/catalog/request?limit_=100", json=CATALOG_REQUEST)
        assert r.status_code == 200, r.text
        datasets = {d["@id"]: d for d in r.json()["dataset"]}
        assert set(datasets) == set(offered_datasets())
        for dataset_id, dataset in datasets.items():
            assert dataset["hasPolicy"][0]["@id"] == tck_offer_id(dataset_id)
        assert (await b.client.get("/dsp/catalog/datasets/CAT0102")).status_code == 200
        missing = await b.client.get("/dsp/catalog/datasets/CAT0103")
        assert missing.status_code == 404 and missing.json()["@type"] == "CatalogError"


async def test_tck_mode_off_seeds_nothing_and_has_no_tck_routes(tmp_path: Path) -> None:
    async with bench(tmp_path, tck_mode=False) as b:
        assert b.connector.ctx.script is None
        assert counts(b.connector.store) == dict.fromkeys(
            ("assets", "policies", "contract_definitions", "negotiations", "agreements"), 0
        ) | {"transfers": 0}
        trigger = {"providerId": TCK_ID, "connectorAddress": TCK, "offerId": "o", "datasetId": "d"}
        for path in ("/tck/negotiations/requests", "/tck/transfers/requests"):
            assert (await b.client.post(path, json=trigger)).status_code == 404
        assert (await b.client.get("/tck/config.properties")).status_code == 404
        assert b.tck.received == []


async def test_negotiation_trigger_starts_a_consumer_negotiation(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        body = {
            "providerId": TCK_ID,
            "connectorAddress": TCK,
            "offerId": "offer-1",
            "datasetId": "ACNC0101",
        }
        r = await b.client.post("/tck/negotiations/requests", json=body)
        assert r.status_code == 200, r.text
        pid = r.json()["consumerPid"]
        await wait_for(lambda: b.tck.received)
        sent = b.tck.received[0]
        assert sent.path == "negotiations/request"
        assert (
            sent.body["consumerPid"] == pid
            and sent.body["callbackAddress"] == "http://cut.test/dsp"
        )
        assert sent.body["offer"]["@id"] == "offer-1"
        assert sent.body["offer"]["target"] == "ACNC0101"
        assert sent.body["offer"]["assigner"] == TCK_ID
        with b.connector.store.transaction() as tx:
            n = tx.negotiations.get(r.json()["@id"])
        assert n.role == Role.CONSUMER and n.counter_party_id == TCK_ID


async def test_transfer_trigger_starts_a_consumer_transfer(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        body = {
            "providerId": TCK_ID,
            "connectorAddress": TCK,
            "agreementId": "ATPC0101",
            "format": "HttpData-PULL",
        }
        r = await b.client.post("/tck/transfers/requests", json=body)
        assert r.status_code == 200, r.text
        await wait_for(lambda: b.tck.received)
        sent = b.tck.received[0]
        assert sent.path == "transfers/request" and sent.label == "Request"
        assert sent.body["agreementId"] == "ATPC0101"
        assert sent.body["consumerPid"] == r.json()["consumerPid"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/tck/negotiations/requests", {"providerId": "x", "connectorAddress": TCK}, 400),
        (
            "/tck/negotiations/requests",
            {"providerId": "x", "connectorAddress": "ftp://x", "offerId": "o", "datasetId": "d"},
            400,
        ),
        (
            "/tck/transfers/requests",
            {"providerId": "x", "connectorAddress": TCK, "agreementId": "nope", "format": "x"},
            400,
        ),
        (
            "/tck/transfers/requests",
            {
                "providerId": "x",
                "connectorAddress": TCK,
                "agreementId": "nope",
                "format": "HttpData-PULL",
            },
            400,
        ),
    ],
)
async def test_bad_trigger_requests_are_refused(
    tmp_path: Path, path: str, body: dict[str, str], status: int
) -> None:
    async with bench(tmp_path) as b:
        r = await b.client.post(path, json=body)
        assert r.status_code == status, r.text
        assert r.json()[0]["type"] == "InvalidRequest"
        assert b.tck.received == []


async def test_config_file_names_our_urls_and_every_case(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        r = await b.client.get("/tck/config.properties", params={"tck_url": "http://tck:9000"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        props = dict(
            line.split("=", 1) for line in r.text.splitlines() if line and not line.startswith("#")
        )
        assert props["dataspacetck.dsp.connector.http.url"] == "http://cut.test/dsp"
        assert props["dataspacetck.dsp.connector.http.base.url"] == "http://cut.test"
        assert props["dataspacetck.callback.address"] == "http://tck:9000"
        assert props["dataspacetck.port"] == "9000"
        assert props["dataspacetck.dsp.connector.negotiation.initiate.url"] == (
            "http://cut.test/tck/negotiations/requests"
        )
        assert props["dataspacetck.dsp.connector.transfer.initiate.url"] == (
            "http://cut.test/tck/transfers/requests"
        )
        assert props["CN_01_03_DATASETID"] == "ACN0103"
        assert props["CN_01_03_OFFERID"] == tck_offer_id("ACN0103")
        assert props["CN_C_03_06_DATASETID"] == "ACNC0306"
        assert props["TP_01_04_AGREEMENTID"] == "ATP0104"
        assert props["TP_C_01_05_AGREEMENTID"] == "ATPC0105"
        assert props["TP_C_02_04_FORMAT"] == "HttpData-PULL"
        assert props["CAT_01_03_DATASETID"] == "CAT0103"
        cases = [k for k in props if k.endswith(("_DATASETID", "_AGREEMENTID"))]
        assert len(cases) == 3 + 15 + 16 + 16 + 16
        assert r.text == render(b.connector.ctx.settings, tck_url="http://tck:9000")


async def test_two_connectors_in_tck_mode_still_negotiate_unscripted_offers(
    tmp_path: Path,
) -> None:
    """TCK mode changes nothing for data outside the TCK fixtures."""
    async with network(tmp_path, ["provider", "consumer"], tck_mode=True) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        assert p.connector.ctx.script is not None
        p.add_offer("plain", {"type": "File", "path": str(tmp_path / "x")})
        offer = (await p.client.get("/dsp/catalog/datasets/plain")).json()["hasPolicy"][0]
        n = c.connector.negotiations.initiate(
            counter_party_address=p.dsp, offer={**offer, "target": "plain"}
        )
        c.connector.wake()

        def state() -> str:
            with c.connector.store.transaction() as tx:
                return str(tx.negotiations.get(n.id).state)

        await wait_for(lambda: state() == "FINALIZED")


def test_the_tck_config_command_explains_that_tck_mode_needs_auth_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from twinspace.tck.properties import main

    monkeypatch.setenv("TWINSPACE_TCK_MODE", "true")
    monkeypatch.delenv("TWINSPACE_AUTH", raising=False)
    assert main([]) == 2
    assert "set auth=none" in capsys.readouterr().err
    monkeypatch.setenv("TWINSPACE_AUTH", "none")
    assert main([]) == 0
    assert "dataspacetck" in capsys.readouterr().out
