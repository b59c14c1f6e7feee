"""The SQL result checker's comparison rules, one by one, and grading a question end to end."""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.rentio import HIDDEN, INSTANCES, PUBLIC
from grader.checks.sql import QueryCheck, check_query, compare, hard_coded
from grader.services.sql import QueryResult, SqlService

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = QueryResult(("title", "length"), (("ALPHA", 50), ("BETA", 50), ("GAMMA", 55)))


def _result(*rows: tuple, columns: tuple[str, ...] = ("a", "b")) -> QueryResult:
    return QueryResult(columns, rows)


def test_columns_compare_by_position_not_by_name() -> None:
    assert compare(EXPECTED, _result(*EXPECTED.rows, columns=("x", "y")), ordered=True) is None


def test_a_wrong_column_count_is_named_with_the_expected_columns() -> None:
    message = compare(EXPECTED, _result(*[(r[0],) for r in EXPECTED.rows], columns=("title",)), ordered=True)
    assert message == "Your query returns 1 column; the question asks for 2 (title, length, in that order)."


def test_missing_rows_are_counted_and_shown() -> None:
    message = compare(EXPECTED, _result(*EXPECTED.rows[:2]), ordered=True)
    assert message == ("Your query returned 2 rows; the expected result has 3.\n"
                       "1 expected row is missing:\n  GAMMA | 55")


def test_extra_rows_and_duplicates_count() -> None:
    message = compare(EXPECTED, _result(*EXPECTED.rows, EXPECTED.rows[0]), ordered=False)
    assert message == ("Your query returned 4 rows; the expected result has 3.\n"
                       "1 row should not be there:\n  ALPHA | 50")


def test_order_matters_only_where_the_question_asks() -> None:
    shuffled = _result(EXPECTED.rows[1], EXPECTED.rows[0], EXPECTED.rows[2])
    assert compare(EXPECTED, shuffled, ordered=False) is None
    message = compare(EXPECTED, shuffled, ordered=True)
    assert message is not None and message.startswith("The rows are right but in the wrong order: row 1 differs.")
    assert "ALPHA | 50" in message and "BETA | 50" in message


def test_numbers_compare_after_rounding_to_the_precision() -> None:
    expected = _result(("X", 252.56))
    assert compare(expected, _result(("X", 252.56000000000017)), ordered=True, precision=2) is None
    assert compare(expected, _result(("X", 252.6)), ordered=True, precision=2) is not None
    assert compare(expected, _result(("X", 252.6)), ordered=True, precision=1) is None


def test_rows_of_hidden_databases_are_never_shown() -> None:
    message = compare(EXPECTED, _result(*EXPECTED.rows[:2]), ordered=True, show_rows=False)
    assert message is not None and "GAMMA" not in message and "not shown" in message


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("SELECT 'ACADEMY DINOSAUR', 48", True),
        ("SELECT 'ACADEMY DINOSAUR', 48 FROM film LIMIT 1", True),
        ("SELECT 'A', 1 UNION ALL SELECT 'B', 2", True),
        ("SELECT title, length FROM film", False),
        ("SELECT COUNT(*) FROM film", False),
        ("SELECT 'total', (SELECT COUNT(*) FROM film)", False),
    ],
)
def test_hard_coded_answers_are_flagged(text: str, flagged: bool) -> None:
    assert (hard_coded(text, filename="q.sql") is not None) is flagged


@pytest.fixture(scope="module")
def sql() -> SqlService:
    return SqlService(None)


def _solution(name: str) -> str:
    return (ROOT / "solutions/sql_joins" / name).read_text()


def test_the_reference_passes_everywhere(sql: SqlService) -> None:
    question = QueryCheck("q3_films_per_category.sql", ordered=True)
    assert check_query(sql, INSTANCES, _solution(question.filename), _solution(question.filename), question, timeout=5) is None


def test_an_almost_right_query_passes_public_and_fails_on_a_hidden_database(sql: SqlService) -> None:
    question = QueryCheck("q3_films_per_category.sql", ordered=True)
    almost = ("SELECT c.name, COUNT(*) FROM category c LEFT JOIN film_category fc ON fc.category_id = c.category_id "
              "GROUP BY c.category_id, c.name ORDER BY 2 DESC, c.name")
    assert check_query(sql, [PUBLIC], almost, _solution(question.filename), question, timeout=5) is None
    message = check_query(sql, INSTANCES, almost, _solution(question.filename), question, timeout=5)
    assert message is not None and message.startswith("Your query is right on the public database but not on a hidden one")
    assert all(name not in message for name in ("Western", "Musical", "Noir"))


def test_a_wrong_order_on_public_shows_the_rows(sql: SqlService) -> None:
    question = QueryCheck("q1_short_films.sql", ordered=True)
    unordered = "SELECT title, length FROM film WHERE length < 60 ORDER BY title"
    message = check_query(sql, INSTANCES, unordered, _solution(question.filename), question, timeout=5)
    assert message is not None and message.startswith("On the public database: The rows are right but in the wrong order")


def test_errors_on_hidden_databases_say_where(sql: SqlService) -> None:
    question = QueryCheck("q1_short_films.sql", ordered=True)
    slow = "SELECT f.title, f.length FROM film f, rental a, rental b WHERE f.length < 60 GROUP BY f.title, f.length ORDER BY f.length, f.title"
    message = check_query(sql, HIDDEN[:1], slow, _solution(question.filename), question, timeout=0.3)
    assert message is not None and message.startswith("On a hidden test database:") and "0.3 s" in message


def test_missing_and_extra_rows_keep_the_result_order() -> None:
    expected = _result(("ZED", 300), ("AMY", 200), ("BOB", 100))
    message = compare(expected, _result(("ZED", 300), ("CAL", 250), ("DAN", 150)), ordered=True)
    assert message is not None
    assert "missing:\n  AMY | 200\n  BOB | 100" in message
    assert "should not be there:\n  CAL | 250\n  DAN | 150" in message


def test_rows_that_differ_in_one_column_name_it_even_on_hidden_databases() -> None:
    expected = _result(("Action", 0), ("Drama", 3), columns=("name", "films"))
    message = compare(expected, _result(("Action", 1), ("Drama", 3)), ordered=True, show_rows=False)
    assert message is not None and "Action" not in message
    assert message.endswith("differ from the missing ones only in column 2 (films).")


def test_a_wrong_order_points_at_order_by_and_ties() -> None:
    message = compare(EXPECTED, _result(EXPECTED.rows[1], EXPECTED.rows[0], EXPECTED.rows[2]), ordered=True)
    assert message is not None and "ORDER BY" in message and "ties" in message
