"""The NGSI-LD Query Language: grammar, operators, typing, paths, errors (CIM 009 V1.9.1 §4.9)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinspace.twin.errors import NgsiError
from twinspace.twin.qlang import QExpr, parse_q

VOCAB = "https://example.org/vocab/"


def expand(term: str) -> str:
    """A stand-in for TermMap.expand: absolute IRIs stay, terms go under a vocabulary."""
    return term if ":" in term else VOCAB + term


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def rel(obj: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Relationship", "object": obj, **extra}


def entity(**attrs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Vehicle:A4567",
        "type": [VOCAB + "Vehicle"],
        "attrs": {expand(name): instances for name, instances in attrs.items()},
    }


SUB = {
    expand("accuracy"): prop(0.9),
    expand("sensor"): rel("urn:ngsi-ld:Device:d1", observedAt="2021-03-01T00:00:00Z"),
    expand("calibration"): prop({"offset": 0.5, "by": "lab"}),
}

CAR = entity(
    temperature=[prop(25, observedAt="2020-06-01T10:00:00Z", unitCode="CEL", subAttrs=SUB)],
    humidity=[prop(60)],
    brandName=[prop("Mercedes")],
    isParked=[rel("urn:ngsi-ld:OffStreetParking:Downtown1", observedAt="2017-07-29T12:00:04Z")],
    address=[
        prop(
            {
                "city": "Berlin",
                "streetAddress": {"streetName": "Main Street", "houseNumber": 65},
                "tags": ["a", "b"],
            }
        )
    ],
    colors=[{"type": "ListProperty", "valueList": ["red", "blue"]}],
    tags=[prop(["x", "y"])],
    name=[{"type": "LanguageProperty", "languageMap": {"en": "Tiger", "de": ["Tiger", "Katze"]}}],
    speed=[prop(50), prop(80, datasetId="urn:ngsi-ld:Dataset:gps")],
    dateObserved=[prop("2020-01-15T08:00:00Z")],
    typedDate=[prop({"@type": "DateTime", "@value": "2020-01-15T08:00:00+01:00"})],
    birthday=[prop("1990-05-17")],
    openAt=[prop("08:30:00Z")],
    active=[prop(True)],
    count=[prop(3)],
    ratio=[prop(0.5)],
    big=[prop(1.5e6)],
    neg=[prop(-4)],
    friends=[
        {"type": "ListRelationship", "objectList": [{"object": "urn:p:1"}, {"object": "urn:p:2"}]}
    ],
    category=[{"type": "VocabProperty", "vocab": "https://example.org/cat/a"}],
    config=[{"type": "JsonProperty", "json": {"mode": "auto", "level": 3}}],
    quote=[prop('say "hi"; ok')],
    location=[{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [13.4, 52.5]}}],
)


def check(q: str, expected: bool, ent: dict[str, Any] = CAR) -> None:
    parsed = parse_q(q)
    assert parsed.matches(ent, expand) is expected, q
    assert parsed.bind(expand)(ent) is expected, q


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # bare attribute: existence
        ("temperature", True),
        ("missing", False),
        ("temperature.accuracy", True),
        ("temperature.missing", False),
        ("temperature.observedAt", True),
        ("humidity.observedAt", False),
        ("address[city]", True),
        ("address[country]", False),
        # numbers
        ("temperature==25", True),
        ("temperature==25.0", True),
        ("temperature==26", False),
        ("temperature!=26", True),
        ("temperature!=25", False),
        ("temperature>20", True),
        ("temperature>25", False),
        ("temperature>=25", True),
        ("temperature<25", False),
        ("temperature<=25", True),
        ("temperature<30", True),
        ("neg<-3", True),
        ("neg==-4", True),
        ("ratio==0.5", True),
        ("ratio>5e-1", False),
        ("big==1.5E6", True),
        ("big>=1e+6", True),
        # strings
        ('brandName=="Mercedes"', True),
        ("brandName=='Mercedes'", True),
        ('brandName=="mercedes"', False),
        ('brandName!="BMW"', True),
        ('brandName>"Audi"', True),
        ('brandName<"Audi"', False),
        ('quote=="say \\"hi\\"; ok"', True),
        # booleans
        ("active==true", True),
        ("active==false", False),
        ("active!=false", True),
        ("count==true", False),
        # mismatched types: never equal, always unequal
        ('temperature=="25"', False),
        ('temperature!="25"', True),
        ("brandName==25", False),
        ("brandName>25", False),
        ("brandName!=25", True),
        # dates, times, date-times
        ("dateObserved>=2020-01-01T00:00:00Z", True),
        ("dateObserved<2020-01-15T08:00:00Z", False),
        ("dateObserved==2020-01-15T09:00:00+01:00", True),
        ("dateObserved==2020-01-15T08:00:00.000Z", True),
        ("dateObserved>2020-01-15", False),
        ("dateObserved!=2020-01-15", True),
        ('dateObserved>"2020"', True),
        ("typedDate==2020-01-15T07:00:00Z", True),
        ("birthday>1990-01-01", True),
        ("birthday==1990-05-17", True),
        ("birthday<1990-05-17", False),
        ("openAt>08:00:00Z", True),
        ("openAt<=08:30", True),
        ("openAt==09:30:00+01:00", True),
        ("brandName>2020-01-01", False),
        # value lists and ranges
        ("temperature==20,25,30", True),
        ("temperature==20,30", False),
        ("temperature!=20,30", True),
        ("temperature!=20,25", False),
        ('brandName=="BMW","Mercedes"', True),
        ('brandName=="BMW",25', False),
        ("temperature==20..30", True),
        ("temperature==25..25", True),
        ("temperature==26..30", False),
        ("temperature!=26..30", True),
        ("temperature!=20..30", False),
        ("ratio==0.1..0.9", True),
        ("neg==-10..-1", True),
        ('brandName=="M".."N"', True),
        ("dateObserved==2020-01-01T00:00:00Z..2020-02-01T00:00:00Z", True),
        ("birthday==1990-01-01..1990-12-31", True),
        ("birthday==1991-01-01..1991-12-31", False),
        # URIs and relationships (object compared; only == and !=)
        ("isParked==urn:ngsi-ld:OffStreetParking:Downtown1", True),
        ('isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"', True),
        ("isParked!=urn:ngsi-ld:OffStreetParking:Downtown2", True),
        (
            "isParked==urn:ngsi-ld:OffStreetParking:Downtown2,urn:ngsi-ld:OffStreetParking:Downtown1",
            True,
        ),
        ('isParked>"urn:a"', False),
        ("isParked~=Downtown", False),
        ("isParked==urn:a..urn:b", False),
        ("isParked.observedAt>=2017-01-01T00:00:00Z", True),
        ("friends==urn:p:2", True),
        ("friends!=urn:p:3", True),
        ("friends!=urn:p:2", False),
        ("temperature.sensor==urn:ngsi-ld:Device:d1", True),
        ("temperature.sensor.observedAt<2022-01-01T00:00:00Z", True),
        ("category==https://example.org/cat/a", True),
        # arrays: == means contains, != does not contain
        ('colors=="red"', True),
        ('colors=="green"', False),
        ('colors!="green"', True),
        ('colors!="red"', False),
        ('colors=="green","blue"', True),
        ('tags=="y"', True),
        ('colors~="^bl"', True),
        ('colors>"q"', True),
        # language properties: any language, or one by tag
        ('name=="Tiger"', True),
        ('name=="Katze"', True),
        ('name[en]=="Tiger"', True),
        ('name[de]=="Katze"', True),
        ('name[en]=="Katze"', False),
        ("name~=(?i)^tig", True),
        # sub-attributes and instance members
        ("temperature.accuracy>0.8", True),
        ("temperature.accuracy>0.95", False),
        ('temperature.unitCode=="CEL"', True),
        ('temperature.unitCode!="FAH"', True),
        ("temperature.observedAt>=2020-01-01T00:00:00Z", True),
        ("temperature.observedAt<2020-01-01T00:00:00Z", False),
        ("temperature.createdAt>=2020-01-01T00:00:00Z", False),
        ("speed.datasetId==urn:ngsi-ld:Dataset:gps", True),
        ("temperature.calibration[offset]==0.5", True),
        ('temperature.calibration[by]=="lab"', True),
        ("temperature.observedAt[x]", False),
        ("temperature.observedAt.accuracy", False),
        # compound values
        ('address[city]=="Berlin"', True),
        ('address[city]!="Paris"', True),
        ('address[streetAddress.streetName]=="Main Street"', True),
        ('address[streetAddress][streetName]=="Main Street"', True),
        ("address[streetAddress.houseNumber]>60", True),
        ('address[tags.1]=="b"', True),
        ('address[tags.5]=="b"', False),
        ("address[country]!=1", False),
        ('config[mode]=="auto"', True),
        ("config[level]>=3", True),
        ('location[type]=="Point"', True),
        # multiple instances: any instance
        ("speed==80", True),
        ("speed==50", True),
        ("speed>70", True),
        ("speed>90", False),
        ("speed!=50", True),
        ("speed==60..90", True),
        # regular expressions (re.search)
        ("brandName~=Merc", True),
        ("brandName~=^Merc", True),
        ("brandName~=^erc", False),
        ('brandName~="^Mercedes$"', True),
        ("brandName~=(?i)mercedes", True),
        ("brandName!~=BMW", True),
        ("brandName!~=Merc", False),
        ("brandName~=M(e|x)rc", True),
        ("brandName~=[a-z]+des", True),
        ("temperature~=25", False),
        ("temperature!~=25", True),
        # absent attributes never match, whatever the operator
        ("missing!=1", False),
        ("missing!~=x", False),
        ('address[country]!="x"', False),
    ],
)
def test_term(q: str, expected: bool) -> None:
    check(q, expected)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("temperature>20;humidity<50", False),
        ("temperature>20;humidity>50", True),
        ("temperature>30|humidity>50", True),
        ("temperature>30|humidity<50", False),
        # AND binds tighter than OR
        ('temperature>30;humidity>50|brandName=="Mercedes"', True),
        ('brandName=="Mercedes"|temperature>30;humidity<50', True),
        ('brandName=="BMW"|temperature>20;humidity<50', False),
        ('(brandName=="BMW"|temperature>20);humidity>50', True),
        ('temperature>20;(humidity<50|brandName=="Mercedes")', True),
        ('temperature>20;(humidity<50|brandName=="BMW")', False),
        ("((temperature>20));((humidity>50))", True),
        ("(temperature>30|(humidity>50;(count==3|missing)))", True),
        ("temperature>20;humidity>50;count==3;active==true", True),
        ("missing|missing2|temperature", True),
        ("brandName~=M(e|x)rc|missing", True),
        ("brandName~=Merc);(x", None),
        (" temperature > 20 ; humidity >= 60 ", True),
    ],
)
def test_logic(q: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(NgsiError):
            parse_q(q)
    else:
        check(q, expected)


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("temperature>", "expected a value (number"),
        ("temperature>>3", "position 12"),
        ("temperature=20", "expected an operator"),
        ("temperature=<20", "expected an operator"),
        ("temperature 20", "expected an operator"),
        (";temperature", "expected an attribute name or '(' at position 0"),
        ("temperature;", "expected an attribute name or '(' at position 12, found end of query"),
        ("temperature|", "at position 12"),
        ("(temperature>20", "expected ')'"),
        ("temperature>20)", "expected ';', '|' or the end"),
        ("()", "attribute name"),
        ("temperature>20 humidity", "expected ';', '|' or the end"),
        ("temperature.", "sub-attribute name"),
        ("temperature..x", "sub-attribute name"),
        ("address[", "member name"),
        ("address[city", "expected ']'"),
        ("address[]", "member name"),
        ("address[city]x", "expected an operator"),
        ('brandName=="Mercedes', 'closing "'),
        ("brandName==Mercedes", "expected a value"),
        ("brandName==null", "expected a value"),
        ("count==1,", "expected a value"),
        ("count==,1", "expected a value"),
        ("count>1,2", "value lists only follow == or !="),
        ("count>1..3", "ranges only follow == or !="),
        ("count==1..", "expected a value"),
        ('count==1.."z"', "a range of two numbers"),
        ("count==true..false", "expected a value"),
        ("active>true", "a number, string, date or time after >"),
        ("isParked<urn:a:b", "a number, string, date or time after <"),
        ("birthday>2020-13-01", "expected a value"),
        ("openAt>25:00", "expected a value"),
        ("dateObserved>2020-01-01T25:00:00Z", "expected a value"),
        ("brandName~=", "a regular expression"),
        ("brandName~=(unclosed", "bad regular expression"),
        ('brandName~="["', "bad regular expression"),
        ("temperature==1.2.3", "expected a value"),
        ("temperature==--1", "expected a value"),
        ("temperature==1 2", "expected ';', '|' or the end"),
    ],
)
def test_syntax_errors(q: str, fragment: str) -> None:
    with pytest.raises(NgsiError) as info:
        parse_q(q)
    assert info.value.kind == "BadRequestData"
    assert info.value.status == 400
    assert fragment in info.value.detail
    if q.strip():
        assert info.value.detail.startswith("Invalid q:")


def test_too_deep_nesting_is_too_complex() -> None:
    with pytest.raises(NgsiError) as info:
        parse_q("(" * 100 + "a" + ")" * 100)
    assert info.value.kind == "TooComplexQuery"
    check("(" * 50 + "temperature" + ")" * 50, True)


def test_attributes_and_required() -> None:
    q = parse_q('temperature>20;(humidity<50|brandName=="Mercedes");address[city]|refA.observedAt')
    assert q.attributes() == {"temperature", "humidity", "brandName", "address", "refA"}
    assert parse_q("a;b|c").required_any() == {"a", "c"}
    assert parse_q("(a|b);c").required_any() == {"c"}
    assert parse_q("(a|b);(c|d|e)").required_any() == {"a", "b"}
    assert isinstance(q, QExpr)
    assert "temperature" in repr(q)


def test_spec_examples() -> None:
    """Examples in the style of CIM 009 §4.9 and the NGSI-LD primer."""
    check('temperature>20;(humidity<50|brandName=="Mercedes")', True)
    check('address[city]=="Berlin"', True)
    check("isParked.observedAt>=2017-01-01T00:00:00Z", True)
    check('address[streetAddress.streetName]=="Main Street"', True)
    vehicle = entity(refVehicle=[rel("urn:ngsi-ld:Vehicle:1", observedAt="2020-05-05T00:00:00Z")])
    check("refVehicle.observedAt>=2020-01-01T00:00:00Z", True, vehicle)
    check("refVehicle.observedAt>=2021-01-01T00:00:00Z", False, vehicle)
    check("refVehicle==urn:ngsi-ld:Vehicle:1", True, vehicle)


def test_names_are_expanded_once_per_binding() -> None:
    calls: list[str] = []

    def counting(term: str) -> str:
        calls.append(term)
        return expand(term)

    match = parse_q("temperature>20;temperature.accuracy>0.5;address[city]").bind(counting)
    before = len(calls)
    for _ in range(5):
        assert match(CAR)
    assert len(calls) == before
    assert "temperature" in calls and "accuracy" in calls


def test_bind_caches_per_expansion() -> None:
    q = parse_q("temperature>20")
    assert q.bind(expand) is q.bind(expand)
    other = q.bind(lambda t: "https://other.org/" + t)
    assert other is not q.bind(expand)
    assert not other(CAR)
    assert q.filter([CAR, entity(temperature=[prop(3)])], expand) == [CAR]


def test_compound_members_fall_back_to_expanded_names() -> None:
    ent = entity(address=[prop({VOCAB + "city": "Madrid"})])
    check('address[city]=="Madrid"', True, ent)


def test_matching_tolerates_odd_shapes() -> None:
    odd = {
        "id": "urn:x",
        "type": ["T"],
        "attrs": {
            expand("a"): [{"type": "Property"}],
            expand("b"): [{"value": 4}],
            expand("c"): ["not-a-dict"],
            expand("d"): [prop(5, subAttrs="bad")],
            expand("e"): [{"type": "ListRelationship", "objectList": ["urn:a:1"]}],
            expand("f"): [{"type": "LanguageProperty", "languageMap": "bad"}],
        },
    }
    for q, expected in [
        ("a==1", False),
        ("a!=1", False),
        ("b==4", True),
        ("c==1", False),
        ("d.x==1", False),
        ("e==urn:a:1", True),
        ('f=="x"', False),
        ("a", True),
    ]:
        check(q, expected, odd)
    assert not parse_q("a").matches({"id": "urn:x"}, expand)


@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-50, 50))
def test_range_is_the_conjunction_of_bounds(value: int, lo: int, hi: int) -> None:
    ent = entity(x=[prop(value)])
    as_range = parse_q(f"x=={lo}..{hi}").matches(ent, expand)
    as_bounds = parse_q(f"x>={lo};x<={hi}").matches(ent, expand)
    assert as_range == as_bounds == (lo <= value <= hi)
    assert parse_q(f"x!={lo}..{hi}").matches(ent, expand) is not as_range


@given(st.floats(-1e6, 1e6, allow_nan=False), st.lists(st.integers(-5, 5), min_size=1, max_size=4))
def test_value_list_is_a_disjunction(value: float, values: list[int]) -> None:
    ent = entity(x=[prop(value)])
    listed = parse_q("x==" + ",".join(map(str, values))).matches(ent, expand)
    ored = parse_q("|".join(f"x=={v}" for v in values)).matches(ent, expand)
    assert listed == ored == (value in values)
    assert parse_q("x!=" + ",".join(map(str, values))).matches(ent, expand) is not listed


@given(st.text(alphabet='ab"\\;|', max_size=12))
def test_quoted_strings_round_trip(text: str) -> None:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    ent = entity(x=[prop(text)])
    assert parse_q(f'x=="{escaped}"').matches(ent, expand)


@given(st.text(alphabet="ab1.;|()[]=!<>~\"',: -", max_size=20))
def test_parser_only_raises_ngsi_errors(text: str) -> None:
    try:
        q = parse_q(text)
    except NgsiError as exc:
        assert exc.kind in ("BadRequestData", "TooComplexQuery")
    else:
        q.matches(CAR, expand)  # never raises
