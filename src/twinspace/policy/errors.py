"""The engine's one exception and the problems :func:`validate_policy` reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class PolicyError(Exception):
    """A policy uses bad or unsupported ODRL; raised at definition (parse) time.

    ``path`` locates the culprit, e.g. ``permission[0].constraint[1].operator``.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate_policy`."""

    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


def join(path: str, part: str) -> str:
    """``join("permission[0]", "constraint[1]")`` -> ``permission[0].constraint[1]``."""
    return f"{path}.{part}" if path else part
