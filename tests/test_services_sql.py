"""The sql service: MySQL semantics on SQLite, the same results on MySQL, and hostile SQL refused cleanly."""
from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

from fixtures.rentio import INSTANCES, PUBLIC, TABLES_BY_NAME, data
from grader.checks.sql import normalize_rows
from grader.services import ServiceOptions
from grader.services.sql import (
    EmptyQuery, NotAllowed, QueryFailed, QueryTimeout, SqlService, UnsupportedFunction, make_service, split_statements,
)

ROOT = Path(__file__).resolve().parent.parent
MYSQL_URL = os.environ.get("GRADER_MYSQL_URL")
needs_mysql = pytest.mark.skipif(not MYSQL_URL, reason="set GRADER_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306) to run the MySQL tests")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mysql", marks=needs_mysql)])
def sql(request: pytest.FixtureRequest) -> Iterator[SqlService]:
    service = make_service(ServiceOptions(mysql_url=MYSQL_URL if request.param == "mysql" else None))
    service.start()
    yield service
    service.stop()


def _rows(table: str) -> list[tuple]:
    return data(PUBLIC.seed, PUBLIC.edge_cases)[table]


def _col(table: str, name: str) -> int:
    return TABLES_BY_NAME[table].column_names.index(name)


def test_backend_follows_the_options() -> None:
    assert make_service(ServiceOptions()).backend == "sqlite"
    assert make_service(ServiceOptions(mysql_url="mysql://u:p@db:3306")).backend == "mysql"


def test_datediff_counts_calendar_days_as_mysql_does(sql: SqlService) -> None:
    result = sql.query(PUBLIC, "SELECT rental_id, DATEDIFF(return_date, rental_date) FROM rental WHERE return_date IS NOT NULL")
    fmt = "%Y-%m-%d %H:%M:%S"
    expected = {
        r[0]: (datetime.strptime(r[4], fmt).date() - datetime.strptime(r[1], fmt).date()).days
        for r in _rows("rental") if r[4] is not None
    }
    assert dict(result.rows) == expected


def test_date_add_year_and_month_keep_mysql_meaning(sql: SqlService) -> None:
    result = sql.query(
        PUBLIC,
        "SELECT DATE_ADD(rental_date, INTERVAL 3 DAY), DATE_SUB(rental_date, INTERVAL 1 MONTH), "
        "YEAR(rental_date), MONTH(rental_date), rental_date + INTERVAL 2 HOUR FROM rental WHERE rental_id = 1",
    )
    start = datetime.strptime(_rows("rental")[0][1], "%Y-%m-%d %H:%M:%S")
    assert result.rows[0][0] == (start.replace(day=start.day) + __import__("datetime").timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    assert result.rows[0][1] == start.replace(month=start.month - 1).strftime("%Y-%m-%d %H:%M:%S")
    assert result.rows[0][2:4] == (start.year, start.month)
    assert result.rows[0][4] == (start + __import__("datetime").timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")


def test_string_comparison_ignores_case_and_division_is_exact(sql: SqlService) -> None:
    result = sql.query(PUBLIC, "SELECT name, 5 / 2 FROM category WHERE name = 'aCtIoN'")
    assert [(r[0], float(r[1])) for r in result.rows] == [("Action", 2.5)]


def test_reference_queries_agree_with_an_independent_computation(sql: SqlService) -> None:
    text = (ROOT / "solutions/sql_joins/q1_short_films.sql").read_text()
    length, title = _col("film", "length"), _col("film", "title")
    films = [(f[title], f[length]) for f in _rows("film") if f[length] is not None and f[length] < 60]
    assert list(sql.query(PUBLIC, text).rows) == sorted(films, key=lambda f: (f[1], f[0]))


@needs_mysql
def test_transpiled_results_equal_mysql_results_on_every_instance() -> None:
    lite, real = SqlService(None), SqlService(MYSQL_URL)
    real.start()
    try:
        for instance in INSTANCES:
            for path in sorted((ROOT / "solutions/sql_joins").glob("*.sql")):
                text = path.read_text()
                a, b = lite.query(instance, text), real.query(instance, text)
                assert normalize_rows(a.rows, 2) == normalize_rows(b.rows, 2), f"{path.name} on {instance.name}"
    finally:
        real.stop()
        lite.stop()


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("ATTACH DATABASE '/tmp/x.db' AS x", NotAllowed, "ATTACH"),
        ("PRAGMA writable_schema = 1", NotAllowed, "PRAGMA"),
        ("SELECT * FROM film; DROP TABLE film", NotAllowed, "2 statements"),
        ("DROP TABLE film", NotAllowed, "SELECT"),
        ("DELETE FROM film", NotAllowed, "SELECT"),
        ("SELECT load_extension('/tmp/evil')", NotAllowed, "LOAD_EXTENSION"),
        ("SELECT LOAD_FILE('/etc/passwd')", NotAllowed, "LOAD_FILE"),
        ("SELECT * FROM film INTO OUTFILE '/tmp/films'", QueryFailed, "does not parse"),
        ("SELECT title FROM film WHERE", QueryFailed, "does not parse"),
        ("-- only a comment\n", EmptyQuery, "no query yet"),
        ("SELECT nosuchcolumn FROM film", QueryFailed, "nosuchcolumn"),
    ],
)
def test_hostile_or_broken_sql_fails_cleanly_and_leaves_the_database_intact(
    sql: SqlService, text: str, error: type, words: str
) -> None:
    with pytest.raises(error) as caught:
        sql.query(PUBLIC, text, filename="q.sql")
    assert words.lower() in str(caught.value).lower()
    assert sql.query(PUBLIC, "SELECT COUNT(*) FROM film").rows == ((1000,),)


