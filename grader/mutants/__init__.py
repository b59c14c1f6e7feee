"""Mutation validation (`grade validate --mutants`): each exercise's checks must reject wrong answers.

`sql.py`, `python.py` and `policy.py` make mutants of a reference file (one change each);
`engine.py` grades every mutant as a submission and classifies it; `observe.py` records what the
checks see, to tell a probably equivalent mutant from a survivor; `report.py` renders the table.
"""
from __future__ import annotations

from grader.mutants.base import Change
from grader.mutants.engine import EQUIVALENT, KILLED, SURVIVED, Mutant, Report, Verdict, validate_mutants

__all__ = ["Change", "EQUIVALENT", "KILLED", "Mutant", "Report", "SURVIVED", "Verdict", "validate_mutants"]
