"""The NGSI-LD twin broker's pure core (ETSI GS CIM 009 V1.9.1).

Entities live in one canonical, fully expanded form (``twin.entity`` parses and validates
it, ``twin.operations`` changes it, ``twin.values`` holds the shared value checks);
``twin.terms`` turns JSON-LD ``@context`` documents into term maps and ``twin.context``
resolves ``@context`` URLs (bundled documents in ``twin/contexts/``); ``twin.representation``
renders entities as normalized, concise, keyValues and GeoJSON; ``twin.errors`` holds
``NgsiError``. Import the submodules directly; this package module stays light on purpose.
"""

__all__ = [
    "context",
    "entity",
    "errors",
    "operations",
    "representation",
    "terms",
    "values",
]
