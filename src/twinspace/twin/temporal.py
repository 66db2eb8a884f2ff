"""NGSI-LD temporal API semantics (CIM 009 V1.9.1 §4.11, §4.5.7, §4.5.9, §4.5.19): pure core.

- :func:`parse_timerel` turns ``timerel``/``timeAt``/``endTimeAt`` into a :class:`TimeFilter`
  with a half-open interval ``[start, end)``: ``before`` is strictly before ``timeAt``; ``after``
  is at or after ``timeAt``; ``between`` is ``[timeAt, endTimeAt)``. ``endTimeAt`` is ignored
  unless ``timerel=between``. DateTimes without an offset are taken as UTC.
- :func:`render_temporal` renders one temporal entity from its instances in the normalized
  temporal representation, the simplified one (``temporalValues``) or the aggregated one.

Rendering decisions: every attribute is a list of instances in the normalized form; in the
simplified and aggregated forms an attribute with instances of several datasetIds becomes a list of
objects, one per datasetId (default first), each carrying its ``datasetId``. The time paired with a
value is the instance's ``timeproperty`` (``observedAt`` by default), falling back to its
``modifiedAt`` when the instance has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from twinspace.twin.aggregate import Aggregation, aggregate
from twinspace.twin.errors import NgsiError

__all__ = [
    "TIME_PROPERTIES",
    "TimeFilter",
    "parse_datetime",
    "parse_last_n",
    "parse_timeproperty",
    "parse_timerel",
    "render_temporal",
    "render_temporal_entity",
]

TIME_PROPERTIES: tuple[str, ...] = ("observedAt", "modifiedAt", "createdAt")
TIMERELS: tuple[str, ...] = ("before", "after", "between")

# member holding the value, and its name in the simplified representation, per attribute type
_VALUE_MEMBER: dict[str, tuple[str, str]] = {
    "Property": ("value", "values"),
    "GeoProperty": ("value", "values"),
    "Relationship": ("object", "objects"),
    "LanguageProperty": ("languageMap", "languageMaps"),
    "ListProperty": ("valueList", "valueLists"),
    "ListRelationship": ("objectList", "objectLists"),
    "VocabProperty": ("vocab", "vocabs"),
    "JsonProperty": ("json", "jsons"),
}
_SYS = ("createdAt", "modifiedAt")
_COUNT_ONLY = frozenset({"Relationship", "ListRelationship"})
_COUNTS = frozenset({"totalCount", "distinctCount"})
_SKIP = {"type", "datasetId", "instanceId", "subAttrs", *_SYS}


class Terms(Protocol):
    """What rendering needs from a ``TermMap``."""

    def compact(self, iri: str) -> str: ...

    def compact_type(self, iri: str) -> str: ...


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """A temporal query: the instances whose ``time_property`` lies in ``[start, end)``."""

    timerel: str
    time_at: datetime
    end_time_at: datetime | None = None
    time_property: str = "observedAt"

    @property
    def start(self) -> datetime | None:
        """Inclusive lower bound (None = unbounded)."""
        return None if self.timerel == "before" else self.time_at

    @property
    def end(self) -> datetime | None:
        """Exclusive upper bound (None = unbounded)."""
        if self.timerel == "before":
            return self.time_at
        return self.end_time_at if self.timerel == "between" else None

    def contains(self, moment: datetime) -> bool:
        start, end = self.start, self.end
        return (start is None or moment >= start) and (end is None or moment < end)


def parse_datetime(text: str, name: str = "DateTime") -> datetime:
    """Parse an ISO 8601 DateTime (date and time required) into an aware UTC datetime."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise NgsiError("BadRequestData", f"{name} is not a valid DateTime: {text!r}")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise NgsiError("BadRequestData", f"{name} is not a valid DateTime: {text!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_timeproperty(text: str | None) -> str:
    """``timeproperty``: observedAt (default), modifiedAt or createdAt."""
    if text is None or text == "":
        return "observedAt"
    if text not in TIME_PROPERTIES:
        raise NgsiError(
            "BadRequestData",
            f"Unsupported timeproperty {text!r}; allowed: {', '.join(TIME_PROPERTIES)}",
        )
    return text


def parse_timerel(
    timerel: str | None,
    time_at: str | None,
    end_time_at: str | None,
    *,
    timeproperty: str | None = None,
) -> TimeFilter | None:
    """Parse the temporal query parameters; None when no timerel, timeAt or endTimeAt is given."""
    prop = parse_timeproperty(timeproperty)
    if timerel is None or timerel == "":
        if time_at or end_time_at:
            raise NgsiError("BadRequestData", "timeAt/endTimeAt given without timerel")
        return None
    if timerel not in TIMERELS:
        raise NgsiError(
            "BadRequestData", f"Invalid timerel {timerel!r}; allowed: before, after, between"
        )
    if not time_at:
        raise NgsiError("BadRequestData", f"timerel={timerel} requires timeAt")
    start = parse_datetime(time_at, "timeAt")
    if timerel != "between":
        return TimeFilter(timerel, start, None, prop)
    if not end_time_at:
        raise NgsiError("BadRequestData", "timerel=between requires endTimeAt")
    end = parse_datetime(end_time_at, "endTimeAt")
    if end <= start:
        raise NgsiError("BadRequestData", "endTimeAt must be after timeAt")
    return TimeFilter(timerel, start, end, prop)


def parse_last_n(text: str | int | None) -> int | None:
    """``lastN``: a positive integer, or None when absent."""
    if text is None or text == "":
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str) and text.strip().isdigit():
        value = int(text.strip())
    else:
        raise NgsiError("BadRequestData", f"lastN must be a positive integer: {text!r}")
    if value < 1:
        raise NgsiError("BadRequestData", f"lastN must be a positive integer: {text!r}")
    return value


