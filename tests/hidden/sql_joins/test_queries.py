"""Hidden tests of sql_joins: each query against the reference's result. Every question is two checks:
on the public rentio database (visible: it ships to learners and runs in their `grade run`), and on
the hidden databases too (hidden: only the autograder runs it).

The reference results come from the `expected` fixture: computed from solutions/sql_joins/ in the
course, read from expected/sql_joins.json in a published bundle, which holds no solutions (a learner's
holds the public database's results only).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.rentio import INSTANCES, PROBES, PUBLIC
from grader.checks.sql import QueryCheck, check_query
from grader.services.sql import SqlError, read_learner_sql

Q1 = QueryCheck("q1_short_films.sql", ordered=True)
Q2 = QueryCheck("q2_short_film_categories.sql", ordered=True)
Q3 = QueryCheck("q3_films_per_category.sql", ordered=True)
Q4 = QueryCheck("q4_never_rented.sql", ordered=True)
Q5 = QueryCheck("q5_top_customers.sql", ordered=True, precision=2)
Q6 = QueryCheck("q6_prolific_actors.sql", ordered=True)
HINT1 = "Films of unknown length (NULL) are not shorter than 60 minutes, and a film of exactly 60 minutes is not either."
HINT2 = "A film can be in more than one category, and some films have none."
HINT3 = ("A category with no films must still appear, with 0: COUNT(*) counts the empty row a LEFT JOIN adds.",
         "Two categories can share a name: group by what identifies a category, its id.")
HINT4 = "Some films have no copy in inventory at all: an inner join to inventory loses them."
HINT5 = "Two different customers can share a name, and two customers can have the same total."
HINT6 = "Two different actors can share a name; group by what identifies an actor."


def grade(sql, expected, exercise, workspace: Path, question: QueryCheck, *, hidden: bool, probe: bool) -> None:
    """Fail with the learner's feedback when the query disagrees with the reference: on the public
    database, or (`hidden`) on every database, public first."""
    learner = workspace / question.filename
    if not learner.exists():
        pytest.fail(f"{question.filename} is missing from your exercise folder; restore it from the stub.")
    try:
        text = read_learner_sql(learner, filename=question.filename)
    except SqlError as exc:  # too large, or not UTF-8
        pytest.fail(str(exc))
    instances = (INSTANCES + (PROBES if probe else ())) if hidden else (PUBLIC,)  # probe: `validate --mutants`
    problem = check_query(sql, instances, text,
                          lambda instance: expected.sql(instance, question.filename), question,
                          timeout=exercise.timeout)
    assert problem is None, problem


@pytest.mark.points(1)
@pytest.mark.hint(HINT1)
def test_q1_short_films(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q1: films shorter than 60 minutes, shortest first"""
    grade(sql, expected, exercise, workspace, Q1, hidden=False, probe=probe)


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
@pytest.mark.hint(HINT1)
def test_q1_short_films_on_hidden_databases(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q1 on the hidden databases too"""
    grade(sql, expected, exercise, workspace, Q1, hidden=True, probe=probe)


@pytest.mark.points(2)
@pytest.mark.hint(HINT2)
def test_q2_short_film_categories(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q2: short films with their categories"""
    grade(sql, expected, exercise, workspace, Q2, hidden=False, probe=probe)


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
@pytest.mark.hint(HINT2)
def test_q2_short_film_categories_on_hidden_databases(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q2 on the hidden databases too"""
    grade(sql, expected, exercise, workspace, Q2, hidden=True, probe=probe)


@pytest.mark.points(2)
@pytest.mark.hint(*HINT3)
def test_q3_films_per_category(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q3: number of films in every category"""
    grade(sql, expected, exercise, workspace, Q3, hidden=False, probe=probe)


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
@pytest.mark.hint(*HINT3)
def test_q3_films_per_category_on_hidden_databases(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q3 on the hidden databases too"""
    grade(sql, expected, exercise, workspace, Q3, hidden=True, probe=probe)


@pytest.mark.points(2)
@pytest.mark.hint(HINT4)
def test_q4_never_rented(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q4: films never rented"""
    grade(sql, expected, exercise, workspace, Q4, hidden=False, probe=probe)


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
@pytest.mark.hint(HINT4)
def test_q4_never_rented_on_hidden_databases(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q4 on the hidden databases too"""
    grade(sql, expected, exercise, workspace, Q4, hidden=True, probe=probe)


@pytest.mark.points(2)
@pytest.mark.hint(HINT5)
def test_q5_top_customers(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q5: the five customers who paid the most"""
    grade(sql, expected, exercise, workspace, Q5, hidden=False, probe=probe)


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
@pytest.mark.hint(HINT5)
def test_q5_top_customers_on_hidden_databases(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q5 on the hidden databases too"""
    grade(sql, expected, exercise, workspace, Q5, hidden=True, probe=probe)


@pytest.mark.points(2)
@pytest.mark.hint(HINT6)
def test_q6_prolific_actors(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q6: actors in at least 30 films"""
    grade(sql, expected, exercise, workspace, Q6, hidden=False, probe=probe)


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
@pytest.mark.hint(HINT6)
def test_q6_prolific_actors_on_hidden_databases(sql, expected, exercise, workspace: Path, probe: bool) -> None:
    """q6 on the hidden databases too"""
    grade(sql, expected, exercise, workspace, Q6, hidden=True, probe=probe)
