"""Subscriptions, pure: parsing and validation, PATCH, rendering, matching, notification shapes."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from twinspace.twin import notification as n
from twinspace.twin import subscription as s
from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError

EX = "https://example.org/ns/"
CTX_URL = "https://example.org/ctx.jsonld"
CTX = {"Vehicle": f"{EX}Vehicle", "Car": f"{EX}Car", "speed": f"{EX}speed", "owner": f"{EX}owner"}
VEHICLE, CAR, SPEED, OWNER = f"{EX}Vehicle", f"{EX}Car", f"{EX}speed", f"{EX}owner"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
NOW = "2026-01-01T00:00:00.000000Z"
LATER = "2026-01-01T00:00:05.000000Z"


@pytest.fixture(scope="module")
def terms() -> TermMap:
    return TermMap.build([CTX])


def payload(**members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": "http://rx.test/notify"}},
    }
    body.update(members)
    return body


def sub(terms: TermMap, **members: Any) -> dict[str, Any]:
    return s.parse_subscription(payload(**members), terms, NOW, context=[CTX_URL])


def vehicle(
    entity_id: str = "urn:ngsi-ld:Vehicle:1",
    speed: float | None = 50,
    *,
    at: str = NOW,
    types: tuple[str, ...] = (VEHICLE,),
    where: tuple[float, float] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if speed is not None:
        attrs[SPEED] = [{"type": "Property", "value": speed, "createdAt": NOW, "modifiedAt": at}]
    if where is not None:
        point = {"type": "Point", "coordinates": list(where)}
        attrs[LOCATION] = [
            {"type": "GeoProperty", "value": point, "createdAt": NOW, "modifiedAt": at}
        ]
    for key, value in extra.items():
        attrs[f"{EX}{key}"] = [
            {"type": "Property", "value": value, "createdAt": NOW, "modifiedAt": at}
        ]
    return {
        "id": entity_id,
        "type": list(types),
        "createdAt": NOW,
        "modifiedAt": at,
        "attrs": attrs,
    }


# -- parsing ------------------------------------------------------------------------------------


def test_defaults_and_expansion(terms: TermMap) -> None:
    parsed = sub(terms, watchedAttributes=["speed"])
    assert parsed["id"].startswith("urn:ngsi-ld:Subscription:")
    assert parsed["type"] == "Subscription"
    assert parsed["isActive"] is True
    assert parsed["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    assert parsed["notification"]["format"] == "normalized"
    assert parsed["notification"]["endpoint"] == {
        "uri": "http://rx.test/notify",
        "accept": "application/json",
    }
    assert parsed["entities"] == [{"type": VEHICLE}]
    assert parsed["watchedAttributes"] == [SPEED]
    assert parsed["jsonldContext"] == [CTX_URL]
    assert parsed["createdAt"] == parsed["modifiedAt"] == NOW


def test_ids(terms: TermMap) -> None:
    given = s.parse_subscription(payload(id="urn:ngsi-ld:Subscription:a"), terms, NOW)
    assert given["id"] == "urn:ngsi-ld:Subscription:a"
    imposed = s.parse_subscription(payload(), terms, NOW, sub_id="urn:x:1")
    assert imposed["id"] == "urn:x:1"
    assert imposed["jsonldContext"] == []


def test_full_subscription(terms: TermMap) -> None:
    parsed = sub(
        terms,
        subscriptionName="fast",
        description="fast vehicles",
        entities=[
            {"type": "Vehicle", "idPattern": "urn:ngsi-ld:Vehicle:.*"},
            {"type": "Car", "id": "urn:c:1"},
        ],
        q="speed>40",
        geoQ={"geometry": "Point", "coordinates": [-3.7, 40.4], "georel": "near;maxDistance==1000"},
        scopeQ="/Madrid/#",
        expiresAt="2030-01-01T00:00:00Z",
        throttling=5,
        notificationTrigger=["entityDeleted", "attributeUpdated"],
        notification={
            "attributes": ["speed"],
            "format": "keyValues",
            "sysAttrs": True,
            "endpoint": {
                "uri": "https://rx.test/n",
                "accept": "application/ld+json",
                "receiverInfo": [{"key": "X-Auth", "value": "secret"}],
            },
        },
    )
    assert parsed["entities"][1] == {"type": CAR, "id": "urn:c:1"}
    assert parsed["expiresAt"] == "2030-01-01T00:00:00.000000Z"
    assert parsed["notificationTrigger"] == ["entityDeleted", "attributeUpdated"]
    assert parsed["notification"]["attributes"] == [SPEED]
    assert parsed["notification"]["endpoint"]["receiverInfo"] == [
        {"key": "X-Auth", "value": "secret"}
    ]
    assert parsed["q"] == "speed>40"
    assert parsed["geoQ"]["georel"] == "near;maxDistance==1000"


def test_watched_attributes_alone_suffice(terms: TermMap) -> None:
    body = payload(watchedAttributes=["speed"])
    del body["entities"]
    assert s.parse_subscription(body, terms, NOW)["watchedAttributes"] == [SPEED]


BAD = [
    ({"type": "Subscriptions"}, "type"),
    ({"id": "not a uri"}, "id"),
    ({"entities": []}, "entities"),
    ({"entities": [{"id": "urn:x:1"}]}, "entities"),
    ({"entities": [{"type": "Vehicle", "color": "red"}]}, "entities"),
    ({"entities": [{"type": "Vehicle", "idPattern": "urn:(x"}]}, "entities.idPattern"),
    ({"entities": [{"type": "Vehicle", "id": "nope"}]}, "entities.id"),
    ({"entities": None}, "entities"),
    ({"watchedAttributes": []}, "watchedAttributes"),
    ({"watchedAttributes": [""]}, "watchedAttributes"),
    ({"notificationTrigger": ["entityTouched"]}, "notificationTrigger"),
    ({"notificationTrigger": []}, "notificationTrigger"),
    ({"q": "speed>>"}, "q"),
    ({"q": ""}, "q"),
    ({"geoQ": {"geometry": "Point", "coordinates": [1, 2]}}, "geoQ"),
    ({"geoQ": {"geometry": "Point", "coordinates": [1, 2], "georel": "nearby"}}, "georel"),
    ({"scopeQ": "Madrid"}, "scopeQ"),
    ({"isActive": "yes"}, "isActive"),
    ({"expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
    ({"expiresAt": "tomorrow"}, "expiresAt"),
    ({"throttling": -1}, "throttling"),
    ({"throttling": "5"}, "throttling"),
    ({"throttling": True}, "throttling"),
    ({"notification": None}, "notification"),
    ({"notification": {}}, "notification.endpoint"),
    ({"notification": {"endpoint": {"uri": "rx.test/notify"}}}, "notification.endpoint.uri"),
    ({"notification": {"endpoint": {"uri": "ftp://rx.test/n"}}}, "notification.endpoint.uri"),
    ({"notification": {"endpoint": {"uri": "http:rx"}}}, "notification.endpoint.uri"),
    (
        {"notification": {"endpoint": {"uri": "http://rx.test/", "accept": "text/plain"}}},
        "notification.endpoint.accept",
    ),
    (
        {
            "notification": {
                "endpoint": {
                    "uri": "http://rx.test/",
                    "receiverInfo": [{"key": "a b", "value": "v"}],
                }
            }
        },
        "receiverInfo",
    ),
    (
        {"notification": {"endpoint": {"uri": "http://rx.test/", "receiverInfo": {"key": "a"}}}},
        "receiverInfo",
    ),
    (
        {"notification": {"format": "compact", "endpoint": {"uri": "http://rx.test/"}}},
        "notification.format",
    ),
    (
        {"notification": {"attributes": [], "endpoint": {"uri": "http://rx.test/"}}},
        "notification.attributes",
    ),
    (
        {"notification": {"sysAttrs": 1, "endpoint": {"uri": "http://rx.test/"}}},
        "notification.sysAttrs",
    ),
]


@pytest.mark.parametrize(("members", "named"), BAD)
def test_bad_members(terms: TermMap, members: dict[str, Any], named: str) -> None:
    body = payload(**members)
    if members.get("notification", 0) is None:
        del body["notification"]
    with pytest.raises(NgsiError) as caught:
        s.parse_subscription(body, terms, NOW)
    assert caught.value.kind == "BadRequestData"
    assert named in caught.value.detail


def test_needs_entities_or_watched_attributes(terms: TermMap) -> None:
    body = payload()
    del body["entities"]
    with pytest.raises(NgsiError, match="watchedAttributes"):
        s.parse_subscription(body, terms, NOW)
    with pytest.raises(NgsiError, match="JSON object"):
        s.parse_subscription([], terms, NOW)


@pytest.mark.parametrize(
    "members",
    [
        {"timeInterval": 60},
        {"temporalQ": {"timerel": "after"}},
        {"notification": {"endpoint": {"uri": "mqtt://broker:1883/t"}}},
        {"notification": {"showChanges": True, "endpoint": {"uri": "http://rx.test/"}}},
    ],
)
def test_unsupported(terms: TermMap, members: dict[str, Any]) -> None:
    with pytest.raises(NgsiError) as caught:
        s.parse_subscription(payload(**members), terms, NOW)
    assert caught.value.kind == "OperationNotSupported"


# -- PATCH --------------------------------------------------------------------------------------


def test_merge(terms: TermMap) -> None:
    old = sub(terms, q="speed>40", throttling=5)
    frozen = copy.deepcopy(old)
    new = s.merge_subscription(
        old,
        {
            "q": None,
            "watchedAttributes": ["owner"],
            "notification": {"format": "concise"},
            "isActive": False,
        },
        terms,
        LATER,
    )
    assert old == frozen
    assert "q" not in new
    assert new["watchedAttributes"] == [OWNER]
    assert new["notification"]["format"] == "concise"
    assert new["notification"]["endpoint"]["uri"] == "http://rx.test/notify"
    assert new["isActive"] is False and new["throttling"] == 5
    assert new["createdAt"] == NOW and new["modifiedAt"] == LATER


@pytest.mark.parametrize(
    "fragment",
    [
        {},
        {"id": "urn:ngsi-ld:Subscription:other"},
        {"type": "Entity"},
        {"entities": None},
        {"expiresAt": "2025-01-01T00:00:00Z"},
        {"notification": {"endpoint": {"uri": "nope"}}},
    ],
)
def test_merge_rejects(terms: TermMap, fragment: dict[str, Any]) -> None:
    with pytest.raises(NgsiError) as caught:
        s.merge_subscription(sub(terms), fragment, terms, LATER)
    assert caught.value.kind == "BadRequestData"


# -- rendering ----------------------------------------------------------------------------------


def test_render(terms: TermMap) -> None:
    parsed = sub(
        terms,
        watchedAttributes=["speed"],
        notification={"attributes": ["owner"], "endpoint": {"uri": "http://rx.test/n"}},
    )
    status = {
        "status": "active",
        "notification": {
            "timesSent": 2,
            "timesFailed": 0,
            "lastSuccess": LATER,
            "lastFailure": None,
            "status": "ok",
        },
    }
    out = s.render_subscription(parsed, terms, status)
    assert out["entities"] == [{"type": "Vehicle"}]
    assert out["watchedAttributes"] == ["speed"]
    assert out["notification"]["attributes"] == ["owner"]
    assert out["notification"]["timesSent"] == 2 and out["notification"]["status"] == "ok"
    assert "lastFailure" not in out["notification"]
    assert out["status"] == "active" and out["jsonldContext"] == CTX_URL
    assert "createdAt" not in out
    assert s.render_subscription(parsed, terms, status, sys_attrs=True)["createdAt"] == NOW


def test_status(terms: TermMap) -> None:
    assert s.subscription_status(sub(terms), NOW) == "active"
    assert s.subscription_status(sub(terms, isActive=False), NOW) == "paused"
    expiring = sub(terms, expiresAt="2026-01-01T00:00:01Z")
    assert s.subscription_status(expiring, LATER) == "expired"


# -- matching -----------------------------------------------------------------------------------


def fires(
    terms: TermMap, subscription: dict[str, Any], before: Any, after: Any, now: str = NOW
) -> bool:
    return n.triggers(subscription, before, after, now, terms=terms)


def test_default_triggers(terms: TermMap) -> None:
    default = sub(terms)
    v1 = vehicle(speed=50)
    assert fires(terms, default, None, v1)  # creation = attributes created
    assert fires(terms, default, v1, vehicle(speed=60, at=LATER))
    assert not fires(terms, default, v1, vehicle(speed=50, at=LATER))  # only timestamps moved
    assert fires(terms, default, v1, vehicle(speed=50, owner="ann"))  # attribute created
    assert not fires(terms, default, vehicle(speed=50, owner="ann"), v1)  # deleted: not watched
    assert not fires(terms, default, v1, None)
    assert not fires(terms, default, None, None)


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("entityCreated", [True, False, False, False, False]),
        ("entityUpdated", [False, True, True, True, False]),
        ("entityDeleted", [False, False, False, False, True]),
        ("attributeCreated", [True, False, True, False, False]),
        ("attributeUpdated", [False, True, False, False, False]),
        ("attributeDeleted", [False, False, False, True, False]),
    ],
)
def test_each_trigger(terms: TermMap, trigger: str, expected: list[bool]) -> None:
    subscription = sub(terms, notificationTrigger=[trigger])
    v1 = vehicle(speed=50)
    cases = [
        (None, v1),  # created
        (v1, vehicle(speed=70)),  # attribute updated
        (v1, vehicle(speed=50, owner="ann")),  # attribute created
        (vehicle(speed=50, owner="ann"), v1),  # attribute deleted
        (v1, None),  # entity deleted
    ]
    assert [fires(terms, subscription, b, a) for b, a in cases] == expected


def test_metadata_change_counts(terms: TermMap) -> None:
    v1 = vehicle(speed=50)
    v2 = copy.deepcopy(v1)
    v2["attrs"][SPEED][0]["observedAt"] = LATER
    assert fires(terms, sub(terms), v1, v2)


def test_type_change_is_entity_updated(terms: TermMap) -> None:
    subscription = sub(terms, notificationTrigger=["entityUpdated"])
    assert fires(terms, subscription, vehicle(), vehicle(types=(CAR, VEHICLE)))


def test_watched_attributes(terms: TermMap) -> None:
    watching = sub(terms, watchedAttributes=["owner"])
    v1 = vehicle(speed=50, owner="ann")
    assert not fires(terms, watching, v1, vehicle(speed=60, owner="ann"))
    assert fires(terms, watching, v1, vehicle(speed=50, owner="bob"))
    assert not fires(terms, watching, None, vehicle(speed=50))
    assert fires(terms, watching, None, v1)


def test_entity_selectors(terms: TermMap) -> None:
    by_id = sub(terms, entities=[{"type": "Vehicle", "id": "urn:ngsi-ld:Vehicle:1"}])
    assert fires(terms, by_id, None, vehicle("urn:ngsi-ld:Vehicle:1"))
    assert not fires(terms, by_id, None, vehicle("urn:ngsi-ld:Vehicle:2"))
    by_pattern = sub(
        terms, entities=[{"type": "Vehicle", "idPattern": "urn:ngsi-ld:Vehicle:[12]$"}]
    )
    assert fires(terms, by_pattern, None, vehicle("urn:ngsi-ld:Vehicle:2"))
    assert not fires(terms, by_pattern, None, vehicle("urn:ngsi-ld:Vehicle:3"))
    assert not fires(terms, by_pattern, None, vehicle("x:urn:ngsi-ld:Vehicle:1"))
    cars = sub(terms, entities=[{"type": "Car"}])
    assert not fires(terms, cars, None, vehicle())
    assert fires(terms, cars, None, vehicle(types=(CAR, VEHICLE)))
    anything = s.parse_subscription(
        {k: v for k, v in payload(watchedAttributes=["speed"]).items() if k != "entities"},
        terms,
        NOW,
    )
    assert fires(terms, anything, None, vehicle(types=(CAR,)))


def test_q_on_the_state_after(terms: TermMap) -> None:
    fast = sub(terms, q="speed>40")
    assert fires(terms, fast, vehicle(speed=10), vehicle(speed=50))
    assert not fires(terms, fast, vehicle(speed=50), vehicle(speed=10))
    deleted = sub(terms, q="speed>40", notificationTrigger=["entityDeleted"])
    assert fires(terms, deleted, vehicle(speed=50), None)  # deletions: the state before
    assert not fires(terms, deleted, vehicle(speed=10), None)


def test_geoq(terms: TermMap) -> None:
    near = sub(
        terms,
        geoQ={
            "geometry": "Point",
            "coordinates": "[-3.7,40.4]",
            "georel": "near;maxDistance==1000",
        },
    )
    assert fires(terms, near, None, vehicle(where=(-3.7, 40.401)))
    assert not fires(terms, near, None, vehicle(where=(-3.6, 40.5)))
    assert not fires(terms, near, None, vehicle())


def test_scopeq(terms: TermMap) -> None:
    madrid = sub(terms, scopeQ="/Madrid/#")
    entity = vehicle()
    assert not fires(terms, madrid, None, entity)
    entity["scope"] = ["/Madrid/Centro"]
    assert fires(terms, madrid, None, entity)
    entity["scope"] = ["/Madridx"]
    assert not fires(terms, madrid, None, entity)
    one_level = sub(terms, scopeQ="/Madrid/+,/Sevilla")
    assert fires(terms, one_level, None, {**entity, "scope": ["/Madrid/Centro"]})
    assert not fires(terms, one_level, None, {**entity, "scope": ["/Madrid/Centro/Sol"]})
    assert fires(terms, one_level, None, {**entity, "scope": ["/Sevilla"]})


def test_inactive_and_expired(terms: TermMap) -> None:
    assert not fires(terms, sub(terms, isActive=False), None, vehicle())
    expiring = sub(terms, expiresAt="2026-01-01T00:00:01Z")
    assert fires(terms, expiring, None, vehicle(), NOW)
    assert not fires(terms, expiring, None, vehicle(), LATER)


def test_compiled_once_per_version(terms: TermMap) -> None:
    subscription = sub(terms, q="speed>1")
    first = n.compile_subscription(subscription, terms)
    assert n.compile_subscription(copy.deepcopy(subscription), terms) is first
    changed = s.merge_subscription(subscription, {"q": "speed>100"}, terms, LATER)
    assert n.compile_subscription(changed, terms) is not first
    assert not fires(terms, changed, None, vehicle(speed=50))


# -- notifications ------------------------------------------------------------------------------


def notify(
    terms: TermMap, subscription: dict[str, Any], *entities: dict[str, Any]
) -> dict[str, Any]:
    return n.notification_payload(subscription, list(entities), terms, LATER)


def test_normalized_payload(terms: TermMap) -> None:
    subscription = sub(terms)
    body = notify(terms, subscription, vehicle(speed=50, owner="ann"))
    assert body["id"].startswith("urn:ngsi-ld:Notification:")
    assert body["type"] == "Notification"
    assert body["subscriptionId"] == subscription["id"]
    assert body["notifiedAt"] == LATER
    (entity,) = body["data"]
    assert entity["id"] == "urn:ngsi-ld:Vehicle:1" and entity["type"] == "Vehicle"
    assert entity["speed"]["type"] == "Property" and entity["speed"]["value"] == 50
    assert entity["owner"]["value"] == "ann"
    assert "createdAt" not in entity and "@context" not in entity


def test_key_values_and_attributes_filter(terms: TermMap) -> None:
    subscription = sub(
        terms,
        notification={
            "format": "keyValues",
            "attributes": ["speed"],
            "endpoint": {"uri": "http://rx.test/"},
        },
    )
    (entity,) = notify(terms, subscription, vehicle(speed=50, owner="ann"))["data"]
    assert entity == {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 50}


def test_concise_with_sys_attrs(terms: TermMap) -> None:
    subscription = sub(
        terms,
        notification={
            "format": "concise",
            "sysAttrs": True,
            "endpoint": {"uri": "http://rx.test/"},
        },
    )
    (entity,) = notify(terms, subscription, vehicle(speed=50))["data"]
    assert entity["speed"]["value"] == 50 and "type" not in entity["speed"]
    assert entity["createdAt"] == NOW and entity["speed"]["modifiedAt"] == NOW


def test_json_ld_payload_carries_the_context(terms: TermMap) -> None:
    subscription = sub(
        terms,
        notification={"endpoint": {"uri": "http://rx.test/", "accept": "application/ld+json"}},
    )
    (entity,) = notify(terms, subscription, vehicle())["data"]
    assert entity["@context"] == CTX_URL
    headers = n.notification_headers(subscription)
    assert headers == {"Content-Type": "application/ld+json"}


def test_deleted_entity_rendering(terms: TermMap) -> None:
    gone = {"id": "urn:ngsi-ld:Vehicle:1", "type": [VEHICLE], "attrs": {}, "deletedAt": LATER}
    (entity,) = notify(terms, sub(terms), gone)["data"]
    assert entity == {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "deletedAt": LATER}


def test_headers(terms: TermMap) -> None:
    subscription = sub(
        terms,
        notification={
            "endpoint": {
                "uri": "http://rx.test/",
                "receiverInfo": [{"key": "X-Token", "value": "t"}],
            }
        },
    )
    headers = n.notification_headers(subscription, "city")
    assert headers["Content-Type"] == "application/json"
    assert (
        headers["Link"]
        == f'<{CTX_URL}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    assert headers["X-Token"] == "t"
    assert headers["NGSILD-Tenant"] == "city"
    assert "NGSILD-Tenant" not in n.notification_headers(subscription, "")
    core = s.parse_subscription(payload(), terms, NOW)
    assert s.CORE_CONTEXT in n.notification_headers(core)["Link"]
    inline = s.parse_subscription(payload(), terms, NOW, context=[CTX])
    assert "Link" not in n.notification_headers(inline)


def test_coalesce_keeps_latest_state_of_each_entity() -> None:
    first = {"id": "n1", "type": "Notification", "data": [{"id": "a", "v": 1}, {"id": "b", "v": 1}]}
    second = {"id": "n2", "type": "Notification", "data": [{"id": "a", "v": 2}]}
    third = {"id": "n3", "type": "Notification", "data": [{"id": "c", "v": 3}, {"id": "a", "v": 3}]}
    merged = n.coalesce([first, second, third])
    assert merged["id"] == "n1"
    assert merged["data"] == [{"id": "b", "v": 1}, {"id": "c", "v": 3}, {"id": "a", "v": 3}]
    assert n.coalesce([first]) is first


def test_throttle_due(terms: TermMap) -> None:
    throttled = sub(terms, throttling=10)
    now = s.to_datetime(NOW)
    assert n.throttle_due(throttled, None, now) == now
    assert n.throttle_due(throttled, now - timedelta(seconds=4), now) == now + timedelta(seconds=6)
    assert n.throttle_due(throttled, now - timedelta(seconds=40), now) == now
    assert n.throttle_due(sub(terms), now - timedelta(seconds=1), now) == now


def test_geojson_payload(terms: TermMap) -> None:
    subscription = sub(
        terms,
        notification={"endpoint": {"uri": "http://rx.test/", "accept": "application/geo+json"}},
    )
    data = notify(terms, subscription, vehicle(where=(-3.7, 40.4)))["data"]
    assert data["type"] == "FeatureCollection"
    (feature,) = data["features"]
    assert feature["id"] == "urn:ngsi-ld:Vehicle:1" and feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [-3.7, 40.4]}
    assert n.notification_headers(subscription)["Content-Type"] == "application/geo+json"
    merged = n.coalesce([{"data": data}, {"data": data}])
    assert len(merged["data"]["features"]) == 1


def test_render_cache_is_shared_only_for_the_same_rendering(terms: TermMap) -> None:
    entity = vehicle(speed=50)
    cache: n.RenderCache = {}
    normalized, also = sub(terms), sub(terms)
    flat = sub(terms, notification={"format": "keyValues", "endpoint": {"uri": "http://rx.test/"}})
    first = n.render_data(normalized, [entity], terms, cache)
    assert n.render_data(also, [entity], terms, cache)[0] is first[0]
    assert n.render_data(flat, [entity], terms, cache)[0]["speed"] == 50