def test_a_query_that_never_ends_is_stopped(sql: SqlService) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="longer than 0.5 s"):
        sql.query(PUBLIC, "SELECT COUNT(*) FROM rental a, rental b, rental c", timeout=0.5, filename="q.sql")
    assert time.monotonic() - started < 5
    assert sql.query(PUBLIC, "SELECT COUNT(*) FROM rental").rows == ((len(_rows("rental")),),)


def test_a_mysql_function_sqlite_lacks_is_named_with_the_way_out() -> None:
    service = SqlService(None)
    with pytest.raises(UnsupportedFunction) as caught:
        service.query(PUBLIC, "SELECT LAST_DAY(rental_date) FROM rental", filename="q.sql")
    assert "LAST_DAY" in str(caught.value) and "--mysql-url" in str(caught.value)


def test_statements_split_on_semicolons_outside_strings() -> None:
    assert split_statements("SELECT ';' AS x; -- note\nSELECT 2;\n") == ["SELECT ';' AS x", "-- note\nSELECT 2"]


def test_a_session_is_writable_private_and_enforces_foreign_keys(sql: SqlService) -> None:
    script = (
        "CREATE TABLE shelf (shelf_id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(20) NOT NULL, UNIQUE KEY (label)) ENGINE=InnoDB;"
        "CREATE TABLE copy (copy_id INT PRIMARY KEY, shelf_id INT NOT NULL, KEY k (shelf_id),"
        " FOREIGN KEY (shelf_id) REFERENCES shelf (shelf_id));"
        "INSERT INTO shelf (label) SELECT DISTINCT name FROM category;"
        "INSERT INTO copy SELECT inventory_id, 1 FROM inventory WHERE inventory_id <= 10;"
    )
    with sql.session(PUBLIC, protected=["film"]) as db:
        db.run_script(script, filename="s.sql")
        assert db.query("SELECT COUNT(*) FROM shelf").rows == ((16,),)
        assert db.primary_key("shelf") == ["shelf_id"]
        assert db.foreign_keys("copy") == [(("shelf_id",), "shelf", ("shelf_id",))]
        assert db.probe_insert("INSERT INTO copy VALUES (99999, 424242)") == "foreign_key"
        assert db.probe_insert("INSERT INTO copy VALUES (99999, 1)") == "accepted"
        assert db.query("SELECT COUNT(*) FROM copy").rows == ((10,),)
        with pytest.raises(NotAllowed, match="leave film"):
            db.run_script("DELETE FROM film", filename="s.sql")
    with pytest.raises(QueryFailed):
        sql.query(PUBLIC, "SELECT * FROM shelf")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("-- the question\nSELCT title FROM film", ("line 2", "Did you mean SELECT instead of SELCT?")),
        ("SELECT title FROM film f JION film_category fc ON fc.film_id = f.film_id",
         ("^^^^", "Did you mean JOIN instead of JION?")),
        ("SELECT title FROM film\nORDR BY title", ("line 2", "    ORDR BY title\n", "Did you mean ORDER")),
        ("SELECT title FROM film WHERE title = 'abc", ("is never closed",)),
    ],
)
def test_a_syntax_error_shows_where_and_the_likely_typo(sql: SqlService, text: str, shown: tuple[str, ...]) -> None:
    with pytest.raises(QueryFailed) as caught:
        sql.query(PUBLIC, text, filename="q.sql")
    message = str(caught.value)
    assert message.startswith("q.sql: ")
    for piece in shown:
        assert piece in message


def test_grouping_by_the_key_with_dependent_columns_runs_on_every_backend(sql: SqlService) -> None:
    text = ("SELECT c.first_name, c.last_name, COUNT(*) FROM customer c JOIN payment p "
            "ON p.customer_id = c.customer_id GROUP BY c.customer_id ORDER BY c.customer_id LIMIT 3")
    customers = sorted(_rows("customer"))[:3]
    result = sql.query(PUBLIC, text, filename="q.sql")
    assert [r[:2] for r in result.rows] == [(c[_col("customer", "first_name")], c[_col("customer", "last_name")])
                                            for c in customers]


def test_mysql_errors_do_not_name_the_graders_own_databases(sql: SqlService) -> None:
    with pytest.raises(QueryFailed) as caught:
        sql.query(PUBLIC, "SELECT f.titel FROM film f", filename="q.sql")
    assert "grader_" not in str(caught.value) and "titel" in str(caught.value)
