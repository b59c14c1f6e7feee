"""What every mutator makes: one change of one reference file."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """A mutant of one file: the operator that made it, where and what it changed, and the new text."""

    operator: str
    description: str
    text: str
