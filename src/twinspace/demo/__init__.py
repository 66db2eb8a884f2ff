"""The demo city data space: a city, a mobility operator and an environment agency, each a real
connector process, sharing generated traffic and air-quality data under negotiated agreements.

Run it with ``twinspace demo`` (or ``./scripts/demo``); see ``twinspace.demo.runner``.
"""
