"""NGSI-LD geo-queries: georel parsing, geometry validation, distances, predicates, bboxes."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import (
    GEORELS,
    GeoQuery,
    geometry_bbox,
    haversine_m,
    parse_geometry,
    parse_geoquery,
)

SOL = [-3.7038, 40.4168]  # Puerta del Sol, Madrid
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
SQUARE = [[[-3.71, 40.41], [-3.69, 40.41], [-3.69, 40.43], [-3.71, 40.43], [-3.71, 40.41]]]


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def polygon(rings: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": rings}


def box(x0: float, y0: float, x1: float, y1: float) -> list[Any]:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def expand(term: str) -> str:
    return LOCATION if term == "location" else "https://example.org/" + term


def wgs84_meridian_m(lat: float, dlat: float) -> float:
    """Length of a short meridian arc on the WGS84 ellipsoid (reference for the tests)."""
    a, e2 = 6378137.0, 0.00669437999014
    phi = math.radians(lat)
    m = a * (1 - e2) / (1 - e2 * math.sin(phi) ** 2) ** 1.5
    return float(m * math.radians(dlat))


def wgs84_parallel_m(lat: float, dlon: float) -> float:
    a, e2 = 6378137.0, 0.00669437999014
    phi = math.radians(lat)
    return a * math.cos(phi) / math.sqrt(1 - e2 * math.sin(phi) ** 2) * math.radians(dlon)


# --- distances --------------------------------------------------------------------------------


def test_distance_between_points_in_madrid() -> None:
    q = parse_geoquery("near;maxDistance==2000", "Point", "[-3.7038,40.4168]")
    north = point(SOL[0], SOL[1] + 0.009)
    east = point(SOL[0] + 0.0118, SOL[1])
    expected_north = wgs84_meridian_m(SOL[1], 0.009)  # ~999 m
    expected_east = wgs84_parallel_m(SOL[1], 0.0118)  # ~1001 m
    assert q.distance(north) == pytest.approx(expected_north, rel=0.005)
    assert q.distance(east) == pytest.approx(expected_east, rel=0.005)
    assert 990 < expected_north < 1010 and 990 < expected_east < 1010


def test_distance_to_lines_and_polygons() -> None:
    q = parse_geoquery("near;maxDistance==2000", "Point", SOL)
    line = {"type": "LineString", "coordinates": [[-3.75, 40.4258], [-3.65, 40.4258]]}
    assert q.distance(line) == pytest.approx(wgs84_meridian_m(40.42, 0.009), rel=0.005)
    assert q.distance(polygon(SQUARE)) == 0.0
    far = polygon(box(-3.70, 40.40, -3.6919, 40.43))  # west edge ~ 322 m east of Sol
    assert q.distance(far) == pytest.approx(wgs84_parallel_m(SOL[1], 0.0038), rel=0.005)
    # a reference polygon: distance from its edge
    ref = parse_geoquery("near;maxDistance==5000", "Polygon", SQUARE)
    assert ref.distance(point(-3.69, 40.4390)) == pytest.approx(
        wgs84_meridian_m(40.43, 0.009), rel=0.005
    )
    assert ref.distance(point(-3.70, 40.42)) == 0.0
    assert ref.distance({"type": "Nope"}) is None
    assert q.distance({"type": "Point", "coordinates": "x"}) is None


def test_haversine_known_values() -> None:
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(0, 0, 180, 0) == pytest.approx(math.pi * 6_371_008.8, rel=1e-9)
    # Madrid (Sol) to Barcelona (Plaça de Catalunya) is about 505 km
    assert haversine_m(-3.7038, 40.4168, 2.1700, 41.3870) == pytest.approx(505_000, rel=0.01)


# --- near -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("georel", "lat_offset", "expected"),
    [
        ("near;maxDistance==2000", 0.009, True),
        ("near;maxDistance==1000", 0.0089, True),
        ("near;maxDistance==1000", 0.0091, False),
        ("near;maxDistance==0", 0.0, True),
        ("near;minDistance==500", 0.009, True),
        ("near;minDistance==1500", 0.009, False),
        ("near;minDistance==500;maxDistance==1500", 0.009, True),
        ("near;maxDistance==1500;minDistance==1200", 0.009, False),
        ("near;maxDistance==1.5e3", 0.009, True),
    ],
)
def test_near(georel: str, lat_offset: float, expected: bool) -> None:
    q = parse_geoquery(georel, "Point", SOL)
    assert q.matches(point(SOL[0], SOL[1] + lat_offset)) is expected


def test_near_other_geometries() -> None:
    q = parse_geoquery("near;maxDistance==400", "Point", SOL)
    assert q.matches(polygon(box(-3.70, 40.40, -3.6919, 40.43)))  # ~322 m away
    assert not q.matches(polygon(box(-3.69, 40.40, -3.68, 40.43)))  # ~1.2 km away
    line = parse_geoquery(
        "near;maxDistance==100", "LineString", "[[-3.71,40.4168],[-3.69,40.4168]]"
    )
    assert line.matches(point(-3.70, 40.4170))
    assert not line.matches(point(-3.70, 40.4190))


# --- topological relations --------------------------------------------------------------------


INSIDE = point(-3.70, 40.42)
OUTSIDE = point(-3.60, 40.42)
EDGE = point(-3.71, 40.42)
OVERLAPPING = polygon(box(-3.70, 40.42, -3.60, 40.50))
INNER = polygon(box(-3.705, 40.415, -3.695, 40.425))
OUTER = polygon(box(-3.8, 40.3, -3.6, 40.5))
ROTATED = polygon(
    [[[-3.69, 40.41], [-3.69, 40.43], [-3.71, 40.43], [-3.71, 40.41], [-3.69, 40.41]]]
)
CROSSING = {"type": "LineString", "coordinates": [[-3.8, 40.42], [-3.6, 40.42]]}
FAR_LINE = {"type": "LineString", "coordinates": [[-3.8, 41.0], [-3.6, 41.0]]}


@pytest.mark.parametrize(
    ("georel", "entity_geometry", "expected"),
    [
        ("within", INSIDE, True),
        ("within", OUTSIDE, False),
        ("within", EDGE, False),
        ("within", INNER, True),
        ("within", OVERLAPPING, False),
        ("within", OUTER, False),
        ("contains", OUTER, True),
        ("contains", INNER, False),
        ("contains", INSIDE, False),
        ("intersects", INSIDE, True),
        ("intersects", EDGE, True),
        ("intersects", OUTSIDE, False),
        ("intersects", CROSSING, True),
        ("intersects", FAR_LINE, False),
        ("intersects", OVERLAPPING, True),
        ("disjoint", OUTSIDE, True),
        ("disjoint", INSIDE, False),
        ("disjoint", FAR_LINE, True),
        ("disjoint", CROSSING, False),
        ("equals", ROTATED, True),
        ("equals", INNER, False),
        ("overlaps", OVERLAPPING, True),
        ("overlaps", INNER, False),
        ("overlaps", OUTSIDE, False),
        ("within", {"type": "MultiPoint", "coordinates": [[-3.70, 40.42], [-3.70, 40.425]]}, True),
        ("within", {"type": "MultiPoint", "coordinates": [[-3.70, 40.42], [-3.60, 40.42]]}, False),
        (
            "intersects",
            {"type": "MultiPolygon", "coordinates": [box(-3.8, 40.0, -3.7, 40.42)]},
            True,
        ),
        (
            "intersects",
            {"type": "MultiLineString", "coordinates": [[[-3.8, 41], [-3.6, 41]]]},
            False,
        ),
    ],
)
def test_topological_relations(
    georel: str, entity_geometry: dict[str, Any], expected: bool
) -> None:
    q = parse_geoquery(georel, "Polygon", SQUARE)
    assert q.matches(entity_geometry) is expected


def test_point_reference_relations() -> None:
    q = parse_geoquery("equals", "Point", SOL)
    assert q.matches(point(*SOL))
    assert not q.matches(point(SOL[0], SOL[1] + 1e-4))
    contains = parse_geoquery("contains", "Point", "[-3.70,40.42]")
    assert contains.matches(polygon(SQUARE))
    assert not contains.matches(OVERLAPPING)


@pytest.mark.parametrize("georel", [*GEORELS[1:], "near;maxDistance==10"])
@pytest.mark.parametrize(
    "bad",
    [
        None,
        "Point",
        {"type": "Point"},
        {"type": "Point", "coordinates": "x"},
        {"type": "Circle", "coordinates": [1, 2]},
        {"type": "Polygon", "coordinates": [[1, 2]]},
        {"type": "Polygon", "coordinates": []},
    ],
)
def test_bad_entity_geometries_never_match_nor_raise(georel: str, bad: Any) -> None:
    q = parse_geoquery(georel, "Polygon", SQUARE)
    assert q.matches(bad) is False


def test_matches_entity_uses_the_geoproperty_and_any_instance() -> None:
    ent = {
        "id": "urn:ngsi-ld:Thing:1",
        "type": ["https://example.org/Thing"],
        "attrs": {
            LOCATION: [
                {"type": "GeoProperty", "value": OUTSIDE},
                {"type": "GeoProperty", "value": INSIDE, "datasetId": "urn:ngsi-ld:Dataset:b"},
            ],
            "https://example.org/area": [{"type": "GeoProperty", "value": OUTER}],
            "https://example.org/broken": [{"type": "Property", "value": 3}, "junk"],
        },
    }
    assert parse_geoquery("within", "Polygon", SQUARE).matches_entity(ent, expand)
    assert not parse_geoquery("within", "Polygon", SQUARE, "area").matches_entity(ent, expand)
    assert parse_geoquery("contains", "Polygon", SQUARE, "area").matches_entity(ent, expand)
    assert not parse_geoquery("within", "Polygon", SQUARE, "broken").matches_entity(ent, expand)
    assert not parse_geoquery("within", "Polygon", SQUARE, "nothing").matches_entity(ent, expand)
    assert not parse_geoquery("within", "Polygon", SQUARE).matches_entity({"id": "x"}, expand)


# --- bounding boxes ---------------------------------------------------------------------------


def test_bbox_per_georel() -> None:
    square_box = (-3.71, 40.41, -3.69, 40.43)
    for rel in ("within", "contains", "intersects", "equals", "overlaps"):
        assert parse_geoquery(rel, "Polygon", SQUARE).bbox() == pytest.approx(square_box)
    assert parse_geoquery("disjoint", "Polygon", SQUARE).bbox() is None
    assert parse_geoquery("near;minDistance==10", "Point", SOL).bbox() is None
    bbox = parse_geoquery("near;maxDistance==1000", "Point", SOL).bbox()
    assert bbox is not None
    assert bbox[0] < SOL[0] < bbox[2] and bbox[1] < SOL[1] < bbox[3]
    assert bbox[3] - SOL[1] == pytest.approx(0.009, rel=0.01)
    assert bbox[2] - SOL[0] == pytest.approx(0.009 / math.cos(math.radians(40.43)), rel=0.01)


def test_bbox_near_poles_and_antimeridian_widen_to_all_longitudes() -> None:
    polar = parse_geoquery("near;maxDistance==50000", "Point", "[10, 89.9]").bbox()
    assert polar is not None and polar[0] == -180.0 and polar[2] == 180.0 and polar[3] == 90.0
    dateline = parse_geoquery("near;maxDistance==50000", "Point", "[179.9, 0]").bbox()
    assert dateline is not None and dateline[0] == -180.0 and dateline[2] == 180.0


@given(
    st.floats(-170, 170),
    st.floats(-80, 80),
    st.floats(1, 200_000),
    st.floats(0, 2 * math.pi),
)
def test_near_bbox_contains_every_point_within_distance(
    lon: float, lat: float, dist: float, bearing: float
) -> None:
    q = parse_geoquery(f"near;maxDistance=={dist}", "Point", [lon, lat])
    bbox = q.bbox()
    assert bbox is not None
    # the destination point at ``dist`` metres along ``bearing`` (spherical)
    d = dist / 6_371_008.8
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2, lat2 = (math.degrees(l2) + 540) % 360 - 180, math.degrees(p2)
    assert bbox[0] <= lon2 <= bbox[2] and bbox[1] <= lat2 <= bbox[3]
    assert q.matches(point(lon2, lat2)) or q.distance(point(lon2, lat2)) == pytest.approx(dist)


def test_geometry_bbox() -> None:
    assert geometry_bbox(point(1, 2)) == (1, 2, 1, 2)
    assert geometry_bbox(polygon(SQUARE)) == (-3.71, 40.41, -3.69, 40.43)
    multi = {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 5]], [[-2, 3], [4, 4]]]}
    assert geometry_bbox(multi) == (-2, 0, 4, 5)
    with pytest.raises(NgsiError):
        geometry_bbox({"type": "Point"})
    with pytest.raises(NgsiError):
        geometry_bbox({"type": "Point", "coordinates": []})


# --- parsing and validation -------------------------------------------------------------------


def test_parse_geometry_forms() -> None:
    assert parse_geometry("Point", "[8.0,40.0]") == {"type": "Point", "coordinates": [8.0, 40.0]}
    assert parse_geometry("point", [8, 40]) == {"type": "Point", "coordinates": [8.0, 40.0]}
    assert parse_geometry("Point", "%5B8,40%5D")["coordinates"] == [8.0, 40.0]
    assert parse_geometry("Point", "[8,40,120]")["coordinates"] == [8.0, 40.0, 120.0]
    assert parse_geometry("MultiPolygon", [SQUARE])["type"] == "MultiPolygon"
    assert parse_geometry("LineString", "[[0,0],[1,1]]")["type"] == "LineString"
    assert parse_geometry("MultiPoint", "[[0,0]]")["type"] == "MultiPoint"
    assert parse_geometry("MultiLineString", "[[[0,0],[1,1]]]")["type"] == "MultiLineString"
    holed = [*box(0, 0, 10, 10), *box(2, 2, 3, 3)]
    assert len(parse_geometry("Polygon", holed)["coordinates"]) == 2


@pytest.mark.parametrize(
    ("geometry", "coordinates", "fragment"),
    [
        ("Circle", "[1,2]", "Invalid geometry"),
        ("", "[1,2]", "Invalid geometry"),
        ("Point", "[1,2", "not a JSON array"),
        ("Point", "", "not a JSON array"),
        ("Point", "[1]", "[longitude, latitude]"),
        ("Point", "[1,2,3,4]", "[longitude, latitude]"),
        ("Point", '["1",2]', "[longitude, latitude]"),
        ("Point", "[true,2]", "[longitude, latitude]"),
        ("Point", "[181,0]", "out of range"),
        ("Point", "[0,-90.5]", "out of range"),
        ("Point", "[[0,0]]", "[longitude, latitude]"),
        ("Point", "{}", "[longitude, latitude]"),
        ("LineString", "[[0,0]]", "at least 2 positions"),
        ("LineString", "[0,0]", "coordinates[0] must be [longitude, latitude]"),
        ("LineString", "[]", "non-empty array"),
        ("MultiPoint", "[]", "non-empty array"),
        ("Polygon", "[[[0,0],[1,0],[1,1],[0,0.5]]]", "must be closed"),
        ("Polygon", "[[[0,0],[1,0],[0,0]]]", "at least 4 positions"),
        ("Polygon", "[[0,0],[1,0],[1,1],[0,0]]", "[longitude, latitude]"),
        ("Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]", "not valid"),
        ("MultiPolygon", "[[[[0,0],[1,0],[1,1]]]]", "must be closed"),
        ("MultiLineString", "[[[0,0]]]", "at least 2 positions"),
    ],
)
def test_geometry_errors(geometry: str, coordinates: str, fragment: str) -> None:
    with pytest.raises(NgsiError) as info:
        parse_geometry(geometry, coordinates)
    assert info.value.kind == "BadRequestData"
    assert fragment in info.value.detail


@pytest.mark.parametrize(
    ("georel", "fragment"),
    [
        ("", "empty"),
        ("nearby", "expected one of near"),
        ("Within", "expected one of"),
        ("near", "near needs maxDistance"),
        ("near;", "expected maxDistance==N"),
        ("near;maxDistance=10", "expected maxDistance==N"),
        ("near;maxDistance==", "metres >= 0"),
        ("near;maxDistance==-5", "metres >= 0"),
        ("near;maxDistance==abc", "metres >= 0"),
        ("near;maxDistance==inf", "metres >= 0"),
        ("near;distance==5", "expected maxDistance==N"),
        ("near;maxDistance==5;maxDistance==6", "given twice"),
        ("within;maxDistance==5", "expected nothing"),
    ],
)
def test_georel_errors(georel: str, fragment: str) -> None:
    with pytest.raises(NgsiError) as info:
        parse_geoquery(georel, "Point", SOL)
    assert info.value.kind == "BadRequestData"
    assert fragment in info.value.detail


def test_geoquery_fields() -> None:
    q = parse_geoquery("near;maxDistance==2000", "Point", "[-3.7038,40.4168]")
    assert isinstance(q, GeoQuery)
    assert q.georel == "near" and q.max_distance == 2000 and q.min_distance is None
    assert q.property == "location"
    assert q.geometry == {"type": "Point", "coordinates": [-3.7038, 40.4168]}
    assert q.georel_text() == "near;maxDistance==2000"
    assert parse_geoquery(" within ", "Polygon", SQUARE, "area").property == "area"
    assert "near" in repr(q)
    with pytest.raises(NgsiError):
        parse_geoquery("within", "Polygon", SQUARE, " ")
