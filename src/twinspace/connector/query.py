"""EDC's ``QuerySpec``: filter, sort and page a list of management API documents.

``{"offset": 0, "limit": 50, "sortField": "createdAt", "sortOrder": "ASC"|"DESC",
"filterExpression": [{"operandLeft": "state", "operator": "=", "operandRight": "FINALIZED"}]}``

Filters and sort fields name a property of the documents the API returns, as a dotted path
(``properties.name``, ``policy.assigner``, ``pendingMessage.status``); ``id`` is ``@id``, and for
assets a bare name that is not a top-level field is looked up in ``properties``. Names may carry
the EDC namespace or the ``edc:`` prefix. Every criterion must hold (AND). Matching runs over the
documents in memory; that is fine for the sizes one participant holds.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from twinspace.connector.errors import ManagementError
from twinspace.connector.jsonld import KNOWN_PREFIXES, compact_term

Json = dict[str, Any]

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "like", "ilike", "contains")
_MISSING = object()


@dataclass
class Criterion:
    left: str
    operator: str
    right: Any


@dataclass
class QuerySpec:
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    sort_field: str | None = None
    descending: bool = False
    criteria: list[Criterion] = field(default_factory=list)


def _bad(message: str) -> ManagementError:
    return ManagementError(400, f"invalid QuerySpec: {message}", "InvalidRequest")


def _int(body: Json, key: str, default: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{key} must be an integer, got {value!r}")
    return value


def parse_criterion(raw: Any, where: str = "filterExpression") -> Criterion:
    if not isinstance(raw, dict):
        raise _bad(f"each {where} entry must be an object, got {raw!r}")
    left = raw.get("operandLeft")
    if not isinstance(left, str) or not left:
        raise _bad(f"{where}: operandLeft must be a non-empty string")
    op = raw.get("operator", "=")
    if not isinstance(op, str) or op.lower() not in OPERATORS:
        raise _bad(f"{where}: operator {op!r} is not one of {', '.join(OPERATORS)}")
    op = op.lower()
    right = raw.get("operandRight")
    if op == "in" and not isinstance(right, list):
        raise _bad(f"{where}: operator 'in' needs a list as operandRight")
    return Criterion(compact_term(left, KNOWN_PREFIXES), op, right)


def parse_query(body: Json | None) -> QuerySpec:
    """A QuerySpec from a (compacted) request body; an empty/absent body selects the first page."""
    if body is None:
        return QuerySpec()
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    offset = _int(body, "offset", 0)
    limit = _int(body, "limit", DEFAULT_LIMIT)
    if offset < 0:
        raise _bad("offset must not be negative")
    if limit < 1 or limit > MAX_LIMIT:
        raise _bad(f"limit must be between 1 and {MAX_LIMIT}")
    sort_field = body.get("sortField")
    if sort_field is not None and not isinstance(sort_field, str):
        raise _bad("sortField must be a string")
    order = body.get("sortOrder", "ASC")
    if not isinstance(order, str) or order.upper() not in ("ASC", "DESC"):
        raise _bad(f"sortOrder must be ASC or DESC, got {order!r}")
    raw = body.get("filterExpression") or []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise _bad("filterExpression must be a list of criteria")
    return QuerySpec(
        offset=offset,
        limit=limit,
        sort_field=compact_term(sort_field, KNOWN_PREFIXES) if sort_field else None,
        descending=order.upper() == "DESC",
        criteria=[parse_criterion(c) for c in raw],
    )


def lookup(doc: Json, path: str) -> Any:
    """The value at dotted ``path`` in ``doc`` (``_MISSING`` when absent)."""
    if path in ("id", "@id"):
        return doc.get("@id", _MISSING)
    if path in doc:
        return doc[path]
    current: Any = doc
    for part in path.split("."):
        part = compact_term(part, KNOWN_PREFIXES)
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, dict) and part == "id" and "@id" in current:
            current = current["@id"]
        else:
            current = _MISSING
            break
    if current is _MISSING and isinstance(doc.get("properties"), dict):
        return doc["properties"].get(path, _MISSING)
    return current


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (
        isinstance(a, str) and isinstance(b, str)
    )


def _like(value: Any, pattern: Any, fold: bool) -> bool:
    if value is _MISSING or value is None:
        return False
    text, pat = str(value), str(pattern).replace("%", "*").replace("_", "?")
    if fold:
        text, pat = text.lower(), pat.lower()
    return fnmatch.fnmatchcase(text, pat)


def matches(doc: Json, c: Criterion) -> bool:
    value = lookup(doc, c.left)
    op, right = c.operator, c.right
    if op == "=":
        return bool(value == right or (isinstance(value, list) and right in value))
    if op == "!=":
        return bool(value != right)
    if op == "in":
        return value is not _MISSING and value in right
    if op == "like":
        return _like(value, right, fold=False)
    if op == "ilike":
        return _like(value, right, fold=True)
    if op == "contains":
        return isinstance(value, list | str) and right in value
    if not _comparable(value, right):
        return False
    if op == "<":
        return bool(value < right)
    if op == "<=":
        return bool(value <= right)
    if op == ">":
        return bool(value > right)
    return bool(value >= right)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is _MISSING or value is None:
        return (2, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def apply(docs: list[Json], spec: QuerySpec) -> list[Json]:
    """The page of ``docs`` that ``spec`` selects (documents without the sort field go last)."""
    selected = [d for d in docs if all(matches(d, c) for c in spec.criteria)]
    if spec.sort_field:
        sort_field = spec.sort_field
        present = [d for d in selected if _sort_key(lookup(d, sort_field))[0] < 2]
        absent = [d for d in selected if _sort_key(lookup(d, sort_field))[0] == 2]
        present.sort(key=lambda d: _sort_key(lookup(d, sort_field)), reverse=spec.descending)
        selected = present + absent
    return selected[spec.offset : spec.offset + spec.limit]
