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


def test_sqlite_indexes_every_foreign_key_and_the_reference_queries_build_no_index_of_their_own() -> None:
    """InnoDB gives each foreign key an index by itself; SQLite gives none, and a join on one built a
    throwaway index over the child table every time the query ran."""
    import sqlite3

    from fixtures.rentio.schema import TABLES, fk_indexes
    from grader.services.sql.sqlite import _load_bytes, _select_for_sqlite, sqlite_bytes

    conn = sqlite3.connect(":memory:")
    _load_bytes(conn, sqlite_bytes(PUBLIC))
    made = {(t, tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})")))
            for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for _, name, *_ in conn.execute(f"PRAGMA index_list({t})") if name.startswith("idx_fk_")}
    assert made == {(table, columns) for _, table, columns in fk_indexes(TABLES)}
    for table in TABLES:
        for fk in table.foreign_keys:  # each one leads an index: the primary key, a UNIQUE or its own
            assert any(key[: len(fk.columns)] == fk.columns
                       for key in (table.primary_key, *table.unique, *(c for t, c in made if t == table.name))), fk
    for path in sorted((ROOT / "solutions/sql_joins").glob("*.sql")):
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + _select_for_sqlite(path.read_text(), path.name))]
        assert not [step for step in plan if "AUTOMATIC" in step], (path.name, plan)


@needs_mysql
def test_the_foreign_key_indexes_are_those_innodb_makes() -> None:
    import pymysql

    from fixtures.rentio.schema import TABLES, fk_indexes
    from grader.services.sql import MysqlUrl

    url = MysqlUrl.parse(MYSQL_URL)
    conn = pymysql.connect(host=url.host, port=url.port, user=url.user, password=url.password or "", autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS grader_test_fk_indexes")
            cursor.execute("CREATE DATABASE grader_test_fk_indexes")
            cursor.execute("USE grader_test_fk_indexes")
            cursor.execute("SET SESSION foreign_key_checks = 0")
            for statement in PUBLIC.ddl("mysql"):
                cursor.execute(statement)
            cursor.execute("SELECT table_name, index_name, column_name FROM information_schema.statistics "
                           "WHERE table_schema = 'grader_test_fk_indexes' AND non_unique = 1 "
                           "ORDER BY table_name, index_name, seq_in_index")
            columns: dict[tuple[str, str], tuple[str, ...]] = {}
            for table, index, column in cursor.fetchall():
                columns[(table, index)] = (*columns.get((table, index), ()), column)
            cursor.execute("DROP DATABASE grader_test_fk_indexes")
    finally:
        conn.close()
    assert set((t, c) for (t, _), c in columns.items()) == {(t, c) for _, t, c in fk_indexes(TABLES)}


def test_remembered_queries_run_a_learner_query_once_on_each_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """sql_joins checks every question on the public database twice (its visible check, then its hidden
    one): the second check reads what the first run gave, errors included; a service failure is never kept."""
    from grader.errors import ServiceError
    from grader.services.sql import RememberedQueries

    service = make_service(ServiceOptions())
    runs: list[tuple[str, str]] = []
    real = service._impl.query

    def counted(instance, text, **kwargs):
        runs.append((instance.name, text))
        return real(instance, text, **kwargs)

    monkeypatch.setattr(service._impl, "query", counted)
    remembered = RememberedQueries(service)
    text = "SELECT title FROM film ORDER BY film_id LIMIT 3"
    first = remembered.query(PUBLIC, text)
    assert remembered.query(PUBLIC, text) == first and runs == [("public", text)]
    remembered.query(INSTANCES[1], text)
    assert len(runs) == 2
    for _ in range(2):
        with pytest.raises(QueryFailed):
            remembered.query(PUBLIC, "SELECT nope FROM film")
    assert len(runs) == 3
    assert remembered.backend == service.backend  # the rest is the service's own

    def gone(instance, text, **kwargs):
        runs.append((instance.name, text))
        raise ServiceError("the database went away")

    monkeypatch.setattr(service._impl, "query", gone)
    for _ in range(2):
        with pytest.raises(ServiceError):
            remembered.query(PUBLIC, "SELECT 1")
    assert len(runs) == 5


def test_a_sql_joins_grade_runs_each_query_once_per_database(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader import catalog
    from grader.runner import ServicePool, grade
    from grader.services.sql.sqlite import SqliteBackend

    runs: list[tuple[str, str]] = []
    real = SqliteBackend.query

    def counted(self, instance, text, **kwargs):
        runs.append((instance.name, kwargs["filename"]))
        return real(self, instance, text, **kwargs)

    monkeypatch.setattr(SqliteBackend, "query", counted)
    exercise = next(e for e in catalog.load_all(ROOT) if e.slug == "sql_joins")
    with ServicePool() as pool:
        result = grade(exercise, ROOT / "solutions" / "sql_joins", pool)
    assert result.score == result.max_score
    assert len(runs) == len(set(runs)) == 6 * len(INSTANCES), sorted(runs)


# -- the parser loads only when SQL needs it ---------------------------------------------------------

def _run_python(code: str, cache: Path) -> str:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GRADER_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    return done.stdout


TRUSTED = """
import sys
from grader.services.sql import sqlite
print(sqlite._trusted_for_sqlite("SELECT DATEDIFF(d, '2024-01-01') AS days, YEAR(d) FROM t"))
print("sqlglot" in sys.modules)
"""


def test_learner_db_and_the_package_load_no_sql_parser(tmp_path: Path) -> None:
    out = _run_python("import sys, grader.services.sql, grader.services.sql.learner_db\n"
                      "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlglot'))", tmp_path)
    assert out.strip() == "[]"


def test_a_trusted_translation_is_kept_for_the_next_process_which_loads_no_parser(tmp_path: Path) -> None:
    first = _run_python(TRUSTED, tmp_path).splitlines()
    assert first[0].startswith("SELECT CAST(JULIANDAY(DATE(d)) - JULIANDAY(DATE('2024-01-01')) AS INTEGER) AS days")
    assert first[1] == "True"  # translated: the parser loaded
    again = _run_python(TRUSTED, tmp_path).splitlines()
    assert again == [first[0], "False"]  # read back from the cache folder
    # a kept file that does not match its digest is never read: translated again, and right
    kept, = tmp_path.glob("trusted-sqlite-*.marshal")
    import marshal

    kept.write_bytes(marshal.dumps({"SELECT DATEDIFF(d, '2024-01-01') AS days, YEAR(d) FROM t": "DROP TABLE t"}))
    assert _run_python(TRUSTED, tmp_path).splitlines() == [first[0], "True"]


def test_learner_sql_is_never_kept(tmp_path: Path) -> None:
    out = _run_python("""
import marshal
from grader.services.sql import sqlite
from fixtures.rentio import PUBLIC
backend = sqlite.SqliteBackend()
backend.start()
print(backend.query(PUBLIC, "SELECT COUNT(*) FROM film WHERE YEAR(last_update) > 2000", timeout=5, filename="q.sql").rows)
print(sorted(sqlite._read_trusted()))
""", tmp_path).splitlines()
    assert out[1] == "[]"
