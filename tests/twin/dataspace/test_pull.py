"""Twin assets pulled through the data plane, the provider's view applied."""

from __future__ import annotations

from pathlib import Path

from tests.twin.dataspace.util import (
    MADRID,
    MGMT,
    agree,
    air,
    noise,
    publish,
    pull,
    space,
    upsert,
)

BASE = {"type": "NgsiLdQuery", "entityType": "AirQualityObserved,NoiseLevelObserved"}


async def test_pull_returns_the_query_result_with_the_view(tmp_path: Path) -> None:
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await upsert(
            p,
            [air(1, 30.0), air(2, 5.0), air(3, 40.0, lon=2.17, lat=41.38), noise(1, 61.0)],
        )
        address = {
            **BASE,
            "attrs": "NO2,LAeq,SO2,refDevice,location",
            "view": {
                "omitAttrs": ["SO2"],
                "pseudonymize": True,
                "within": {"geometry": "Polygon", "coordinates": MADRID},
            },
        }
        assert (await publish(p, "air", address)).status_code == 200
        dataset = (await p.client.get("/dsp/catalog/datasets/air")).json()
        formats = [d["format"] for d in dataset["distribution"]]
        assert formats == ["HttpData-PULL", "HttpData-PUSH", "NgsiLd-PUSH"]
        agreement = await agree(c, p, "air")
        got, _ = await pull(c, p, agreement)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith("application/json")
        assert "smartdatamodels.org/context.jsonld" in got.headers["link"]
        body = got.json()
        kinds = sorted(e["type"] for e in body)
        assert kinds == ["AirQualityObserved", "AirQualityObserved", "NoiseLevelObserved"]
        for e in body:
            assert ":anon-" in e["id"]
            assert "SO2" not in e and "refDevice" not in e
        text = got.text
        assert "station-" not in text and "sensor-" not in text and "mic-" not in text
        assert "41.38" not in text  # Barcelona is outside the area
        again, _ = await pull(c, p, agreement)
        assert sorted(e["id"] for e in again.json()) == sorted(e["id"] for e in body)


async def test_pull_narrows_by_attrs_q_and_area(tmp_path: Path) -> None:
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await upsert(p, [air(1, 30.0), air(2, 5.0), noise(1, 61.0)])
        address = {
            "type": "NgsiLdQuery",
            "entityType": "AirQualityObserved",
            "attrs": "NO2",
            "q": "NO2>10",
            "georel": "near;maxDistance==5000",
            "geometry": "Point",
            "coordinates": "[-3.7,40.4]",
        }
        assert (await publish(p, "high", address)).status_code == 200
        got, _ = await pull(c, p, await agree(c, p, "high"))
        body = got.json()
        assert [e["id"] for e in body] == ["urn:ngsi-ld:AirQualityObserved:station-1"]
        assert set(body[0]) == {"id", "type", "NO2"}


async def test_aggregated_only_returns_aggregates_and_is_not_streamed(tmp_path: Path) -> None:
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await upsert(p, [air(1, 10.0)])
        later = air(1, 30.0)
        later["NO2"]["observedAt"] = "2026-01-01T10:30:00Z"
        await upsert(p, [later])
        address = {
            "type": "NgsiLdQuery",
            "entityType": "AirQualityObserved",
            "attrs": "NO2",
            "view": {"aggregate": {"methods": "avg,max", "period": "PT1H"}, "pseudonymize": True},
        }
        assert (await publish(p, "agg", address)).status_code == 200
        dataset = (await p.client.get("/dsp/catalog/datasets/agg")).json()
        assert "NgsiLd-PUSH" not in [d["format"] for d in dataset["distribution"]]
        agreement = await agree(c, p, "agg")
        got, _ = await pull(c, p, agreement)
        assert got.status_code == 200, got.text
        [entity] = got.json()
        assert ":anon-" in entity["id"]
        no2 = entity["NO2"]
        assert no2["type"] == "Property"
        assert no2["avg"][0][0] == 20.0 and no2["max"][0][0] == 30.0
        assert "value" not in str(no2)
        # streaming raw changes is refused for an aggregated-only asset
        r = await c.client.post(
            f"{MGMT}/transferprocesses",
            json={
                "contractId": agreement,
                "transferType": "NgsiLd-PUSH",
                "counterPartyAddress": p.dsp,
            },
        )
        assert r.status_code == 200, r.text
        tid = r.json()["@id"]
        from tests.twin.dataspace.util import settle, state_is, transfer

        await settle((c, p), lambda: state_is(c, tid, "TERMINATED"))
        assert "aggregated only" in (transfer(c, tid).error_detail or "")


async def test_a_time_range_returns_the_temporal_evolution(tmp_path: Path) -> None:
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await upsert(p, [air(1, 10.0)])
        later = air(1, 30.0)
        later["NO2"]["observedAt"] = "2026-01-01T11:00:00Z"
        await upsert(p, [later])
        address = {
            "type": "NgsiLdQuery",
            "entityType": "AirQualityObserved",
            "attrs": "NO2",
            "timerel": "after",
            "timeAt": "2026-01-01T10:30:00Z",
        }
        assert (await publish(p, "hist", address)).status_code == 200
        got, _ = await pull(c, p, await agree(c, p, "hist"))
        [entity] = got.json()
        values = (
            [i["value"] for i in entity["NO2"]]
            if isinstance(entity["NO2"], list)
            else [entity["NO2"]["value"]]
        )
        assert values == [30.0]


async def test_bad_twin_assets_are_refused_naming_the_member(tmp_path: Path) -> None:
    async with space(tmp_path) as nodes:
        p = nodes["provider"]
        cases = [
            ({"type": "NgsiLdQuery"}, "entityType"),
            ({**BASE, "q": "NO2>>1"}, "q:"),
            ({**BASE, "entityType": "A;;B"}, "entityType"),
            ({**BASE, "georel": "within", "geometry": "Polygon"}, "coordinates"),
            (
                {**BASE, "view": {"within": {"geometry": "Point", "coordinates": [1, 2]}}},
                "view.within",
            ),
            ({**BASE, "view": {"aggregate": {"methods": "median"}}}, "view.aggregate"),
            ({**BASE, "context": "https://unknown.example/ctx.jsonld"}, "context"),
        ]
        for n, (address, member) in enumerate(cases):
            r = await publish(p, f"bad-{n}", address)
            assert r.status_code == 400, (address, r.text)
            assert member in r.json()[0]["message"], r.text
        # an update is checked too
        assert (await publish(p, "good", BASE)).status_code == 200
        r = await p.client.put(
            f"{MGMT}/assets",
            json={"@id": "good", "dataAddress": {**BASE, "view": {"pseudonymize": "yes"}}},
        )
        assert r.status_code == 400 and "view.pseudonymize" in r.json()[0]["message"]
