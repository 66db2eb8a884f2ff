"""Twin broker temporal instances on every backend: one row per entity change, ranges, last_n,
entity listing, deletes and replacements inside a row."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from twinspace.clock import ManualClock
from twinspace.store import Store, TemporalRow
from twinspace.store import twin_tables as tt

NS = "https://example.org/"
VEHICLE = NS + "Vehicle"
SENSOR = NS + "Sensor"
SPEED = NS + "speed"
TEMP = NS + "temp"


def row(
    entity_id: str,
    attr: str,
    value: float,
    at: datetime | None,
    *,
    modified: datetime | None = None,
    entity_type: str = VEHICLE,
    dataset: str = "",
    instance_id: str | None = None,
) -> TemporalRow:
    instance: dict[str, object] = {"type": "Property", "value": value}
    if instance_id is not None:
        instance["instanceId"] = instance_id
    if dataset:
        instance["datasetId"] = dataset
    stamp = modified or at
    assert stamp is not None
    return TemporalRow(entity_id, entity_type, attr, dataset, at, stamp, instance)


def values(rows: list[TemporalRow]) -> list[tuple[str, str, object]]:
    return [(r.entity_id, r.attr, r.instance["value"]) for r in rows]


def test_ranges_are_start_inclusive_end_exclusive(store: Store, clock: ManualClock) -> None:
    t0 = clock.now()
    at = [t0 + timedelta(minutes=i) for i in range(5)]
    with store.transaction() as tx:
        tx.twin_instances.add_many("", [row("urn:v:1", SPEED, i, at[i]) for i in range(5)])
    with store.transaction() as tx:
        q = tx.twin_instances.query
        assert [r.instance["value"] for r in q("")] == [0, 1, 2, 3, 4]
        assert [r.instance["value"] for r in q("", start=at[1], end=at[3])] == [1, 2]
        assert [r.instance["value"] for r in q("", start=at[3])] == [3, 4]
        assert [r.instance["value"] for r in q("", end=at[1])] == [0]
        got = q("", start=at[2], end=at[3])[0]
    assert got.observed_at == at[2] and got.modified_at == at[2]
    assert got.instance_id.startswith("urn:ngsi-ld:attribute:instance:")


def test_time_property_observed_or_modified(store: Store, clock: ManualClock) -> None:
    t0 = clock.now()
    later = t0 + timedelta(hours=1)
    with store.transaction() as tx:
        tx.twin_instances.add_many(
            "",
            [
                row("urn:v:1", SPEED, 1, t0, modified=later),
                row("urn:v:1", SPEED, 2, None, modified=t0),  # no observedAt
            ],
        )
    with store.transaction() as tx:
        q = tx.twin_instances.query
        assert [r.instance["value"] for r in q("")] == [1]  # observedAt skips the second
        assert [r.instance["value"] for r in q("", time_property="modifiedAt")] == [2, 1]
        assert [r.instance["value"] for r in q("", time_property="modifiedAt", end=later)] == [2]


def test_last_n_per_entity_and_attribute(store: Store, clock: ManualClock) -> None:
    t0 = clock.now()
    rows = [
        row(entity_id, attr, i, t0 + timedelta(seconds=i))
        for entity_id in ("urn:v:1", "urn:v:2")
        for attr in (SPEED, TEMP)
        for i in range(5)
    ]
    rows.reverse()  # insertion order must not matter
    with store.transaction() as tx:
        tx.twin_instances.add_many("", rows)
    with store.transaction() as tx:
        got = tx.twin_instances.query("", last_n=2)
        assert values(got) == [
            (e, a, v) for e in ("urn:v:1", "urn:v:2") for a in (SPEED, TEMP) for v in (3, 4)
        ]
        ranged = tx.twin_instances.query(
            "", last_n=2, entity_ids=["urn:v:2"], attrs=[SPEED], end=t0 + timedelta(seconds=3)
        )
        assert values(ranged) == [("urn:v:2", SPEED, 1), ("urn:v:2", SPEED, 2)]


def test_filters_by_type_dataset_and_tenant(store: Store, clock: ManualClock) -> None:
    t0 = clock.now()
    with store.transaction() as tx:
        tx.twin_instances.add_many(
            "",
            [
                row("urn:v:1", SPEED, 1, t0),
                row("urn:v:1", SPEED, 2, t0, dataset="urn:ds:a"),
                row("urn:s:1", TEMP, 3, t0, entity_type=SENSOR),
            ],
        )
        tx.twin_instances.add_many("acme", [row("urn:v:1", SPEED, 9, t0)])
        doc = {"id": "urn:s:1", "type": [SENSOR, VEHICLE], "attrs": {}}
        tx.twin_entities.insert_many("", [doc], t0)  # urn:s:1 is also a Vehicle now
    with store.transaction() as tx:
        q = tx.twin_instances.query
        assert [r.instance["value"] for r in q("", types=[SENSOR])] == [3]
        assert [r.instance["value"] for r in q("", types=[VEHICLE])] == [3, 1, 2]
        assert [r.instance["value"] for r in q("", dataset_ids=[""])] == [3, 1]
        assert [r.instance["value"] for r in q("", dataset_ids=["urn:ds:a"])] == [2]
        assert [r.instance["value"] for r in q("acme")] == [9]
        assert q("other") == []


def test_entity_ids_in_a_range(store: Store, clock: ManualClock) -> None:
    t0 = clock.now()
    rows = [row(f"urn:ngsi-ld:V:{i}", SPEED, i, t0 + timedelta(minutes=i)) for i in range(6)]
    rows.append(row("urn:ngsi-ld:S:1", TEMP, 0, t0, entity_type=SENSOR))
    with store.transaction() as tx:
        tx.twin_instances.add_many("", rows)
    with store.transaction() as tx:
        e = tx.twin_instances.entity_ids
        assert e("", types=[SENSOR]) == [("urn:ngsi-ld:S:1", [SENSOR])]
        assert [i for i, _ in e("", start=t0 + timedelta(minutes=4))] == [
            "urn:ngsi-ld:V:4",
            "urn:ngsi-ld:V:5",
        ]
        assert [i for i, _ in e("", offset=1, limit=2)] == ["urn:ngsi-ld:V:0", "urn:ngsi-ld:V:1"]
        assert [i for i, _ in e("", id_pattern="^urn:ngsi-ld:V:[135]", offset=1)] == [
            "urn:ngsi-ld:V:3",
            "urn:ngsi-ld:V:5",
        ]
        assert e("", ids=["urn:ngsi-ld:V:2", "urn:x"]) == [("urn:ngsi-ld:V:2", [VEHICLE])]


def test_deletes_and_replacing_an_instance(store: Store, clock: ManualClock) -> None:
    t0 = clock.now()
    later = t0 + timedelta(minutes=1)
    with store.transaction() as tx:
        tx.twin_instances.add_many(
            "",
            [
                row("urn:v:1", SPEED, 1, t0, instance_id="urn:i:1"),
                row("urn:v:1", SPEED, 2, t0, dataset="urn:ds:a", instance_id="urn:i:2"),
                row("urn:v:1", TEMP, 3, t0, instance_id="urn:i:3"),
                row("urn:v:1", TEMP, 4, later, instance_id="urn:i:4"),
                row("urn:v:2", TEMP, 5, t0, instance_id="urn:i:5"),
            ],
        )
    with store.transaction() as tx:
        t = tx.twin_instances
        assert t.replace_instance(
            "", "urn:v:1", TEMP, "urn:i:4", {"type": "Property", "value": 40},
            modified_at=later, observed_at=later,
        )  # fmt: skip
        assert not t.replace_instance("", "urn:v:1", TEMP, "urn:i:x", {}, modified_at=later)
        assert [r.instance for r in t.query("", attrs=[TEMP], entity_ids=["urn:v:1"])] == [
            {"type": "Property", "value": 3, "instanceId": "urn:i:3"},
            {"type": "Property", "value": 40, "instanceId": "urn:i:4"},
        ]
        assert t.delete_instance("", "urn:v:1", TEMP, "urn:i:3")
        assert not t.delete_instance("", "urn:v:1", TEMP, "urn:i:3")
        assert t.delete_attr("", "urn:v:1", SPEED, "") == 1
        assert [r.instance_id for r in t.query("", entity_ids=["urn:v:1"])] == [
            "urn:i:2",
            "urn:i:4",
        ]
        assert t.delete_attr("", "urn:v:1", SPEED, None) == 1
        assert t.delete_entity("", "urn:v:1") == 1
        assert [r.instance_id for r in t.query("")] == ["urn:i:5"]


def stored_rows(store: Store) -> list[tuple[str, object, object, int]]:
    """The raw table: (entity, observed_min, observed_max, how many instances) per row."""
    c = tt.twin_instances.c
    with store.transaction() as tx:
        stmt = sa.select(c.entity_id, c.observed_min, c.observed_max, c.instances).order_by(c.id)
        return [
            (str(e), low, high, sum(len(v) for v in stored.values()))
            for e, low, high, stored in tx.conn.execute(stmt)
        ]


def test_one_row_per_entity_change_with_its_observed_range(
    store: Store, clock: ManualClock
) -> None:
    t0 = clock.now()
    at = [t0 + timedelta(minutes=i) for i in range(4)]
    change = at[3]
    with store.transaction() as tx:
        rows = [
            row("urn:v:1", SPEED, 1, at[2], modified=change),
            row("urn:v:1", TEMP, 2, at[0], modified=change),
            row("urn:v:1", TEMP, 3, None, modified=change, dataset="urn:ds:a"),
            row("urn:v:2", SPEED, 4, None, modified=change),
            row("urn:v:1", SPEED, 5, at[1], modified=change + timedelta(seconds=1)),
        ]
        tx.twin_instances.add_many("", rows)
    assert stored_rows(store) == [
        ("urn:v:1", at[0], at[2], 3),
        ("urn:v:2", None, None, 1),
        ("urn:v:1", at[1], at[1], 1),
    ]
    ids = [r.instance_id for r in rows]
    assert len(set(ids)) == 5 and all(i.startswith("urn:ngsi-ld:attribute:instance:") for i in ids)
    with store.transaction() as tx:
        q = tx.twin_instances.query
        assert values(q("")) == [
            ("urn:v:1", SPEED, 5),
            ("urn:v:1", SPEED, 1),
            ("urn:v:1", TEMP, 2),
        ]
        assert values(q("", time_property="modifiedAt")) == [
            ("urn:v:1", SPEED, 1),
            ("urn:v:1", SPEED, 5),
            ("urn:v:1", TEMP, 2),
            ("urn:v:1", TEMP, 3),
            ("urn:v:2", SPEED, 4),
        ]
        between = q("", start=at[1], end=at[2])  # inside the first row's range, one instance
        assert values(between) == [("urn:v:1", SPEED, 5)]
        got = q("", attrs=[TEMP], dataset_ids=["urn:ds:a"], time_property="modifiedAt")
        assert [(r.dataset_id, r.observed_at, r.modified_at) for r in got] == [
            ("urn:ds:a", None, change)
        ]


def test_ranges_inside_a_rows_observed_range_check_each_instance(
    store: Store, clock: ManualClock
) -> None:
    t0 = clock.now()
    with store.transaction() as tx:
        tx.twin_instances.add_many(
            "",
            [
                row("urn:v:1", SPEED, 1, t0, modified=t0),
                row("urn:v:1", TEMP, 2, t0 + timedelta(hours=2), modified=t0),
                row("urn:v:2", SPEED, 3, t0 + timedelta(hours=1), modified=t0),
            ],
        )
    gap = (t0 + timedelta(minutes=30), t0 + timedelta(minutes=90))
    with store.transaction() as tx:
        e, q = tx.twin_instances.entity_ids, tx.twin_instances.query
        assert e("", start=gap[0], end=gap[1]) == [("urn:v:2", [VEHICLE])]
        assert values(q("", start=gap[0], end=gap[1])) == [("urn:v:2", SPEED, 3)]
        assert [i for i, _t in e("", start=gap[0], end=t0 + timedelta(hours=3))] == [
            "urn:v:1",
            "urn:v:2",
        ]
        assert [i for i, _t in e("", end=t0 + timedelta(minutes=1))] == ["urn:v:1"]
        assert [i for i, _t in e("", start=t0 + timedelta(minutes=61))] == ["urn:v:1"]
        assert e("", start=gap[0], end=gap[1], time_property="modifiedAt") == []


def test_last_n_across_rows(store: Store, clock: ManualClock) -> None:
    t0 = clock.now()
    with store.transaction() as tx:
        for i in range(4):  # four changes, each with both attributes
            moment = t0 + timedelta(minutes=i)
            tx.twin_instances.add_many(
                "",
                [
                    row("urn:v:1", SPEED, i, moment),
                    row("urn:v:1", TEMP, 10 + i, None if i == 3 else moment, modified=moment),
                ],
            )
    with store.transaction() as tx:
        q = tx.twin_instances.query
        assert values(q("", last_n=2)) == [
            ("urn:v:1", SPEED, 2),
            ("urn:v:1", SPEED, 3),
            ("urn:v:1", TEMP, 11),
            ("urn:v:1", TEMP, 12),
        ]
        assert values(q("", last_n=1, time_property="modifiedAt", attrs=[TEMP])) == [
            ("urn:v:1", TEMP, 13)
        ]
        assert values(q("", last_n=2, end=t0 + timedelta(minutes=2))) == [
            ("urn:v:1", SPEED, 0),
            ("urn:v:1", SPEED, 1),
            ("urn:v:1", TEMP, 10),
            ("urn:v:1", TEMP, 11),
        ]


def test_deleting_and_replacing_one_instance_of_a_multi_instance_row(
    store: Store, clock: ManualClock
) -> None:
    t0 = clock.now()
    later = t0 + timedelta(minutes=5)
    with store.transaction() as tx:
        tx.twin_instances.add_many(
            "",
            [
                row("urn:v:1", SPEED, 1, t0, instance_id="urn:i:1"),
                row("urn:v:1", SPEED, 2, t0 + timedelta(minutes=1), dataset="urn:ds:a",
                    instance_id="urn:i:2", modified=t0),
                row("urn:v:1", TEMP, 3, t0 + timedelta(minutes=2), instance_id="urn:i:3",
                    modified=t0),
                row("urn:v:1", TEMP, 4, None, instance_id="urn:i:4", modified=t0),
            ],
        )  # fmt: skip
    assert stored_rows(store) == [("urn:v:1", t0, t0 + timedelta(minutes=2), 4)]
    with store.transaction() as tx:
        t = tx.twin_instances
        assert t.delete_instance("", "urn:v:1", TEMP, "urn:i:3")
        assert not t.delete_instance("", "urn:v:1", SPEED, "urn:i:4")  # another attribute's
    assert stored_rows(store) == [("urn:v:1", t0, t0 + timedelta(minutes=1), 3)]
    with store.transaction() as tx:
        t = tx.twin_instances
        assert t.replace_instance(
            "", "urn:v:1", SPEED, "urn:i:1", {"type": "Property", "value": 10},
            modified_at=later, observed_at=later,
        )  # fmt: skip
        got = t.query("", attrs=[SPEED])
        assert [(r.instance_id, r.instance["value"], r.modified_at) for r in got] == [
            ("urn:i:2", 2, t0),
            ("urn:i:1", 10, later),
        ]
        assert t.delete_attr("", "urn:v:1", SPEED, "urn:ds:a") == 1
    assert stored_rows(store) == [("urn:v:1", None, None, 1), ("urn:v:1", later, later, 1)]
    with store.transaction() as tx:
        assert tx.twin_instances.delete_attr("", "urn:v:1", TEMP, None) == 1
        assert tx.twin_instances.delete_attr("", "urn:v:1", TEMP, None) == 0
    assert stored_rows(store) == [("urn:v:1", later, later, 1)]
    with store.transaction() as tx:
        assert tx.twin_instances.delete_entity("", "urn:v:1") == 1
    assert stored_rows(store) == []
