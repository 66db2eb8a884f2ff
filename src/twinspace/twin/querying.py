"""Query Entities (CIM 009 clause 5.7.2): the store narrows by type, id, id pattern, attributes
and the location's bounding box through its indexes; ``q`` and the exact geo-relation are then
checked on each candidate, streamed page by page so a large twin is never loaded at once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from twinspace.store import Store
from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.geo import GeoQuery
from twinspace.twin.qlang import QExpr

Entity = dict[str, Any]
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
_TYPE_TOKEN = re.compile(r"\s*([(),;|])\s*|([^(),;|]+)")


@dataclass(frozen=True)
class TypeSelector:
    """An entity type selection (clause 4.17): OR over ``,``/``|``, AND over ``;``, parentheses."""

    any_of: tuple[frozenset[str], ...]  # OR of ANDs (disjunctive normal form), expanded types

    def simple_types(self) -> list[str] | None:
        """The types when the selection is a plain OR list (pushed down to the store), else None."""
        if all(len(group) == 1 for group in self.any_of):
            return sorted({next(iter(group)) for group in self.any_of})
        return None

    def matches(self, types: list[str]) -> bool:
        have = set(types)
        return any(group <= have for group in self.any_of)


def parse_type_selector(text: str, terms: TermMap) -> TypeSelector:
    tokens: list[str] = []
    for match in _TYPE_TOKEN.finditer(text):
        tokens.append(match.group(1) or match.group(2).strip())
    pos = 0

    def fail(why: str) -> NgsiError:
        return NgsiError("BadRequestData", f"invalid type selection {text!r}: {why}")

    def disjunction() -> list[frozenset[str]]:
        nonlocal pos
        groups = conjunction()
        while pos < len(tokens) and tokens[pos] in (",", "|"):
            pos += 1
            groups = groups + conjunction()
        return groups

    def conjunction() -> list[frozenset[str]]:
        nonlocal pos
        groups = atom()
        while pos < len(tokens) and tokens[pos] == ";":
            pos += 1
            right = atom()
            groups = [a | b for a in groups for b in right]
        return groups

    def atom() -> list[frozenset[str]]:
        nonlocal pos
        if pos >= len(tokens):
            raise fail("a type is missing")
        token = tokens[pos]
        if token == "(":
            pos += 1
            inner = disjunction()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise fail("')' is missing")
            pos += 1
            return inner
        if token in (")", ",", "|", ";"):
            raise fail(f"unexpected {token!r}")
        pos += 1
        return [frozenset({terms.expand_type(token)})]

    groups = disjunction()
    if pos != len(tokens):
        raise fail(f"unexpected {tokens[pos]!r}")
    return TypeSelector(tuple(groups))


@dataclass(frozen=True)
class EntityQuery:
    types: TypeSelector | None = None
    ids: list[str] | None = None
    id_pattern: str | None = None
    attrs: list[str] | None = None  # expanded; entities having at least one of them
    q: QExpr | None = None
    geo: GeoQuery | None = None
    limit: int = 20
    offset: int = 0
    count: bool = False

    def is_empty(self) -> bool:
        return not (self.types or self.ids or self.id_pattern or self.attrs or self.q or self.geo)


@dataclass
class QueryResult:
    entities: list[Entity]
    total: int | None


def _compile_pattern(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise NgsiError(
            "BadRequestData", f"idPattern {pattern!r} is not a valid regex: {exc}"
        ) from None


def candidate_filter(query: EntityQuery, terms: TermMap) -> Callable[[Entity], bool]:
    """The checks the store cannot do, as one predicate over a stored entity."""
    checks: list[Callable[[Entity], bool]] = []
    if query.types is not None and query.types.simple_types() is None:
        selector = query.types
        checks.append(lambda e: selector.matches(e["type"]))
    pattern = _compile_pattern(query.id_pattern)
    if pattern is not None:
        checks.append(lambda e: pattern.search(e["id"]) is not None)
    if query.q is not None:
        checks.append(query.q.bind(terms.expand))
    if query.geo is not None:
        geo = query.geo
        expand = terms.expand
        checks.append(lambda e: geo.matches_entity(e, expand))
    if query.attrs:
        wanted = set(query.attrs)
        checks.append(lambda e: not wanted.isdisjoint(e["attrs"]))
    return lambda e: all(check(e) for check in checks)


def _candidates(store: Store, tenant: str, query: EntityQuery, terms: TermMap) -> Iterator[Entity]:
    bbox = None
    if query.geo is not None and terms.expand(query.geo.property) == LOCATION:
        bbox = query.geo.bbox()
    types = query.types.simple_types() if query.types is not None else None
    if query.types is not None and types is None:  # an AND selection: narrow by any one type
        types = sorted({t for group in query.types.any_of for t in group})
    with store.transaction() as tx:
        yield from tx.twin_entities.query(
            tenant,
            types=types,
            ids=query.ids,
            id_pattern=query.id_pattern,
            bbox=bbox,
            attrs_any=query.attrs,
        )


def run_query(store: Store, tenant: str, query: EntityQuery, terms: TermMap) -> QueryResult:
    keep = candidate_filter(query, terms)
    page: list[Entity] = []
    seen = 0
    end = query.offset + query.limit
    for entity in _candidates(store, tenant, query, terms):
        if not keep(entity):
            continue
        if query.offset <= seen < end:
            page.append(entity)
        seen += 1
        if seen >= end and not query.count:
            break
    return QueryResult(page, seen if query.count else None)
