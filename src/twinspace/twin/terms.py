"""JSON-LD ``@context`` term maps for the NGSI-LD broker, without a JSON-LD processor.

Names are stored expanded; a :class:`TermMap` built once per distinct ``@context`` turns
terms into IRIs and back with plain dictionary look-ups. The documents the broker needs are
bundled (``twin/contexts/``, indexed by ``index.json``) and never fetched: the NGSI-LD core
context (v1.8 term set) and the Smart Data Models contexts of the five models used.

Decisions where CIM 009 leaves room:

* the core context is applied after every user context, so its terms can't be overridden;
  its ``@vocab`` (``https://uri.etsi.org/ngsi-ld/default-context/``) is only the fallback: a
  user context that sets ``@vocab`` keeps it;
* a term is usable as a prefix when it is a simple (string) definition whose IRI ends with a
  gen-delim character, or when its definition says ``"@prefix": true`` (JSON-LD 1.1);
* terms whose definition has ``"@type"`` naming a GeoJSON geometry or ``GeoProperty`` are
  "GeoProperty-declared" (:attr:`TermMap.geo_properties`), as are the core's ``location``,
  ``observationSpace`` and ``operationSpace``.

``twinspace.twin.context`` re-exports everything here beside its ``ContextLoader``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from twinspace.twin.errors import NgsiError

__all__ = [
    "CORE_CONTEXT_URL",
    "CORE_CONTEXT_URLS",
    "DEFAULT_VOCAB",
    "GEOJSON",
    "NGSI_LD",
    "SDM_CONTEXT_URL",
    "TermMap",
    "bundled_context",
    "bundled_urls",
    "core_terms",
    "parse_context_value",
]

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
GEOJSON = "https://purl.org/geojson/vocab#"
CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
CORE_CONTEXT_URLS = frozenset(
    {CORE_CONTEXT_URL, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"}
)
SDM_CONTEXT_URL = "https://smartdatamodels.org/context.jsonld"

_GEN_DELIMS = frozenset(":/?#[]@")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_GEO_TYPE_IRIS = frozenset({NGSI_LD + "GeoProperty", GEOJSON + "Geometry"}) | {
    GEOJSON + name
    for name in ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon")
}
_CORE_GEO = frozenset(NGSI_LD + name for name in ("location", "observationSpace", "operationSpace"))
_MEMO_MAX = 8192


# ----------------------------------------------------------------------------- bundled documents


@functools.cache
def _index() -> dict[str, str]:
    text = resources.files("twinspace.twin").joinpath("contexts", "index.json").read_text("utf-8")
    index: dict[str, str] = json.loads(text)
    return index


@functools.cache
def _bundled_raw(url: str) -> dict[str, Any] | None:
    name = _index().get(url)
    if name is None:
        return None
    text = resources.files("twinspace.twin").joinpath("contexts", name).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def bundled_context(url: str) -> dict[str, Any] | None:
    """A copy of the bundled JSON-LD document served at ``url``, or None if not bundled."""
    document = _bundled_raw(url)
    return None if document is None else copy.deepcopy(document)


def bundled_urls() -> list[str]:
    """The URLs of every bundled context document."""
    return sorted(_index())


def parse_context_value(value: Any) -> list[str | dict[str, Any]]:
    """Normalise an ``@context`` value (absent, a URL, an object or a list of those) to a list."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str | dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            if not _SCHEME.match(item):
                raise NgsiError(
                    "BadRequestData", f"Invalid @context: {item!r} is not an absolute URL"
                )
            out.append(item)
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise NgsiError(
                "BadRequestData",
                f"Invalid @context: members must be URLs or objects, not {type(item).__name__}",
            )
    return out


# ----------------------------------------------------------------------------- term maps


class _Builder:
    """Applies local contexts in order (JSON-LD "create term definition", the parts we need)."""

    def __init__(self) -> None:
        self.terms: dict[str, str] = {}
        self.prefixes: dict[str, str] = {}
        self.declared: dict[str, str] = {}  # term IRI -> its raw @type, resolved at the end
        self.vocab: str | None = None

    def expand(self, value: str) -> str:
        known = self.terms.get(value)
        if known is not None:
            return known
        head, sep, tail = value.partition(":")
        if sep:
            base = self.prefixes.get(head)
            if base is not None and not tail.startswith("//"):
                return base + tail
            return value
        return (self.vocab or DEFAULT_VOCAB) + value

    def apply(self, local: Mapping[str, Any], *, core: bool) -> None:
        if not isinstance(local, Mapping):
            raise NgsiError("BadRequestData", "Invalid @context: a local context must be an object")
        if "@vocab" in local and not (core and self.vocab is not None):
            vocab = local["@vocab"]
            if vocab is not None and not isinstance(vocab, str):
                raise NgsiError("BadRequestData", "Invalid @context: @vocab must be a string")
            self.vocab = None if vocab is None else self.expand(vocab) if vocab else None
        done: set[str] = set()
        for term in local:
            if not term.startswith("@"):
                self._define(local, term, done, set())

    def _define(
        self, local: Mapping[str, Any], term: str, done: set[str], active: set[str]
    ) -> None:
        if term in done:
            return
        if term in active:
            raise NgsiError("BadRequestData", f"Invalid @context: cyclic definition of {term!r}")
        active.add(term)
        definition = local[term]
        simple = isinstance(definition, str)
        declared: Any = None
        if definition is None:
            iri: str | None = None
        elif isinstance(definition, str):
            iri = definition
        elif isinstance(definition, Mapping):
            if "@reverse" in definition:
                done.add(term)
                return
            iri = definition.get("@id", term) if "@id" in definition else term
            declared = definition.get("@type")
        else:
            raise NgsiError("BadRequestData", f"Invalid @context: bad definition of term {term!r}")
        if iri is None:
            self.terms.pop(term, None)
            self.prefixes.pop(term, None)
            done.add(term)
            return
        if not isinstance(iri, str):
            raise NgsiError("BadRequestData", f"Invalid @context: @id of {term!r} must be a string")
        resolved = iri if iri.startswith("@") else self._resolve(local, iri, done, active, term)
        self.terms[term] = resolved
        explicit = definition.get("@prefix") if isinstance(definition, Mapping) else None
        is_prefix = explicit is True or (
            explicit is None
            and simple
            and ":" not in term
            and "/" not in term
            and not resolved.startswith("@")
            and resolved[-1:] in _GEN_DELIMS
        )
        if is_prefix:
            self.prefixes[term] = resolved
        else:
            self.prefixes.pop(term, None)
        if isinstance(declared, str):
            self.declared[resolved] = declared
        done.add(term)

    def _resolve(
        self,
        local: Mapping[str, Any],
        value: str,
        done: set[str],
        active: set[str],
        term: str | None = None,
    ) -> str:
        if value.startswith("@"):
            return value
        head, sep, _tail = value.partition(":")
        dependency = head if sep else value
        if dependency != term and dependency in local and not dependency.startswith("@"):
            self._define(local, dependency, done, active)
        return self.expand(value)


