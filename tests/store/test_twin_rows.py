"""Twin broker entities on every backend: bulk writes, the type table and attribute catalogue,
streaming queries, tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from twinspace.clock import ManualClock
from twinspace.store import ContextRow, Store
from twinspace.store import twin_tables as tt
from twinspace.store.errors import AlreadyExists, Conflict
from twinspace.store.twin_rows import geometry_bbox, literal_prefix

NS = "https://example.org/"
LOC = "https://uri.etsi.org/ngsi-ld/location"
VEHICLE = NS + "Vehicle"
SENSOR = NS + "Sensor"


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entity(
    entity_id: str,
    types: list[str] | None = None,
    *,
    attrs: dict[str, Any] | None = None,
    at: tuple[float, float] | None = None,
    geometry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc_attrs: dict[str, list[dict[str, Any]]] = {
        NS + name: [{"type": "Property", "value": value}] for name, value in (attrs or {}).items()
    }
    if at is not None:
        geometry = {"type": "Point", "coordinates": list(at)}
    if geometry is not None:
        doc_attrs[LOC] = [{"type": "GeoProperty", "value": geometry}]
    return {"id": entity_id, "type": types or [VEHICLE], "attrs": doc_attrs}


def ids(docs: Any) -> list[str]:
    return [d["id"] for d in docs]


def test_insert_get_update_delete(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    docs = [entity("urn:v:1", attrs={"speed": 1}), entity("urn:v:2", attrs={"speed": 2})]
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", docs, now)
    with store.transaction() as tx:
        assert tx.twin_entities.get("", "urn:v:1") == docs[0]
        assert tx.twin_entities.get("", "urn:v:3") is None
        assert tx.twin_entities.get_many("", ["urn:v:2", "urn:v:3", "urn:v:1"]) == {
            "urn:v:1": docs[0],
            "urn:v:2": docs[1],
        }
        assert tx.twin_entities.version("", "urn:v:1") == 1
        changed = entity("urn:v:1", attrs={"speed": 5})
        tx.twin_entities.update_many("", [changed], now)
        assert tx.twin_entities.get("", "urn:v:1") == changed
        assert tx.twin_entities.version("", "urn:v:1") == 2
    with store.transaction() as tx:
        assert tx.twin_entities.delete("", "urn:v:1")
        assert not tx.twin_entities.delete("", "urn:v:1")
        assert tx.twin_entities.delete_many("", ["urn:v:2", "urn:v:9"]) == ["urn:v:2"]
        assert tx.twin_entities.count("") == 0
        assert tx.twin_entities.types("") == []
        assert tx.twin_entities.attributes("") == []


def test_get_many_reads_more_than_one_chunk(store: Store, clock: ManualClock) -> None:
    docs = [entity(f"urn:v:{i:04d}") for i in range(1200)]
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", docs, clock.now())
    with store.transaction() as tx:
        found = tx.twin_entities.get_many("", [d["id"] for d in docs])
    assert len(found) == 1200 and found["urn:v:1100"] == docs[1100]


def test_inserting_an_existing_entity_is_a_conflict(store: Store, clock: ManualClock) -> None:
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", [entity("urn:v:1")], clock.now())
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.twin_entities.insert_many("", [entity("urn:v:2"), entity("urn:v:1")], clock.now())
    with store.transaction() as tx:
        assert tx.twin_entities.get("", "urn:v:2") is None  # the whole batch rolled back


def test_upserts_that_change_the_attribute_set_update_attributes(
    store: Store, clock: ManualClock
) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", [entity("urn:v:1", attrs={"speed": 1})], now)
        assert tx.twin_entities.attributes("") == [(NS + "speed", ["Property"], [VEHICLE])]
    with store.transaction() as tx:  # same attributes, other values: side tables untouched
        old = tx.twin_entities.get_many("", ["urn:v:1"])
        tx.twin_entities.update_many("", [entity("urn:v:1", attrs={"speed": 2})], now, old)
        assert tx.twin_entities.attributes("") == [(NS + "speed", ["Property"], [VEHICLE])]
    with store.transaction() as tx:  # an attribute replaced, the caller passes the old docs
        old = tx.twin_entities.get_many("", ["urn:v:1"])
        new = entity("urn:v:1", attrs={"heading": 90}, at=(1.0, 2.0))
        tx.twin_entities.update_many("", [new], now, old)
        assert tx.twin_entities.attributes("") == [
            (NS + "heading", ["Property"], [VEHICLE]),
            (LOC, ["GeoProperty"], [VEHICLE]),
        ]
    with store.transaction() as tx:  # without `old` the store reads the stored docs itself
        tx.twin_entities.update_many("", [entity("urn:v:1", [SENSOR], attrs={"temp": 3})], now)
        assert tx.twin_entities.attributes("") == [(NS + "temp", ["Property"], [SENSOR])]
        assert tx.twin_entities.types("") == [(SENSOR, 1)]
        assert tx.twin_entities.type_attributes("", SENSOR) == [(NS + "temp", ["Property"])]
        assert tx.twin_entities.type_attributes("", VEHICLE) == []


def test_multi_typed_entities_are_found_by_each_type(store: Store, clock: ManualClock) -> None:
    docs = [
        entity("urn:e:1", [SENSOR, VEHICLE], attrs={"speed": 1}),
        entity("urn:e:2", [VEHICLE], attrs={"speed": 2, "rel": 1}),
        entity("urn:e:3", [SENSOR], attrs={"temp": 3}),
    ]
    docs[1]["attrs"][NS + "rel"] = [{"type": "Relationship", "object": "urn:x"}]
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", docs, clock.now())
    with store.transaction() as tx:
        entities = tx.twin_entities
        assert ids(entities.query("", types=[VEHICLE])) == ["urn:e:1", "urn:e:2"]
        assert ids(entities.query("", types=[SENSOR])) == ["urn:e:1", "urn:e:3"]
        assert ids(entities.query("", types=[SENSOR, VEHICLE])) == ["urn:e:1", "urn:e:2", "urn:e:3"]
        assert ids(entities.query("", types=[NS + "Nothing"])) == []
        assert entities.count("", types=[SENSOR]) == 2
        assert entities.types("") == [(SENSOR, 2), (VEHICLE, 2)]
        assert entities.attributes("") == [
            (NS + "rel", ["Relationship"], [VEHICLE]),
            (NS + "speed", ["Property"], [SENSOR, VEHICLE]),
            (NS + "temp", ["Property"], [SENSOR]),
        ]
        assert entities.type_attributes("", VEHICLE) == [
            (NS + "rel", ["Relationship"]),
            (NS + "speed", ["Property"]),
        ]


def test_query_by_ids_attributes_and_id_pattern(store: Store, clock: ManualClock) -> None:
    docs = [
        entity("urn:ngsi-ld:Vehicle:1", attrs={"speed": 1}),
        entity("urn:ngsi-ld:Vehicle:2", attrs={"heading": 1}),
        entity("urn:ngsi-ld:Vehicle_X:3", attrs={"speed": 1}),
        entity("urn:ngsi-ld:Sensor:urn:ngsi-ld:Vehicle:4"),
        entity("urn:ngsi-ld:vehicle:5"),
    ]
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", docs, clock.now())
    with store.transaction() as tx:
        q = tx.twin_entities.query
        assert ids(q("", ids=["urn:ngsi-ld:Vehicle:2", "urn:x"])) == ["urn:ngsi-ld:Vehicle:2"]
        assert ids(q("", attrs_any=[NS + "speed"])) == [
            "urn:ngsi-ld:Vehicle:1",
            "urn:ngsi-ld:Vehicle_X:3",
        ]
        assert ids(q("", attrs_any=[NS + "speed", NS + "heading"], ids=["urn:ngsi-ld:Vehicle:2"]))
        # unanchored (POSIX regexec): the literal may appear anywhere in the id
        assert ids(q("", id_pattern="urn:ngsi-ld:Vehicle:.*")) == [
            "urn:ngsi-ld:Sensor:urn:ngsi-ld:Vehicle:4",
            "urn:ngsi-ld:Vehicle:1",
            "urn:ngsi-ld:Vehicle:2",
        ]
        assert ids(q("", id_pattern="^urn:ngsi-ld:Vehicle:.*")) == [
            "urn:ngsi-ld:Vehicle:1",
            "urn:ngsi-ld:Vehicle:2",
        ]
        assert ids(q("", id_pattern="^urn:ngsi-ld:Vehicle_X")) == ["urn:ngsi-ld:Vehicle_X:3"]
        assert ids(q("", id_pattern=r"^urn:ngsi-ld:Vehicle:[2-9]$")) == ["urn:ngsi-ld:Vehicle:2"]
        assert ids(q("", id_pattern="(?i)^URN:NGSI-LD:VEHICLE:5")) == ["urn:ngsi-ld:vehicle:5"]
        assert ids(q("", id_pattern="Vehicle:1|Vehicle:2")) == [
            "urn:ngsi-ld:Vehicle:1",
            "urn:ngsi-ld:Vehicle:2",
        ]
        assert tx.twin_entities.count("", id_pattern="^urn:ngsi-ld:Vehicle") == 3
        assert ids(q("", id_pattern="Vehicle", offset=1, limit=2)) == [
            "urn:ngsi-ld:Vehicle:1",
            "urn:ngsi-ld:Vehicle:2",
        ]


def test_literal_prefix_of_a_regex() -> None:
    assert literal_prefix("urn:ngsi-ld:Vehicle:.*") == ("urn:ngsi-ld:Vehicle:", False)
    assert literal_prefix("^urn:a\\.b") == ("urn:a.b", True)
    assert literal_prefix("^abc?") == ("ab", True)
    assert literal_prefix("^ab+c") == ("ab", True)
    assert literal_prefix("^a{2}") == ("", True)
    assert literal_prefix("^\\d+") == ("", True)
    assert literal_prefix("a|b") == ("", False)
    assert literal_prefix("(?i)abc") == ("", False)


def test_bbox_prefilter(store: Store, clock: ManualClock) -> None:
    line = {"type": "LineString", "coordinates": [[0.0, 0.0], [10.0, 10.0]]}
    docs = [
        entity("urn:e:in", at=(2.0, 2.0)),
        entity("urn:e:edge", at=(5.0, 5.0)),
        entity("urn:e:out", at=(20.0, 2.0)),
        entity("urn:e:line", geometry=line),  # its box reaches into the query box
        entity("urn:e:none"),
    ]
    other = entity("urn:e:dataset")
    other["attrs"][LOC] = [
        {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2, 2]}, "datasetId": "x"}
    ]
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", [*docs, other], clock.now())
    with store.transaction() as tx:
        q = tx.twin_entities.query
        assert ids(q("", bbox=(1.0, 1.0, 5.0, 5.0))) == ["urn:e:edge", "urn:e:in", "urn:e:line"]
        assert ids(q("", bbox=(11.0, 0.0, 30.0, 3.0))) == ["urn:e:out"]
        assert ids(q("", bbox=(-5.0, -5.0, -1.0, -1.0))) == []
        assert tx.twin_entities.count("", bbox=(1.0, 1.0, 5.0, 5.0), types=[VEHICLE]) == 3
    assert geometry_bbox(
        {"type": "Polygon", "coordinates": [[[0, 1], [3, 1], [0, 4], [0, 1]]]}
    ) == (
        0.0,
        1.0,
        3.0,
        4.0,
    )
    assert geometry_bbox({"type": "Point"}) is None


def test_query_streams_pages_with_keyset_offset_and_limit(store: Store, clock: ManualClock) -> None:
    n = 2345
    docs = [entity(f"urn:v:{i:05d}", attrs={"n": i}) for i in range(n)]
    docs[7]["type"] = [SENSOR]
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", docs, clock.now())
    everything = sorted(d["id"] for d in docs)
    vehicles = [i for i in everything if i != "urn:v:00007"]
    with store.transaction() as tx:
        q = tx.twin_entities.query
        assert ids(q("")) == everything
        assert ids(q("", types=[VEHICLE])) == vehicles
        assert ids(q("", offset=1000, limit=1001)) == everything[1000:2001]
        assert ids(q("", types=[VEHICLE], offset=999, limit=5)) == vehicles[999:1004]
        assert ids(q("", after_id="urn:v:01999")) == everything[2000:]
        assert ids(q("", limit=0)) == []
        assert ids(q("", id_pattern="^urn:v:0[01]", offset=1500)) == everything[1500:2000]
        assert tx.twin_entities.count("") == n
        assert tx.twin_entities.count("", types=[VEHICLE]) == n - 1
        stream = q("")
        first = next(stream)
        assert tx.twin_entities.get("", "urn:v:00001") is not None  # the connection stays usable
        assert first["id"] == "urn:v:00000"


def test_tenants_are_isolated(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        assert tx.twin_tenants.exists("") and not tx.twin_tenants.exists("acme")
        tx.twin_tenants.ensure("acme", now)
        tx.twin_tenants.ensure("acme", now)
        tx.twin_tenants.ensure("", now)
        tx.twin_entities.insert_many("acme", [entity("urn:v:1", attrs={"a": 1})], now)
        tx.twin_entities.insert_many("", [entity("urn:v:1", [SENSOR], attrs={"b": 1})], now)
    with store.transaction() as tx:
        assert tx.twin_tenants.exists("acme") and tx.twin_tenants.list() == ["acme"]
        assert tx.twin_entities.get("acme", "urn:v:1") == entity("urn:v:1", attrs={"a": 1})
        assert tx.twin_entities.get("other", "urn:v:1") is None
        assert tx.twin_entities.types("acme") == [(VEHICLE, 1)]
        assert tx.twin_entities.types("") == [(SENSOR, 1)]
        assert ids(tx.twin_entities.query("acme", types=[SENSOR])) == []
        assert tx.twin_entities.attributes("acme") == [(NS + "a", ["Property"], [VEHICLE])]
        assert tx.twin_entities.delete_many("other", ["urn:v:1"]) == []
        assert tx.twin_entities.delete("acme", "urn:v:1")
        assert tx.twin_entities.get("", "urn:v:1") is not None


def test_contexts(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    row = ContextRow("c-1", "http://x/ctx.jsonld", "Hosted", {"@context": {"a": "http://a/"}}, now)
    with store.transaction() as tx:
        tx.twin_contexts.add(row)
        tx.twin_contexts.add(ContextRow("c-2", "http://y/ctx.jsonld", "Cached", {}, now))
        with pytest.raises(AlreadyExists):
            tx.twin_contexts.add(ContextRow("c-3", "http://x/ctx.jsonld", "Hosted", {}, now))
    with store.transaction() as tx:
        assert tx.twin_contexts.get("c-1") == row
        assert tx.twin_contexts.by_url("http://x/ctx.jsonld") == row
        assert [c.id for c in tx.twin_contexts.list()] == ["c-1", "c-2"]
        assert [c.id for c in tx.twin_contexts.list("Cached")] == ["c-2"]
        tx.twin_contexts.touch("c-2", now)
        assert tx.twin_contexts.delete("c-1") and not tx.twin_contexts.delete("c-1")
        found = tx.twin_contexts.get("c-2")
    assert found is not None and found.last_used_at == now


def catalogue(store: Store, tenant: str = "") -> list[tuple[str, str, str, int]]:
    """The raw catalogue rows of ``tenant``: (entity type, attr, attr type, entities)."""
    c = tt.twin_catalogue.c
    with store.transaction() as tx:
        stmt = (
            sa.select(c.entity_type, c.attr, c.attr_type, c.entities)
            .where(c.tenant == tenant)
            .order_by(c.entity_type, c.attr, c.attr_type)
        )
        return [(str(t), str(a), str(k), int(n)) for t, a, k, n in tx.conn.execute(stmt)]


def test_catalogue_counts_follow_creates_updates_and_deletes(
    store: Store, clock: ManualClock
) -> None:
    now = clock.now()
    speed, temp = NS + "speed", NS + "temp"
    with store.transaction() as tx:
        tx.twin_entities.insert_many(
            "",
            [
                entity("urn:v:1", attrs={"speed": 1}),
                entity("urn:v:2", attrs={"speed": 2, "temp": 3}),
                entity("urn:s:1", [SENSOR, VEHICLE], attrs={"temp": 4}),
            ],
            now,
        )
    assert catalogue(store) == [
        (SENSOR, "", "", 1),
        (SENSOR, temp, "Property", 1),
        (VEHICLE, "", "", 3),
        (VEHICLE, speed, "Property", 2),
        (VEHICLE, temp, "Property", 2),
    ]
    with store.transaction() as tx:  # urn:v:2 loses temp; urn:s:1 is a Sensor only, speed
        old = tx.twin_entities.get_many("", ["urn:v:2", "urn:s:1"])
        tx.twin_entities.update_many(
            "",
            [
                entity("urn:v:2", attrs={"speed": 5}),
                entity("urn:s:1", [SENSOR], attrs={"speed": 1}),
            ],
            now,
            old,
        )
        assert ids(tx.twin_entities.query("", types=[VEHICLE])) == ["urn:v:1", "urn:v:2"]
        assert tx.twin_entities.types("") == [(SENSOR, 1), (VEHICLE, 2)]
    assert catalogue(store) == [
        (SENSOR, "", "", 1),
        (SENSOR, speed, "Property", 1),
        (VEHICLE, "", "", 2),
        (VEHICLE, speed, "Property", 2),
    ]
    with store.transaction() as tx:  # the relationship kind of an attribute is counted apart
        rel = entity("urn:v:1", attrs={"speed": 1})
        rel["attrs"][speed].append({"type": "Relationship", "object": "urn:x", "datasetId": "d"})
        tx.twin_entities.update_many("", [rel], now)
        assert tx.twin_entities.attributes("") == [
            (speed, ["Property", "Relationship"], [SENSOR, VEHICLE])
        ]
        assert tx.twin_entities.delete_many("", ["urn:v:2", "urn:s:1", "urn:v:9"]) == [
            "urn:v:2",
            "urn:s:1",
        ]
    assert catalogue(store) == [
        (VEHICLE, "", "", 1),
        (VEHICLE, speed, "Property", 1),
        (VEHICLE, speed, "Relationship", 1),
    ]
    with store.transaction() as tx:  # deleting with the docs in hand reads nothing back
        old = tx.twin_entities.get_many("", ["urn:v:1"])
        assert tx.twin_entities.delete_many("", ["urn:v:1"], old) == ["urn:v:1"]
    assert catalogue(store) == []


def test_save_many_writes_everything_with_one_catalogue_update(
    store: Store, clock: ManualClock
) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", [entity("urn:v:1", attrs={"a": 1})], now)
    with store.transaction() as tx:
        old = tx.twin_entities.get_many("", ["urn:v:1"])
        gone = tx.twin_entities.save_many(
            "",
            now,
            created=[entity("urn:v:2", attrs={"a": 2})],
            updated=[entity("urn:v:1", [SENSOR], attrs={"b": 1})],
            deleted=["urn:v:2", "urn:v:3"],
            old=old,
        )
        assert gone == ["urn:v:2"]
        assert ids(tx.twin_entities.query("", types=[SENSOR])) == ["urn:v:1"]
    assert catalogue(store) == [(SENSOR, "", "", 1), (SENSOR, NS + "b", "Property", 1)]


def test_an_update_of_an_entity_changed_since_it_was_read_is_a_conflict(
    store: Store, clock: ManualClock
) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", [entity("urn:v:1", attrs={"a": 1})], now)
    with pytest.raises(Conflict), store.transaction() as tx:
        old = tx.twin_entities.get_many("", ["urn:v:1"])
        with store.transaction() as other:  # a concurrent writer commits first
            other.twin_entities.update_many("", [entity("urn:v:1", attrs={"b": 1})], now)
        tx.twin_entities.update_many("", [entity("urn:v:1", attrs={"c": 1})], now, old)
    assert catalogue(store) == [(VEHICLE, "", "", 1), (VEHICLE, NS + "b", "Property", 1)]


def test_attrs_filter_narrows_by_catalogue_and_checks_each_entity(
    store: Store, clock: ManualClock
) -> None:
    docs = [
        entity(f"urn:v:{i:04d}", attrs={"speed" if i % 3 == 0 else "heading": i})
        for i in range(1500)
    ]
    docs.append(entity("urn:s:1", [SENSOR], attrs={"temp": 1}))
    with store.transaction() as tx:
        tx.twin_entities.insert_many("", docs, clock.now())
    speeding = [d["id"] for d in docs if NS + "speed" in d["attrs"]]
    with store.transaction() as tx:
        q = tx.twin_entities.query
        assert ids(q("", attrs_any=[NS + "speed"])) == speeding
        assert ids(q("", attrs_any=[NS + "speed"], offset=400, limit=5)) == speeding[400:405]
        assert ids(q("", attrs_any=[NS + "speed"], after_id=speeding[-2])) == speeding[-1:]
        assert ids(q("", attrs_any=[NS + "temp", NS + "nothing"])) == ["urn:s:1"]
        assert ids(q("", attrs_any=[NS + "temp"], types=[VEHICLE])) == []
        assert ids(q("", attrs_any=[NS + "nothing"])) == []
        assert ids(q("", attrs_any=[])) == []
        assert ids(q("", attrs_any=[NS + "speed"], id_pattern="^urn:v:000")) == speeding[:4]
        assert tx.twin_entities.count("", attrs_any=[NS + "speed"]) == len(speeding)
        assert tx.twin_entities.count("", attrs_any=[NS + "temp"], types=[SENSOR]) == 1
