"""Namespaces, term normalisation and the supported actions.

Every ODRL term can be written as its short name (``use``), prefixed (``odrl:use``) or as the full
IRI (``http://www.w3.org/ns/odrl/2/use``); twinspace's own terms live under
``https://w3id.org/twinspace/policy/`` (prefix ``twinspace:``). :func:`short_name` maps all of those
to the short name; anything else is returned unchanged (and usually refused by the caller).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

ODRL_NS = "http://www.w3.org/ns/odrl/2/"
TWINSPACE_NS = "https://w3id.org/twinspace/policy/"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

#: Prefix -> namespace, for terms written ``prefix:name``.
PREFIXES: Mapping[str, str] = {
    "odrl": ODRL_NS,
    "twinspace": TWINSPACE_NS,
    "xsd": XSD_NS,
    "rdf": RDF_NS,
}
#: Namespaces whose terms are known by their short name.
OWN_NAMESPACES = (ODRL_NS, TWINSPACE_NS)


def expand_prefix(term: str) -> str:
    """``odrl:use`` -> ``http://www.w3.org/ns/odrl/2/use``; other strings unchanged."""
    head, sep, rest = term.partition(":")
    if sep and head in PREFIXES and not rest.startswith("//"):
        return PREFIXES[head] + rest
    return term


def short_name(term: str) -> str:
    """The short name of an ODRL or twinspace term in any of its spellings; else ``term``."""
    iri = expand_prefix(term)
    for ns in OWN_NAMESPACES:
        if iri.startswith(ns) and len(iri) > len(ns):
            return iri[len(ns) :]
    return term


def xsd_name(term: str) -> str:
    """``xsd:date`` / the full XSD IRI -> ``date``; other strings unchanged."""
    iri = expand_prefix(term)
    return iri[len(XSD_NS) :] if iri.startswith(XSD_NS) else term


DutyTiming = Literal["pre", "post"]


@dataclass(frozen=True)
class ActionSpec:
    """One supported action.

    ``includes`` is every action a rule on this one covers (itself included, transitively): a
    permission to ``use`` allows ``read``; a prohibition of ``use`` forbids ``read``. ``duty`` says
    how the action behaves as a duty: ``"pre"`` = a pre-condition that must already be fulfilled
    (the W3C formal semantics' condition), ``"post"`` = carried out by the caller after the use
    is allowed (delete-after, inform, log, ...).
    """

    name: str
    iri: str
    includes: frozenset[str]
    duty: DutyTiming
    description: str


# name -> (directly included actions, duty timing, description, namespace)
_TABLE: dict[str, tuple[tuple[str, ...], DutyTiming, str, str]] = {
    "use": (
        (
            "aggregate",
            "annotate",
            "anonymize",
            "archive",
            "concurrentUse",
            "derive",
            "digitize",
            "display",
            "distribute",
            "execute",
            "extract",
            "grantUse",
            "index",
            "install",
            "modify",
            "move",
            "present",
            "read",
            "reproduce",
            "stream",
            "synchronize",
            "textToSpeech",
            "transform",
            "translate",
        ),
        "post",
        "use the asset in any way (ODRL's top-level action)",
        ODRL_NS,
    ),
    "transfer": (("give", "sell"), "post", "transfer the ownership", ODRL_NS),
    "present": (("display", "print"), "post", "present the asset (display, print)", ODRL_NS),
    "display": (("play",), "post", "render the asset (incl. play)", ODRL_NS),
    "reproduce": ((), "post", "make copies", ODRL_NS),
    "execute": ((), "post", "run a model or program", ODRL_NS),
    "read": ((), "post", "obtain data from the asset", ODRL_NS),
    "play": ((), "post", "play audio/video", ODRL_NS),
    "print": ((), "post", "print on paper", ODRL_NS),
    "distribute": ((), "post", "supply the asset to third parties", ODRL_NS),
    "derive": ((), "post", "create a new derivative asset", ODRL_NS),
    "aggregate": ((), "post", "use as part of a composite collection", ODRL_NS),
    "annotate": ((), "post", "add explanatory notations", ODRL_NS),
    "anonymize": ((), "post", "anonymise all or parts of the asset", ODRL_NS),
    "archive": ((), "post", "store the asset (in a non-transient form)", ODRL_NS),
    "concurrentUse": ((), "post", "use by several parties at once", ODRL_NS),
    "digitize": ((), "post", "produce a digital copy", ODRL_NS),
    "extract": ((), "post", "extract parts", ODRL_NS),
    "grantUse": ((), "post", "grant use to third parties", ODRL_NS),
    "index": ((), "post", "record in an index", ODRL_NS),
    "install": ((), "post", "load software onto a system", ODRL_NS),
    "modify": ((), "post", "change the asset", ODRL_NS),
    "move": ((), "post", "move the asset from one place to another", ODRL_NS),
    "stream": ((), "post", "deliver in real time", ODRL_NS),
    "synchronize": ((), "post", "use in timed relations with media", ODRL_NS),
    "textToSpeech": ((), "post", "read out text", ODRL_NS),
    "transform": ((), "post", "convert to another format", ODRL_NS),
    "translate": ((), "post", "translate into another language", ODRL_NS),
    "give": ((), "post", "transfer ownership without compensation", ODRL_NS),
    "sell": ((), "post", "transfer ownership for compensation", ODRL_NS),
    # duty actions
    "compensate": ((), "pre", "pay (payAmount and unit in a refinement)", ODRL_NS),
    "obtainConsent": ((), "pre", "obtain consent (consentingParty)", ODRL_NS),
    "reviewPolicy": ((), "pre", "have a party review the policy", ODRL_NS),
    "acceptTracking": ((), "pre", "accept that the use is tracked (trackingParty)", ODRL_NS),
    "delete": (
        (),
        "post",
        "delete the asset (deadline from a dateTime/elapsedTime constraint)",
        ODRL_NS,
    ),
    "inform": ((), "post", "inform the informedParty", ODRL_NS),
    "nextPolicy": ((), "post", "attach the policy named by target when distributing", ODRL_NS),
    "attribute": ((), "post", "attribute the attributedParty", ODRL_NS),
    "watermark": ((), "post", "apply a watermark", ODRL_NS),
    "ensureExclusivity": ((), "post", "ensure the asset is used exclusively", ODRL_NS),
    "include": ((), "post", "include other related assets", ODRL_NS),
    "uninstall": ((), "post", "unload software from a system", ODRL_NS),
    "notify": ((), "post", "notify the informedParty (twinspace synonym of inform)", TWINSPACE_NS),
    "log": ((), "post", "record the use (e.g. in the transparency log)", TWINSPACE_NS),
}


def _closure(name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
    found = {name}
    for child in _TABLE[name][0]:
        if child not in seen:
            found |= _closure(child, seen | {name})
    return frozenset(found)


#: The supported actions by short name.
ACTIONS: Mapping[str, ActionSpec] = {
    name: ActionSpec(name, ns + name, _closure(name), timing, description)
    for name, (_, timing, description, ns) in _TABLE.items()
}


def action_name(term: str) -> str | None:
    """The short name of a supported action in any spelling, or None."""
    name = short_name(term)
    return name if name in ACTIONS else None


def spellings(names: Iterable[str]) -> dict[str, str]:
    """Every accepted spelling (short, prefixed, IRI) of the given actions -> short name."""
    out: dict[str, str] = {}
    for name in names:
        spec = ACTIONS[name]
        prefix = "odrl:" if spec.iri.startswith(ODRL_NS) else "twinspace:"
        out.update({name: name, prefix + name: name, spec.iri: name})
    return out
