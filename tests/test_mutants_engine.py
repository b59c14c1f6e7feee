"""Mutation validation on a tiny course: killed, survived, probably equivalent and invalid mutants."""
from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from grader import catalog
from grader.mutants import engine, python
from grader.mutants.base import Change
from grader.mutants.observe import Observations, first_difference
from grader.runner import ServicePool

SOLUTION = '''
def size(x):
    x = int(x)
    if x > 10:
        return "big"
    return "small"
'''

HIDDEN = '''
import pytest


@pytest.mark.points(2)
def test_big(submission):
    """size of a big number"""
    assert submission.size(50) == "big", "size(50) should be 'big'"


@pytest.mark.points(2)
def test_small(submission, probe):
    """size of a small number"""
    assert submission.size(3) == "small", "size(3) should be 'small'"
    if probe:  # the boundary is seen only on the wider data: mutants that move it survive
        submission.size(10)
        submission.size(11)
'''


def build(root: Path, solution: str = SOLUTION, hidden: str = HIDDEN) -> Path:
    files = {
        "exercises/demo/exercise.toml": 'title = "Demo"\npoints = 4\nfiles = ["demo.py"]\ntimeout = 5\n',
        "exercises/demo/README.md": "# Demo\n",
        "exercises/demo/demo.py": "def size(x):\n    raise NotImplementedError\n",
        "solutions/demo/demo.py": solution,
        "tests/hidden/demo/test_demo.py": hidden,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> engine.Report:
    root = build(tmp_path_factory.mktemp("course"))
    with ServicePool() as pool:
        return engine.validate_mutants(catalog.select(root, ["demo"])[0], pool, cap=0)


def verdicts(report: engine.Report, status: str) -> set[str]:
    return {v.mutant.description for v in report.verdicts if v.status == status}


def test_mutants_that_lose_points_are_killed(report: engine.Report) -> None:
    killed = verdicts(report, engine.KILLED)
    assert {"line 3: `>` -> `<=`", "line 4: `return 'big'` dropped", "line 3: `return 'small'` before `if x > 10:`"} <= killed
    why = {v.mutant.description: v.why for v in report.verdicts}
    assert why["line 3: `>` -> `<=`"].startswith("size of a big number: size(50) should be 'big'")


def test_full_marks_that_the_wider_data_tells_apart_survive(report: engine.Report) -> None:
    assert verdicts(report, engine.SURVIVED) == {"line 3: `>` -> `>=`", "line 3: `10` -> `11`", "line 3: `10` -> `9`"}
    survivor = next(v for v in report.verdicts if v.mutant.description == "line 3: `>` -> `>=`")
    assert "test_small" in survivor.why and "'big'" in survivor.why and "'small'" in survivor.why
    assert "-    if x > 10:\n+    if x >= 10:\n" in survivor.mutant.diff


def test_a_mutant_the_checks_cannot_tell_apart_is_probably_equivalent(report: engine.Report) -> None:
    assert verdicts(report, engine.EQUIVALENT) == {"line 2: `x = int(x)` dropped"}
    [verdict] = [v for v in report.verdicts if v.status == engine.EQUIVALENT]
    assert verdict.why.endswith("also on wider data")


def test_the_score_counts_killed_among_the_non_equivalent(report: engine.Report) -> None:
    killed, survived = report.count(engine.KILLED), report.count(engine.SURVIVED)
    assert report.made == report.sampled == killed + survived + 1
    assert report.score == round(100 * killed / (killed + survived), 1)
    assert not report.passed(95) and report.passed(report.score)
    assert not report.problem and report.invalid == 0


def test_mutants_that_do_not_compile_are_invalid_and_not_graded(tmp_path: Path, monkeypatch) -> None:
    real = python.mutants

    def with_a_broken_one(text: str):
        yield Change("statement", "broken", "def size(x:\n")
        yield from list(real(text))[:1]

    monkeypatch.setattr(python, "mutants", with_a_broken_one)
    root = build(tmp_path)
    with ServicePool() as pool:
        report = engine.validate_mutants(catalog.select(root, ["demo"])[0], pool, cap=0)
    assert (report.made, report.invalid, report.sampled) == (1, 1, 1)
    assert "broken" not in {v.mutant.description for v in report.verdicts}


def test_a_solution_that_loses_points_as_written_stops_the_exercise(tmp_path: Path) -> None:
    root = build(tmp_path, solution="def size(x):\n    return 'big'\n")
    with ServicePool() as pool:
        report = engine.validate_mutants(catalog.select(root, ["demo"])[0], pool, cap=0)
    assert report.problem.startswith("the solution, as the mutants are written, does not keep full marks (2/4)")
    assert not report.passed(0) and report.verdicts == []


def test_sampling_is_seeded_and_spreads_over_operators(tmp_path: Path) -> None:
    exercise = catalog.select(build(tmp_path), ["demo"])[0]
    every = engine.make_mutants(exercise)
    first = engine.sample(every, 4, 1, "demo")
    assert first == engine.sample(every, 4, 1, "demo")
    assert len(first) == 4 and len({m.operator for m in first}) == 4
    assert engine.sample(every, 0, 1, "demo") == every
    assert any(engine.sample(every, 4, seed, "demo") != first for seed in range(2, 8))


def test_observations_ignore_what_differs_between_two_grades_of_the_solution() -> None:
    def seen(*values: object) -> Observations:
        observations = Observations()
        for value in values:
            observations.note("t", "call", value)
        return observations

    reference = seen({"id": "a1", "n": 1})
    again = seen({"id": "b2", "n": 1})
    assert first_difference(reference, again, seen({"id": "zz", "n": 1})) is None
    assert first_difference(reference, again, seen({"id": "a1", "n": 2})) == "t: call gave 2 at .n, the solution's 1"
    assert "saw 2 values" in first_difference(reference, again, seen({"n": 1}, {"n": 1}))
    assert first_difference(seen(0.1 + 0.2), seen(0.3), seen(0.3)) is None


def test_each_item_of_call_each_is_observed_as_a_single_call_would_be() -> None:
    from grader.sandbox import SubmissionError

    class Fake:  # a submission proxy: parse_line fails on "bad"
        def parse_line(self, line: str) -> object:
            if line == "bad":
                raise SubmissionError("parse_line raised", error_type="KeyError")
            return {"line": line}

        def call_each(self, fn: str, items: list) -> Iterator[object]:  # all calls first, as the worker does
            outcomes = []
            for args in items:
                try:
                    outcomes.append((True, getattr(self, fn)(*args)))
                except SubmissionError as exc:
                    outcomes.append((False, exc))
                    break
            for ok, value in outcomes:
                if not ok:
                    raise value
                yield value

    def observe(use_each: bool, lines: list[str]) -> list:
        observations = Observations()
        proxy = observations.watch("submission", Fake(), "t")
        results = proxy.call_each("parse_line", [(line,) for line in lines]) if use_each else None
        with pytest.raises(SubmissionError) if "bad" in lines else contextlib.nullcontext():
            for line in lines:
                got = next(results) if use_each else proxy.parse_line(line)
                if got == {"line": "stop"}:
                    break
        return observations.by_test["t"]

    for lines in (["a", "b"], ["a", "bad", "c"], ["a", "stop", "c"]):
        assert observe(True, lines) == observe(False, lines)
    assert observe(True, ["a", "bad", "c"]) == [("parse_line", {"line": "a"}), ("parse_line raised", "KeyError")]
