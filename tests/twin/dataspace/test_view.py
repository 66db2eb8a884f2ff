"""The twin asset's view, pure: omit, pseudonymize, within, aggregate; and the asset parser."""

from __future__ import annotations

from typing import Any

import pytest

from twinspace.twin.context import SDM_CONTEXT_URL, TermMap, bundled_context
from twinspace.twin.sharing import AssetError, parse_twin_query
from twinspace.twin.view import ViewError, identifying, parse_view, pseudonym

SDM = "https://smartdatamodels.org/dataModel.Environment/"
LOC = "https://uri.etsi.org/ngsi-ld/location"
REF = "https://smartdatamodels.org/dataModel.Environment/refDevice"
SECRET = b"k" * 32


def sdm_terms() -> TermMap:
    doc = bundled_context(SDM_CONTEXT_URL)
    assert doc is not None
    return TermMap.build([doc["@context"]] if "@context" in doc else [doc])


def entity(lon: float = -3.7, lat: float = 40.4) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:AirQualityObserved:ES-Madrid-1",
        "type": [f"{SDM}AirQualityObserved"],
        "attrs": {
            f"{SDM}NO2": [
                {
                    "type": "Property",
                    "value": 22.5,
                    "subAttrs": {
                        "https://x/providedBy": {"type": "Relationship", "object": "urn:d:1"},
                        "https://x/accuracy": {"type": "Property", "value": 0.9},
                    },
                }
            ],
            f"{SDM}SO2": [{"type": "Property", "value": 3}],
            REF: [{"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"}],
            "https://x/serialNumber": [{"type": "Property", "value": "SN-1"}],
            "https://x/owner": [{"type": "Relationship", "object": "urn:ngsi-ld:Person:p"}],
            LOC: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}],
        },
    }


def expand(name: str) -> str:
    return name if ":" in name else SDM + name


def test_an_empty_view_shows_everything() -> None:
    view = parse_view(None, expand)
    assert view.is_open and view.admits(entity())
    assert view.shape(entity(), SECRET, "a") == entity()


def test_omit_attrs_drops_them() -> None:
    view = parse_view({"omitAttrs": ["SO2"]}, expand)
    shaped = view.shape(entity(), SECRET, "a")
    assert f"{SDM}SO2" not in shaped["attrs"] and f"{SDM}NO2" in shaped["attrs"]
    assert shaped["id"] == entity()["id"]


def test_pseudonymize_replaces_ids_and_drops_device_references() -> None:
    view = parse_view({"pseudonymize": True}, expand)
    shaped = view.shape(entity(), SECRET, "asset-1")
    assert shaped["id"].startswith("urn:ngsi-ld:AirQualityObserved:anon-")
    assert len(shaped["id"].rsplit("-", 1)[1]) == 16
    assert shaped["id"] == view.shape(entity(), SECRET, "asset-1")["id"]  # stable
    assert shaped["id"] != view.shape(entity(), SECRET, "asset-2")["id"]  # per asset
    assert shaped["id"] != view.shape(entity(), b"other" * 8, "asset-1")["id"]  # keyed
    names = set(shaped["attrs"])
    assert REF not in names and "https://x/serialNumber" not in names
    assert "https://x/owner" not in names  # every relationship goes
    assert names == {f"{SDM}NO2", f"{SDM}SO2", LOC}
    subs = shaped["attrs"][f"{SDM}NO2"][0]["subAttrs"]
    assert list(subs) == ["https://x/accuracy"]
    assert "urn:ngsi-ld:Device:d1" not in str(shaped) and "ES-Madrid" not in str(shaped)


def test_identifying_names() -> None:
    assert identifying(REF) and identifying("https://x/refPointOfInterest")
    assert identifying("https://x/deviceId") and identifying("https://x/macAddress")
    assert not identifying(f"{SDM}NO2") and not identifying("https://x/reliability")
    assert pseudonym(SECRET, "a", "urn:x", f"{SDM}NoiseLevelObserved").startswith(
        "urn:ngsi-ld:NoiseLevelObserved:anon-"
    )


def test_within_keeps_only_entities_in_the_area() -> None:
    area = [[[-3.8, 40.3], [-3.6, 40.3], [-3.6, 40.5], [-3.8, 40.5], [-3.8, 40.3]]]
    view = parse_view({"within": {"geometry": "Polygon", "coordinates": area}}, expand)
    assert view.admits(entity())
    assert not view.admits(entity(lon=2.17, lat=41.38))
    no_location = entity()
    del no_location["attrs"][LOC]
    assert not view.admits(no_location)


def test_aggregate_is_parsed() -> None:
    view = parse_view({"aggregate": {"methods": "avg,max", "period": "PT1H"}}, expand)
    assert view.aggregate is not None and view.aggregate.methods == ("avg", "max")


@pytest.mark.parametrize(
    ("value", "member"),
    [
        ("x", "view"),
        ({"colour": 1}, "view"),
        ({"omitAttrs": [1]}, "view.omitAttrs"),
        ({"pseudonymize": "yes"}, "view.pseudonymize"),
        ({"within": {"geometry": "Point", "coordinates": [1, 2]}}, "view.within"),
        ({"within": {"geometry": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}, "view.within"),
        ({"aggregate": {"methods": "median"}}, "view.aggregate"),
        ({"aggregate": {"methods": "avg", "period": "1 hour"}}, "view.aggregate"),
    ],
)
def test_bad_views_name_the_member(value: Any, member: str) -> None:
    with pytest.raises(ViewError) as caught:
        parse_view(value, expand)
    assert caught.value.member == member


def test_the_asset_query_is_parsed_with_its_context() -> None:
    query = parse_twin_query(
        {
            "type": "NgsiLdQuery",
            "entityType": "AirQualityObserved,NoiseLevelObserved",
            "attrs": "NO2,LAeq",
            "q": "NO2>10",
            "georel": "near;maxDistance==2000",
            "geometry": "Point",
            "coordinates": "[-3.7,40.4]",
            "timerel": "after",
            "timeAt": "2026-01-01T00:00:00Z",
        },
        sdm_terms(),
    )
    assert [t.rsplit("/", 1)[1] for t in query.type_names()] == [
        "AirQualityObserved",
        "NoiseLevelObserved",
    ]
    assert query.attrs is not None and len(query.attrs) == 2
    assert query.geo is not None and query.time is not None and query.view.is_open


@pytest.mark.parametrize(
    ("address", "member"),
    [
        ({}, "entityType"),
        ({"entityType": "A,,B"}, "entityType"),
        ({"entityType": "A", "q": "NO2>>"}, "q:"),
        ({"entityType": "A", "georel": "within"}, "geometry, coordinates"),
        (
            {"entityType": "A", "georel": "inside", "geometry": "Point", "coordinates": "[1,2]"},
            "georel",
        ),
        ({"entityType": "A", "timerel": "after"}, "timerel"),
        ({"entityType": "A", "view": {"pseudonymize": 1}}, "view.pseudonymize"),
        ({"entityType": "A", "tenant": 3}, "tenant"),
    ],
)
def test_bad_assets_name_the_member(address: dict[str, Any], member: str) -> None:
    with pytest.raises(AssetError) as caught:
        parse_twin_query({"type": "NgsiLdQuery", **address}, sdm_terms())
    assert member in str(caught.value)