class TermMap:
    """An immutable term <-> IRI mapping for one ``@context`` (hashable by its documents)."""

    __slots__ = ("_inverse", "_memo", "_prefixes", "_terms", "_vocab", "geo_properties", "key")

    def __init__(
        self,
        terms: dict[str, str],
        prefixes: dict[str, str],
        vocab: str,
        geo: frozenset[str],
        key: str,
    ) -> None:
        self._terms = terms
        self._prefixes = prefixes
        self._vocab = vocab
        self.geo_properties = geo
        self.key = key
        inverse: dict[str, str] = {}
        for term, iri in terms.items():
            if iri.startswith("@"):
                continue
            best = inverse.get(iri)
            if best is None or (len(term), term) < (len(best), best):
                inverse[iri] = term
        self._inverse = inverse
        self._memo: dict[str, str] = {}

    def __reduce__(self) -> tuple[type[TermMap], tuple[Any, ...]]:
        """Pickled as its mapping (for the writer processes); the memo is not carried."""
        return (
            TermMap,
            (self._terms, self._prefixes, self._vocab, self.geo_properties, self.key),
        )

    @classmethod
    def build(cls, documents: Sequence[Mapping[str, Any]]) -> TermMap:
        """The term map of local contexts applied in order, the core context last."""
        builder = _Builder()
        for document in documents:
            builder.apply(document, core=False)
        core = _bundled_raw(CORE_CONTEXT_URL)
        assert core is not None
        builder.apply(core["@context"], core=True)
        text = json.dumps(list(documents), sort_keys=True, separators=(",", ":"))
        key = hashlib.sha256(text.encode()).hexdigest()
        vocab = builder.vocab or DEFAULT_VOCAB
        geo = set(_CORE_GEO)
        for iri, declared in builder.declared.items():
            if builder.expand(declared) in _GEO_TYPE_IRIS:
                geo.add(iri)
        return cls(builder.terms, builder.prefixes, vocab, frozenset(geo), key)

    @property
    def vocab(self) -> str:
        return self._vocab

    def expand(self, term: str) -> str:
        """The IRI of a term, compact IRI, absolute IRI (unchanged) or vocab-relative name."""
        iri = self._terms.get(term)
        if iri is not None:
            return iri
        head, sep, tail = term.partition(":")
        if sep:
            base = self._prefixes.get(head)
            if base is not None and not tail.startswith("//"):
                return base + tail
            return term
        return self._vocab + term

    expand_type = expand

    def compact(self, iri: str) -> str:
        """The shortest defined term for ``iri``, else a vocab-relative name, else a compact
        IRI through a defined prefix, else ``iri`` itself."""
        term = self._inverse.get(iri)
        if term is not None:
            return term
        memo = self._memo.get(iri)
        if memo is not None:
            return memo
        result = self._compact_slow(iri)
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[iri] = result
        return result

    compact_type = compact

    def _compact_slow(self, iri: str) -> str:
        vocab = self._vocab
        if iri.startswith(vocab):
            suffix = iri[len(vocab) :]
            if suffix and ":" not in suffix and suffix not in self._terms:
                return suffix
        best: str | None = None
        for prefix, base in self._prefixes.items():
            if len(iri) > len(base) and iri.startswith(base):
                candidate = f"{prefix}:{iri[len(base) :]}"
                if candidate in self._terms and self._terms[candidate] != iri:
                    continue
                if best is None or (len(candidate), candidate) < (len(best), best):
                    best = candidate
        return best or iri

    def is_term(self, name: str) -> bool:
        """Whether ``name`` is defined as a term (keyword aliases included)."""
        return name in self._terms

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TermMap) and other.key == self.key

    def __repr__(self) -> str:
        return f"TermMap({self.key[:12]}, {len(self._terms)} terms)"


@functools.cache
def core_terms() -> TermMap:
    """The term map of the core context alone (a request without ``@context``)."""
    return TermMap.build([])
