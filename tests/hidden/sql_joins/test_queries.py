"""Hidden tests of sql_joins: each query against the reference, on the public and the hidden rentio databases."""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.rentio import INSTANCES, PROBES
from grader.checks.sql import QueryCheck, check_query
from grader.services.sql import SqlError, read_learner_sql


def grade(sql, exercise, workspace: Path, question: QueryCheck, probe: bool) -> None:
    """Fail with the learner's feedback when the query disagrees with the reference anywhere."""
    learner = workspace / question.filename
    if not learner.exists():
        pytest.fail(f"{question.filename} is missing from your exercise folder; restore it from the stub.")
    try:
        text = read_learner_sql(learner, filename=question.filename)
    except SqlError as exc:  # too large, or not UTF-8
        pytest.fail(str(exc))
    reference = (exercise.solution_dir / question.filename).read_text(encoding="utf-8")
    instances = INSTANCES + (PROBES if probe else ())  # probe: wider data for `grade validate --mutants`
    problem = check_query(sql, instances, text, reference, question, timeout=exercise.timeout)
    assert problem is None, problem


@pytest.mark.points(2)
@pytest.mark.hint("Films of unknown length (NULL) are not shorter than 60 minutes, and a film of exactly 60 minutes is not either.")
def test_q1_short_films(sql, exercise, workspace: Path, probe: bool) -> None:
    """q1: films shorter than 60 minutes, shortest first"""
    grade(sql, exercise, workspace, QueryCheck("q1_short_films.sql", ordered=True), probe)


@pytest.mark.points(3)
@pytest.mark.hint("A film can be in more than one category, and some films have none.")
def test_q2_short_film_categories(sql, exercise, workspace: Path, probe: bool) -> None:
    """q2: short films with their categories"""
    grade(sql, exercise, workspace, QueryCheck("q2_short_film_categories.sql", ordered=True), probe)


@pytest.mark.points(3)
@pytest.mark.hint("A category with no films must still appear, with 0: COUNT(*) counts the empty row a LEFT JOIN adds.")
def test_q3_films_per_category(sql, exercise, workspace: Path, probe: bool) -> None:
    """q3: number of films in every category"""
    grade(sql, exercise, workspace, QueryCheck("q3_films_per_category.sql", ordered=True), probe)


@pytest.mark.points(4)
@pytest.mark.hint("Some films have no copy in inventory at all: an inner join to inventory loses them.")
def test_q4_never_rented(sql, exercise, workspace: Path, probe: bool) -> None:
    """q4: films never rented"""
    grade(sql, exercise, workspace, QueryCheck("q4_never_rented.sql", ordered=True), probe)


@pytest.mark.points(4)
@pytest.mark.hint("Two different customers can share a name, and two customers can have the same total.")
def test_q5_top_customers(sql, exercise, workspace: Path, probe: bool) -> None:
    """q5: the five customers who paid the most"""
    grade(sql, exercise, workspace, QueryCheck("q5_top_customers.sql", ordered=True, precision=2), probe)


@pytest.mark.points(4)
@pytest.mark.hint("Two different actors can share a name; group by what identifies an actor.")
def test_q6_prolific_actors(sql, exercise, workspace: Path, probe: bool) -> None:
    """q6: actors in at least 30 films"""
    grade(sql, exercise, workspace, QueryCheck("q6_prolific_actors.sql", ordered=True), probe)