Form = Literal["normalized", "temporalValues", "aggregated"]


def render_temporal(
    entity_id: str,
    types: list[str],
    rows_by_attr: Mapping[str, list[dict[str, Any]]],
    terms: Terms,
    *,
    form: Form = "normalized",
    sys_attrs: bool = False,
    aggregation: Aggregation | None = None,
    time_filter: TimeFilter | None = None,
    time_property: str | None = None,
) -> dict[str, Any]:
    """Render a temporal entity (compacted names) from its instances, oldest first per attribute.

    ``rows_by_attr`` maps expanded attribute IRIs to instance dicts (canonical form plus
    ``instanceId``). ``aggregation`` is required for ``form="aggregated"``; ``time_filter`` gives
    the aggregation periods their anchor and bounds and the default ``time_property``.
    """
    if form not in ("normalized", "temporalValues", "aggregated"):
        raise NgsiError("BadRequestData", f"Unknown temporal representation {form!r}")
    if form == "aggregated" and aggregation is None:
        raise NgsiError("BadRequestData", "aggrMethods is required for aggregatedValues")
    prop = time_property or (time_filter.time_property if time_filter else "observedAt")
    compacted = [terms.compact_type(t) for t in types]
    out: dict[str, Any] = {
        "id": entity_id,
        "type": compacted[0] if len(compacted) == 1 else compacted,
    }
    for attr, instances in rows_by_attr.items():
        if not instances:
            continue
        name = terms.compact(attr)
        if form == "normalized":
            out[name] = [_render_instance(i, terms, sys_attrs, True) for i in instances]
            continue
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for instance in instances:
            groups.setdefault(instance.get("datasetId"), []).append(instance)
        ordered = sorted(groups.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
        rendered = [
            _render_series(dataset_id, group, terms, prop, form, aggregation, time_filter)
            for dataset_id, group in ordered
        ]
        out[name] = rendered[0] if len(rendered) == 1 else rendered
    return out


render_temporal_entity = render_temporal


def _render_instance(
    instance: Mapping[str, Any], terms: Terms, sys_attrs: bool, top: bool
) -> dict[str, Any]:
    kind = instance.get("type", "Property")
    out: dict[str, Any] = {"type": kind}
    for key, value in instance.items():
        if key in _SKIP:
            continue
        if key == "vocab":
            value = _compact_vocab(value, terms)
        out[key] = value
    if "datasetId" in instance:
        out["datasetId"] = instance["datasetId"]
    if top and "instanceId" in instance:
        out["instanceId"] = instance["instanceId"]
    if sys_attrs:
        for key in _SYS:
            if key in instance:
                out[key] = instance[key]
    for sub_iri, sub in (instance.get("subAttrs") or {}).items():
        out[terms.compact(sub_iri)] = _render_instance(sub, terms, sys_attrs, False)
    return out


def _compact_vocab(value: Any, terms: Terms) -> Any:
    if isinstance(value, str):
        return terms.compact(value)
    if isinstance(value, list):
        return [terms.compact(v) if isinstance(v, str) else v for v in value]
    return value


def _instance_time(instance: Mapping[str, Any], prop: str) -> Any:
    moment = instance.get(prop)
    return moment if moment is not None else instance.get("modifiedAt")


def _render_series(
    dataset_id: str | None,
    instances: list[dict[str, Any]],
    terms: Terms,
    prop: str,
    form: Form,
    aggregation: Aggregation | None,
    time_filter: TimeFilter | None,
) -> dict[str, Any]:
    kind = instances[-1].get("type", "Property")
    member, plural = _VALUE_MEMBER.get(kind, ("value", "values"))
    out: dict[str, Any] = {"type": kind}
    if dataset_id is not None:
        out["datasetId"] = dataset_id
    if form == "temporalValues":
        if member == "vocab":
            out[plural] = [
                [_compact_vocab(i.get(member), terms), _instance_time(i, prop)] for i in instances
            ]
        else:
            out[plural] = [[i.get(member), _instance_time(i, prop)] for i in instances]
        return out
    assert aggregation is not None
    points = []
    for instance in instances:
        stamp = _instance_time(instance, prop)
        if isinstance(stamp, str):
            try:
                moment = datetime.fromisoformat(stamp)
            except ValueError:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            points.append((moment, instance.get(member)))
    start = time_filter.start if time_filter else None
    end = time_filter.end if time_filter else None
    if kind in _COUNT_ONLY:
        # Table 4.5.19.1-3: relationships only support the two counts
        counted = Aggregation(
            tuple(m for m in aggregation.methods if m in _COUNTS), aggregation.period
        )
        results = aggregate(points, counted, start, end)
        out.update({m: results.get(m, []) for m in aggregation.methods})
    else:
        out.update(aggregate(points, aggregation, start, end))
    return out
