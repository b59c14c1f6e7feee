"""Instructors' tools: a new exercise from the template (scaffold.py), and bundles published from the
one course (exercises/, tests/hidden/, fixtures/ and what validation records of solutions/):

| kind | module | what it writes |
|---|---|---|
| learner | learner.py | OUT/ and OUT.zip: the stubs, the visible checks, what they need, the grader |
| gradescope | gradescope.py | OUT.zip: Gradescope's autograder (setup.sh, run_autograder), every check |
| classroom | classroom.py | OUT/: the learner bundle and a GitHub Classroom autograding workflow |
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from grader.publish.bundle import Plan, make_plan


def _learner(plan: Plan, out: Path) -> list[Path]:
    from grader.publish import learner

    folder = learner.build(plan, out)
    return [folder, learner.build_zip(folder)]


def _gradescope(plan: Plan, out: Path) -> list[Path]:
    from grader.publish import gradescope

    return [gradescope.build(plan, out)]


def _classroom(plan: Plan, out: Path) -> list[Path]:
    from grader.publish import classroom

    return [classroom.build(plan, out)]


PUBLISHERS: dict[str, Callable[[Plan, Path], list[Path]]] = {
    "learner": _learner,
    "gradescope": _gradescope,
    "classroom": _classroom,
}

__all__ = ["PUBLISHERS", "Plan", "make_plan"]
