"""The NGSI-LD Query Language (ETSI GS CIM 009 V1.9.1 §4.9): parse ``q``, match canonical entities.

Grammar (a superset of the ABNF of §4.9; ``;`` binds tighter than ``|``, parentheses nest freely)::

    Query     = AndQuery *("|" AndQuery)
    AndQuery  = Primary *(";" Primary)
    Primary   = "(" Query ")" / QueryTerm
    QueryTerm = Attribute [Operator Value]
    Attribute = attrName *("." attrName) *("[" member *("." member) "]")
    Operator  = "==" / "!=" / ">=" / ">" / "<=" / "<" / "~=" / "!~="

Values: numbers (``-1.5e3``), quoted strings (``"a \\" b"`` or ``'x'``), ``true``/``false``, unquoted
ISO 8601 date-times, dates and times, unquoted URIs (``urn:ngsi-ld:X:1``); after ``==``/``!=`` also
value lists ``1,2,3`` and inclusive ranges ``1..5``. A regular expression after ``~=``/``!~=`` is a
quoted string, or the raw text up to the next ``;``/``|``/``)`` outside brackets and parentheses
(backslash escapes a character); it is a Python :mod:`re` pattern applied with ``re.search`` (a match
anywhere in the string; anchor with ``^...$`` for a full match).

Matching (on the canonical stored form, names expanded with the caller's ``expand``): the first
path element is an attribute, the following ones are sub-attributes (``subAttrs``) or the members
``observedAt``, ``createdAt``, ``modifiedAt``, ``unitCode``, ``datasetId`` of the instance; the
bracketed trailing path walks into the JSON value (members tried verbatim, then expanded; digits
index arrays; a LanguageProperty's ``languageMap`` is walked by language tag). The target value is a
Property's ``value``, a Relationship's ``object``, a ListProperty's ``valueList``, a
ListRelationship's objects, all strings of a LanguageProperty, a VocabProperty's ``vocab``, a
JsonProperty's ``json``. A term holds when ANY instance holds. Relationships only take ``==``/``!=``.
Typing follows the literal: a number compares with numbers, a string or URI with strings, booleans
with booleans, a date-time/date/time with strings of that form (parsed; naive means UTC); a
different type never satisfies ``==``, ``>``... and always satisfies ``!=`` (an attribute that
exists with a different type is "unequal"). Array targets: ``==`` means "contains", a value list
"contains any", ordering and patterns hold when any element does; ``!=``/``!~=`` are the negation
for an existing target. Matching never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final

from twinspace.twin.errors import NgsiError

__all__ = ["Expand", "Matcher", "QExpr", "parse_q"]

Expand = Callable[[str], str]
Matcher = Callable[[dict[str, Any]], bool]
_Test = Callable[[Any], bool]

_MISSING: Final = object()
_MAX_DEPTH: Final = 64
_META: Final = frozenset({"observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"})
_OPERATORS: Final = ("!~=", "~=", "==", "!=", ">=", "<=", ">", "<")
_NAME = re.compile(r"[^\W][\w:/#\-]*")
_MEMBER = re.compile(r"[^.\[\]]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d(:?\d\d)?)?")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_TIME = re.compile(r"\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d(:?\d\d)?)?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\"'<>]+")
_VALUE_END: Final = frozenset(";|),\t\n\r ")
_COMPARABLE: Final = frozenset({"number", "string", "datetime", "date", "time"})


# --- literals and target coercion -------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _seconds(value: time) -> float:
    """A time of day as seconds after midnight UTC (naive means UTC)."""
    offset = value.utcoffset()
    secs = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return (secs - (offset.total_seconds() if offset else 0.0)) % 86400.0


def _unwrap(tv: Any) -> Any:
    return tv.get("@value") if type(tv) is dict else tv


def _as_number(tv: Any) -> Any:
    return tv if type(tv) is int or type(tv) is float else None


def _as_string(tv: Any) -> Any:
    return tv if type(tv) is str else None


def _as_bool(tv: Any) -> Any:
    return tv if type(tv) is bool else None


def _as_datetime(tv: Any) -> Any:
    tv = _unwrap(tv)
    if type(tv) is not str or len(tv) < 16 or tv[10] not in "Tt":
        return None
    try:
        return _utc(datetime.fromisoformat(tv))
    except ValueError:
        return None


def _as_date(tv: Any) -> Any:
    tv = _unwrap(tv)
    if type(tv) is not str or len(tv) != 10:
        return None
    try:
        return date.fromisoformat(tv)
    except ValueError:
        return None


def _as_time(tv: Any) -> Any:
    tv = _unwrap(tv)
    if type(tv) is not str or len(tv) < 5 or tv[2] != ":":
        return None
    try:
        return _seconds(time.fromisoformat(tv))
    except ValueError:
        return None


_COERCE: Final[dict[str, Callable[[Any], Any]]] = {
    "number": _as_number,
    "string": _as_string,
    "uri": _as_string,
    "bool": _as_bool,
    "datetime": _as_datetime,
    "date": _as_date,
    "time": _as_time,
}


@dataclass(frozen=True, slots=True)
class _Lit:
    kind: str  # number, string, uri, bool, datetime, date, time
    value: Any  # normalised: int/float, str, bool, aware UTC datetime, date, seconds of day


def _classify(raw: str) -> _Lit | None:
    """An unquoted literal, or None when ``raw`` is none of the unquoted value forms."""
    try:
        if raw in ("true", "false"):
            return _Lit("bool", raw == "true")
        if _NUMBER.fullmatch(raw):
            return _Lit("number", int(raw) if raw.lstrip("-").isdigit() else float(raw))
        if _DATETIME.fullmatch(raw):
            return _Lit("datetime", _utc(datetime.fromisoformat(raw)))
        if _DATE.fullmatch(raw):
            return _Lit("date", date.fromisoformat(raw))
        if _TIME.fullmatch(raw):
            return _Lit("time", _seconds(time.fromisoformat(raw)))
    except ValueError:
        return None
    return _Lit("uri", raw) if _URI.fullmatch(raw) else None


# --- the syntax tree and its binding to an expansion ------------------------------------------


def _any(tests: tuple[Matcher, ...]) -> Matcher:
    if len(tests) == 2:
        a, b = tests
        return lambda e: a(e) or b(e)
    return lambda e: any(t(e) for t in tests)


def _all(tests: tuple[Matcher, ...]) -> Matcher:
    if len(tests) == 2:
        a, b = tests
        return lambda e: a(e) and b(e)
    return lambda e: all(t(e) for t in tests)


@dataclass(frozen=True, slots=True)
class _Bool:
    is_and: bool
    children: tuple[_Bool | _Term, ...]

    def bind(self, expand: Expand) -> Matcher:
        tests = tuple(c.bind(expand) for c in self.children)
        return _all(tests) if self.is_and else _any(tests)

    def names(self, out: set[str]) -> None:
        for child in self.children:
            child.names(out)

    def required(self) -> frozenset[str]:
        if self.is_and:
            return min((c.required() for c in self.children), key=len)
        return frozenset().union(*(c.required() for c in self.children))


def _language_values(lmap: Any) -> Any:
    if type(lmap) is not dict:
        return _MISSING
    out: list[Any] = []
    for v in lmap.values():
        out.extend(v if type(v) is list else (v,))
    return out


_VALUE_KEYS: Final = {
    "LanguageProperty": "languageMap",
    "ListProperty": "valueList",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
}


def _seed(node: Any) -> tuple[bool, Any]:
    """(is a relationship, raw target) of an attribute or sub-attribute instance."""
    if type(node) is not dict:
        return False, _MISSING
    kind: Any = node.get("type")
    if kind == "Relationship":
        return True, node.get("object", _MISSING)
    if kind == "ListRelationship":
        objs = node.get("objectList", _MISSING)
        if type(objs) is list:
            objs = [o.get("object") if type(o) is dict else o for o in objs]
        return True, objs
    return False, node.get(_VALUE_KEYS.get(kind, "value"), _MISSING)


def _top(inst: dict[str, Any]) -> tuple[bool, Any]:
    """The target of an attribute instance itself (no path): the common, fast case."""
    if type(inst) is not dict:
        return False, _MISSING
    kind = inst.get("type")
    if kind == "Property" or kind == "GeoProperty":
        return False, inst.get("value", _MISSING)
    is_rel, tv = _seed(inst)
    return is_rel, _language_values(tv) if kind == "LanguageProperty" else tv


def _member(value: Any, names: tuple[str, str]) -> Any:
    if type(value) is dict:
        got = value.get(names[0], _MISSING)
        return value.get(names[1], _MISSING) if got is _MISSING else got
    if type(value) is list and names[0].isdigit() and int(names[0]) < len(value):
        return value[int(names[0])]
    return _MISSING


@dataclass(frozen=True, slots=True)
class _Term:
    path: tuple[str, ...]  # attribute, then sub-attributes / instance members
    members: tuple[str, ...]  # the bracketed trailing path into the value
    op: str | None  # None: existence
    lits: tuple[_Lit, ...] = ()  # one value, or a value list
    bounds: tuple[_Lit, _Lit] | None = None  # a range
    pattern: re.Pattern[str] | None = None

    def names(self, out: set[str]) -> None:
        out.add(self.path[0])

    def required(self) -> frozenset[str]:
        return frozenset((self.path[0],))

    def _scalar(self) -> _Test:
        """The positive test on one non-list target value."""
        op = self.op
        if self.pattern is not None:
            search = self.pattern.search
            return lambda tv: type(tv) is str and search(tv) is not None
        if self.bounds is not None:
            lo, hi = self.bounds
            coerce, low, high = _COERCE[lo.kind], lo.value, hi.value
            return lambda tv: (c := coerce(tv)) is not None and low <= c <= high
        if op in ("==", "!="):
            groups: dict[str, set[Any]] = {}
            for lit in self.lits:
                groups.setdefault("string" if lit.kind == "uri" else lit.kind, set()).add(lit.value)
            if len(groups) == 1:
                ((kind, values),) = groups.items()
                coerce = _COERCE[kind]
                if len(values) == 1:
                    (v,) = values
                    return lambda tv: (c := coerce(tv)) is not None and c == v
                frozen = frozenset(values)
                return lambda tv: (c := coerce(tv)) is not None and c in frozen
            pairs = tuple((_COERCE[k], frozenset(v)) for k, v in groups.items())
            return lambda tv: any((c := f(tv)) is not None and c in s for f, s in pairs)
        lit = self.lits[0]
        coerce, v = _COERCE[lit.kind], lit.value
        if op == ">":
            return lambda tv: (c := coerce(tv)) is not None and c > v
        if op == ">=":
            return lambda tv: (c := coerce(tv)) is not None and c >= v
        if op == "<":
            return lambda tv: (c := coerce(tv)) is not None and c < v
        return lambda tv: (c := coerce(tv)) is not None and c <= v

    def _resolver(self, expand: Expand) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
        if len(self.path) == 1 and not self.members:
            return _top
        steps = tuple((n in _META, n if n in _META else expand(n)) for n in self.path[1:])
        members = tuple((m, expand(m)) for m in self.members)
        last = len(steps) - 1

        def resolve(inst: dict[str, Any]) -> tuple[bool, Any]:
            node: Any = inst
            for index, (is_meta, key) in enumerate(steps):
                if type(node) is not dict:
                    return False, _MISSING
                if is_meta:  # an instance member: only as the last step, without a value path
                    if index == last and not members:
                        return False, node.get(key, _MISSING)
                    return False, _MISSING
                subs = node.get("subAttrs")
                node = subs.get(key) if type(subs) is dict else None
            is_rel, tv = _seed(node)
            if not members:
                if type(node) is dict and node.get("type") == "LanguageProperty":
                    tv = _language_values(tv)
                return is_rel, tv
            for names in members:
                if tv is _MISSING:
                    break
                tv = _member(tv, names)
            return is_rel, tv

        return resolve

    def bind(self, expand: Expand) -> Matcher:
        iri = expand(self.path[0])
        if self.op is None and len(self.path) == 1 and not self.members:
            return lambda e: bool((e.get("attrs") or {}).get(iri))
        resolve = self._resolver(expand)
        if self.op is None:

            def exists(e: dict[str, Any]) -> bool:
                insts = (e.get("attrs") or {}).get(iri) or ()
                return any(resolve(i)[1] is not _MISSING for i in insts)

            return exists
        scalar = self._scalar()
        negate = self.op in ("!=", "!~=")
        rel_ok = self.op in ("==", "!=")

        def positive(tv: Any) -> bool:
            if type(tv) is list:
                return any(scalar(x) for x in tv)
            return scalar(tv)

        def term(e: dict[str, Any]) -> bool:
            for inst in (e.get("attrs") or {}).get(iri) or ():
                is_rel, tv = resolve(inst)
                if tv is _MISSING or (is_rel and not rel_ok):
                    continue
                if positive(tv) is not negate:
                    return True
            return False

        return term


# --- the parser -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def fail(self, expected: str, at: int | None = None) -> NgsiError:
        pos = self.pos if at is None else at
        found = repr(self.text[pos]) if pos < len(self.text) else "end of query"
        return NgsiError(
            "BadRequestData", f"Invalid q: expected {expected} at position {pos}, found {found}"
        )

    def peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1
        return self.text[self.pos : self.pos + 1]

    def query(self) -> _Bool | _Term:
        parts = [self.conjunction()]
        while self.peek() == "|":
            self.pos += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _Bool(False, tuple(parts))

    def conjunction(self) -> _Bool | _Term:
        parts = [self.primary()]
        while self.peek() == ";":
            self.pos += 1
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else _Bool(True, tuple(parts))

    def primary(self) -> _Bool | _Term:
        if self.peek() != "(":
            return self.term()
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise NgsiError("TooComplexQuery", f"q nests more than {_MAX_DEPTH} parentheses")
        self.pos += 1
        node = self.query()
        if self.peek() != ")":
            raise self.fail("')' or a logical operator (';' or '|')")
        self.pos += 1
        self.depth -= 1
        return node

    def name(self, pattern: re.Pattern[str], what: str) -> str:
        m = pattern.match(self.text, self.pos)
        if m is None:
            raise self.fail(what)
        self.pos = m.end()
        return m.group()

    def term(self) -> _Term:
        self.peek()
        path = [self.name(_NAME, "an attribute name or '('")]
        while self.text.startswith(".", self.pos):
            self.pos += 1
            path.append(self.name(_NAME, "a sub-attribute name after '.'"))
        members: list[str] = []
        while self.text.startswith("[", self.pos):
            self.pos += 1
            members.append(self.name(_MEMBER, "a member name after '['"))
            while self.text.startswith(".", self.pos):
                self.pos += 1
                members.append(self.name(_MEMBER, "a member name after '.'"))
            if not self.text.startswith("]", self.pos):
                raise self.fail("']' or '.'")
            self.pos += 1
        head = self.peek()
        op = next((o for o in _OPERATORS if self.text.startswith(o, self.pos)), None)
        if op is None:
            if head and head not in ";|)":
                raise self.fail("an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' or ')'")
            return _Term(tuple(path), tuple(members), None)
        self.pos += len(op)
        self.peek()
        if op in ("~=", "!~="):
            return _Term(tuple(path), tuple(members), op, pattern=self.regex())
        start = self.pos
        lits = [self.value()]
        if self.text.startswith("..", self.pos):
            self.pos += 2
            hi = self.value()
            lo = lits[0]
            if op not in ("==", "!="):
                raise self.fail("a single value (ranges only follow == or !=)", start)
            if lo.kind not in _COMPARABLE or lo.kind != hi.kind:
                raise self.fail("a range of two numbers, strings, dates or times", start)
            return _Term(tuple(path), tuple(members), op, bounds=(lo, hi))
        while self.text.startswith(",", self.pos):
            if op not in ("==", "!="):
                raise self.fail("a single value (value lists only follow == or !=)")
            self.pos += 1
            lits.append(self.value())
        if op not in ("==", "!=") and lits[0].kind not in _COMPARABLE:
            raise self.fail(f"a number, string, date or time after {op}", start)
        return _Term(tuple(path), tuple(members), op, lits=tuple(lits))

    def quoted(self) -> str:
        quote, start, out = self.text[self.pos], self.pos, []
        self.pos += 1
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if ch == quote:
                return "".join(out)
            out.append(ch)
        raise self.fail(f"a closing {quote} for the string opened", start)

    def value(self) -> _Lit:
        if self.text[self.pos : self.pos + 1] in ('"', "'"):
            return _Lit("string", self.quoted())
        start = end = self.pos
        while end < len(self.text) and self.text[end] not in _VALUE_END:
            if self.text.startswith("..", end):
                left = _classify(self.text[start:end])
                if left is not None and left.kind in _COMPARABLE:
                    break
            end += 1
        lit = _classify(self.text[start:end]) if end > start else None
        if lit is None:
            raise self.fail(
                "a value (number, quoted string, true, false, date-time, date, time or URI)", start
            )
        self.pos = end
        return lit

    def regex(self) -> re.Pattern[str]:
        start = self.pos
        if self.text[self.pos : self.pos + 1] in ('"', "'"):
            source = self.quoted()
        else:
            depth, in_class, end = 0, False, self.pos
            while end < len(self.text):
                ch = self.text[end]
                if ch == "\\":
                    end += 2
                    continue
                if in_class:
                    in_class = ch != "]"
                elif ch == "[":
                    in_class = True
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif ch in ";|" and depth == 0:
                    break
                end += 1
            source, self.pos = self.text[start:end], min(end, len(self.text))
        if not source:
            raise self.fail("a regular expression", start)
        try:
            return re.compile(source)
        except re.error as exc:
            raise NgsiError(
                "BadRequestData", f"Invalid q: bad regular expression at position {start}: {exc}"
            ) from None


# --- the public face --------------------------------------------------------------------------


class QExpr:
    """A parsed ``q``; :meth:`bind` compiles it once per expansion into a fast predicate."""

    __slots__ = ("_bound", "_root", "text")

    def __init__(self, text: str, root: _Bool | _Term) -> None:
        self.text = text
        self._root = root
        self._bound: dict[Expand, Matcher] = {}

    def __repr__(self) -> str:
        return f"QExpr({self.text!r})"

    def attributes(self) -> set[str]:
        """The (unexpanded) top-level attribute names the query mentions."""
        out: set[str] = set()
        self._root.names(out)
        return out

    def required_any(self) -> frozenset[str]:
        """Unexpanded names of which every matching entity has at least one (a prefilter)."""
        return self._root.required()

    def bind(self, expand: Expand) -> Matcher:
        """The predicate over canonical entities, names expanded once with ``expand``."""
        try:
            return self._bound[expand]
        except KeyError:
            pass
        except TypeError:  # an unhashable expansion: compile without caching
            return self._root.bind(expand)
        matcher = self._root.bind(expand)
        if len(self._bound) >= 8:
            self._bound.clear()
        self._bound[expand] = matcher
        return matcher

    def matches(self, entity: dict[str, Any], expand: Expand) -> bool:
        return self.bind(expand)(entity)

    def filter(self, entities: Iterable[dict[str, Any]], expand: Expand) -> list[dict[str, Any]]:
        match = self.bind(expand)
        return [e for e in entities if match(e)]


def parse_q(text: str) -> QExpr:
    """Parse an NGSI-LD ``q`` (already URL-decoded); NgsiError BadRequestData when malformed."""
    if not text or not text.strip():
        raise NgsiError("BadRequestData", "Invalid q: the query is empty")
    parser = _Parser(text)
    root = parser.query()
    if parser.peek():
        raise parser.fail("';', '|' or the end of the query")
    return QExpr(text, root)
