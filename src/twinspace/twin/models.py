"""Smart Data Model conformance at write time: an entity whose type is one of the bundled models
(TrafficFlowObserved, AirQualityObserved, NoiseLevelObserved, WeatherObserved, Device) is shown
in keyValues form with the models' own short names and checked against the model's JSON Schema."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from twinspace.twin.context import SDM_CONTEXT_URL, TermMap, bundled_context
from twinspace.twin.errors import NgsiError
from twinspace.twin.representation import key_values
from twinspace.twin.validation import model_for_type, validate_entity

Entity = dict[str, Any]
_SHOWN = 5  # violations named in one error


class ModelCheck:
    """Refuses (BadRequestData) an entity that breaks the Smart Data Model of its type."""

    @cached_property
    def terms(self) -> TermMap:
        document = bundled_context(SDM_CONTEXT_URL)
        assert document is not None, "the Smart Data Models context is bundled"
        return TermMap.build([document["@context"]])

    def violations(self, entity: Entity) -> list[tuple[str, list[str]]]:
        found = []
        for type_iri in entity["type"]:
            model = model_for_type(type_iri)
            if model is None:
                continue
            shown = key_values(entity, self.terms)
            shown["type"] = model
            problems = validate_entity(shown, model)
            if problems:
                found.append((model, problems))
        return found

    def check(self, entity: Entity) -> None:
        for model, problems in self.violations(entity):
            listed = "; ".join(problems[:_SHOWN])
            more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
            raise NgsiError(
                "BadRequestData",
                f"the entity {entity['id']!r} does not conform to the Smart Data Model "
                f"{model}: {listed}{more}",
            )
