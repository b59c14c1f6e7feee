"""Red team of the trusted process: learner SQL and IAM JSON that try to exhaust the grader, and cache poisoning.

Each attack is graded through the real CLI on a copy of a real exercise (the reference solution
with one file made hostile). It must fail as a graded check with a message naming the problem,
the grader must survive (the run ends with exit 1 and a report; where memory is bounded, the cap
that bounds it is what the message names), and the other checks of the same grade still report.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from grader.checks.iam import MAX_POLICY_CHARS, resource_matches
from grader.cli import cli
from grader.services.sql import (
    MAX_NESTING, MAX_RESULT_BYTES, MAX_ROWS, MAX_SQL_BYTES, MAX_STATEMENTS, SQLITE_HEAP_LIMIT, OverLimit, SqlService,
)

ROOT = Path(__file__).resolve().parent.parent
MYSQL_URL = os.environ.get("GRADER_MYSQL_URL")
needs_mysql = pytest.mark.skipif(not MYSQL_URL, reason="set GRADER_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306) to run the MySQL tests")
Q1 = "q1_short_films.sql"


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grade on the embedded backends (SQLite), whatever the environment says."""
    monkeypatch.delenv("GRADER_MYSQL_URL", raising=False)


def submission(tmp_path: Path, slug: str, files: dict[str, str | bytes]) -> Path:
    """A folder holding <slug>/: the reference solution with `files` replaced."""
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions" / slug, folder / slug)
    for name, content in files.items():
        target = folder / slug / name
        target.unlink(missing_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return folder


def grade(folder: Path, *slugs: str, course: Path = ROOT) -> tuple[int, dict[str, Any]]:
    """`grade run SLUGS --path FOLDER --format json` in `course`: the exit code and the report."""
    old = Path.cwd()
    os.chdir(course)
    try:
        result = CliRunner().invoke(cli, ["run", *slugs, "--path", str(folder), "--format", "json"],
                                    env={"GRADER_COURSE_ROOT": str(course)}, catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code in (0, 1), result.output  # graded: never a grader failure (3)
    return result.exit_code, json.loads(result.stdout)


def checks(report: dict[str, Any], slug: str) -> dict[str, dict[str, Any]]:
    """The checks of one exercise in a report, by name."""
    (exercise,) = [e for e in report["exercises"] if e["exercise"] == slug]
    assert not exercise["error"], exercise["error"]
    return {t["name"]: t for t in exercise["tests"]}


def only_failure(report: dict[str, Any], slug: str, prefix: str) -> str:
    """The output of the first failed check; only checks whose names start with `prefix` failed (a
    question's check on the public database and its hidden one on every database), every other passed."""
    found = checks(report, slug)
    statuses = {name: t["status"] for name, t in found.items()}
    failed = [name for name, status in statuses.items() if status != "passed"]
    assert failed and all(name.startswith(prefix) for name in failed), statuses
    assert all(found[name]["status"] == "failed" for name in failed)  # graded failures, never an "error"
    return found[failed[0]]["output"]


# --- learner SQL -------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "message"), [
    pytest.param("SELECT a.rental_id, b.rental_id FROM rental a, rental b",
                 f"more than {MAX_ROWS:,} rows", id="cross-join-rows"),
    pytest.param("SELECT ZEROBLOB(200000), rental_id FROM rental",
                 f"grew past {MAX_RESULT_BYTES // 1_000_000} MB", id="wide-values-bytes"),
    pytest.param("WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, CONCAT(s, s) FROM r WHERE n < 40) "
                 "SELECT n, LENGTH(s) FROM r JOIN film ON film.film_id = r.n",
                 # Python 3.10 has no Connection.setlimit: the heap limit stops the string instead
                 "grew beyond 1,000,000 bytes" if sys.version_info >= (3, 11) else "more than 256 MB of memory",
                 id="doubling-string-length"),
])
def test_a_query_that_would_grow_the_grader_stops_at_a_cap(embedded: None, tmp_path: Path, query: str, message: str) -> None:
    # before: the wide values took the grader to 3.2 GB, the doubling string to 3.2 GB for 26 s
    code, report = grade(submission(tmp_path, "sql_joins", {Q1: query}), "sql_joins")
    assert code == 1
    output = only_failure(report, "sql_joins", "q1")
    assert output.startswith(f"{Q1}: ") and message in output, output


def test_a_query_that_needs_more_memory_than_the_heap_limit_is_stopped() -> None:
    # a sort of a cross join held in memory (temp_store=MEMORY), with time enough to reach the heap limit
    from fixtures.rentio import PUBLIC

    sql = SqlService()
    sql.start()
    try:
        with pytest.raises(OverLimit, match=f"more than {SQLITE_HEAP_LIMIT // 2**20} MB of memory"):
            sql.query(PUBLIC, "SELECT DISTINCT a.description, b.description FROM film a, film b, film c "
                              "ORDER BY 1, 2", timeout=600)
        # the connection is not damaged by running out of memory: the next query runs
        assert sql.query(PUBLIC, "SELECT COUNT(*) FROM film").rows == ((1000,),)
    finally:
        sql.stop()


@pytest.mark.parametrize(("content", "message"), [
    pytest.param("SELECT title, length FROM film WHERE length < 60\n" + "-- padding\n" * 20_000,
                 f"the grader reads files of at most {MAX_SQL_BYTES:,} bytes", id="oversized-file"),
    pytest.param(b"SELECT title, length FROM film -- caf\xe9\nWHERE length < 60 ORDER BY length, title",
                 "is not UTF-8 text: the byte 0xe9 at line 1, column 38", id="not-utf8"),
    pytest.param("SELECT title, length FROM film WHERE length < " + "(" * 5000 + "60" + ")" * 5000,
                 f"nested more than {MAX_NESTING} deep", id="deep-nesting"),
])
def test_a_malformed_sql_file_is_a_graded_failure(embedded: None, tmp_path: Path, content: str | bytes, message: str) -> None:
    # before: invalid UTF-8 and deep nesting were "exercise errors" on every check
    code, report = grade(submission(tmp_path, "sql_joins", {Q1: content}), "sql_joins")
    assert code == 1
    assert message in only_failure(report, "sql_joins", "q1")


def test_a_sql_file_that_links_to_the_solution_is_not_read(embedded: None, tmp_path: Path) -> None:
    folder = submission(tmp_path, "sql_joins", {})
    (folder / "sql_joins" / Q1).unlink()
    (folder / "sql_joins" / Q1).symlink_to(ROOT / "solutions" / "sql_joins" / Q1)
    code, report = grade(folder, "sql_joins")
    assert code == 1
    # the sandbox's copy of the submission leaves links out; read directly, the file is refused
    output = only_failure(report, "sql_joins", "q1")
    assert f"{Q1} is a symbolic link" in output or f"{Q1} is missing" in output, output


def test_a_script_of_many_statements_is_refused_before_it_runs(embedded: None, tmp_path: Path) -> None:
    # before: 100,000 one-row INSERTs held the grader for 275 s at 500 MB
    reference = (ROOT / "solutions" / "normalize_obt" / "normalize.sql").read_text(encoding="utf-8")
    script = reference + "\nCREATE TABLE filler (n INT);\n" + "INSERT INTO filler (n) VALUES (1);\n" * 2_000
    code, report = grade(submission(tmp_path, "normalize_obt", {"normalize.sql": script}), "normalize_obt")
    assert code == 1
    found = checks(report, "normalize_obt")
    assert all(t["status"] == "failed" for t in found.values())
    keys = found["customers, products and orders exist, each with a primary key"]["output"]
    assert f"holds 2,007 statements; the grader runs at most {MAX_STATEMENTS}" in keys


def test_the_checks_own_queries_on_a_learners_huge_table_stop_at_the_cap(embedded: None, tmp_path: Path) -> None:
    reference = (ROOT / "solutions" / "normalize_obt" / "normalize.sql").read_text(encoding="utf-8")
    script = reference + (";\nINSERT INTO orders (customer_id, product_id, order_date_time, order_amount) "
                          "SELECT a.customer_id, a.product_id, a.order_date_time, a.order_amount "
                          "FROM orders a, orders b LIMIT 150000;\n")
    code, report = grade(submission(tmp_path, "normalize_obt", {"normalize.sql": script}), "normalize_obt")
    assert code == 1
    found = checks(report, "normalize_obt")
    lossless = found["joining the tables back gives exactly the rows of orders_obt"]
    assert lossless["status"] == "failed"
    assert lossless["output"].startswith("Checking your tables: the grader's query returned more than")
    # the checks whose queries stayed within the caps still report on their own
    assert found["customers, products and orders exist, each with a primary key"]["status"] == "passed"
    assert found["orders has enforced foreign keys to customers and products"]["status"] == "passed"


@needs_mysql
def test_mysql_reads_a_cross_join_unbuffered_and_stops_at_the_row_cap() -> None:
    # before: pymysql's buffered cursor read the whole result into the grader (353 MB for REPEAT in 6 s)
    from fixtures.rentio import PUBLIC

    sql = SqlService(MYSQL_URL)
    sql.start()
    try:
        with pytest.raises(OverLimit, match=f"more than {MAX_ROWS:,} rows"):
            sql.query(PUBLIC, "SELECT a.rental_id, b.rental_id, a.rental_date FROM rental a, rental b", timeout=60)
        with pytest.raises(OverLimit, match="grew past"):
            sql.query(PUBLIC, "SELECT REPEAT('x', 1000000), rental_id FROM rental", timeout=60)
        assert sql.query(PUBLIC, "SELECT COUNT(*) FROM film", timeout=10).rows == ((1000,),)
    finally:
        sql.stop()


def test_other_exercises_of_the_run_still_report(embedded: None, tmp_path: Path) -> None:
    folder = submission(tmp_path, "sql_joins", {Q1: "SELECT a.rental_id, b.rental_id FROM rental a, rental b"})
    shutil.copytree(ROOT / "solutions" / "iam_policy", folder / "iam_policy")
    code, report = grade(folder, "sql_joins", "iam_policy")
    assert code == 1
    assert all(t["status"] == "passed" for t in checks(report, "iam_policy").values())
    assert "more than" in only_failure(report, "sql_joins", "q1")


# --- IAM policies --------------------------------------------------------------------------------

VALID = "policy.json is valid JSON and a valid IAM policy"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def graded_policy(tmp_path: Path, content: str | bytes, course: Path = ROOT) -> dict[str, dict[str, Any]]:
    code, report = grade(submission(tmp_path, "iam_policy", {"policy.json": content}), "iam_policy", course=course)
    assert code == 1
    found = checks(report, "iam_policy")
    assert all(t["status"] == "failed" for t in found.values()), {n: t["status"] for n, t in found.items()}
    return found


def test_a_policy_over_aws_size_limit_is_refused_with_aws_message(tmp_path: Path) -> None:
    # before: a 100,000-statement policy held IAM grading for over 300 s at 345 MB
    statements = [{"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b{i}/*"}
                  for i in range(120)]
    text = policy(*statements)
    assert len("".join(text.split())) > MAX_POLICY_CHARS
    found = graded_policy(tmp_path, text)
    assert "Cannot exceed quota for PolicySize: 6144" in found[VALID]["output"]
    assert all("needs a policy.json that parses" in t["output"] for name, t in found.items() if name != VALID)


@pytest.mark.parametrize(("content", "message"), [
    pytest.param(policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "x" * 2_000_000}),
                 "the grader reads files of at most 131,072 bytes", id="two-megabytes"),
    pytest.param(b'{"Version": "2012-10-17", "Statement": [{"Sid": "Caf\xe9", "Effect": "Allow"}]}',
                 "is not UTF-8 text: the byte 0xe9 at line 1, column 53", id="not-utf8"),
])
def test_an_unreadable_policy_file_fails_every_check_with_the_reason(tmp_path: Path, content: str | bytes, message: str) -> None:
    # before: invalid UTF-8 was an "exercise error" on every check
    found = graded_policy(tmp_path, content)
    assert all(message in t["output"] for t in found.values())


def test_deeply_nested_json_is_a_graded_failure(tmp_path: Path) -> None:
    # before: RecursionError, an "exercise error" on every check
    found = graded_policy(tmp_path, "[" * 3000 + "]" * 3000)
    assert "the JSON nests objects and lists 3000 levels deep (line 1)" in found[VALID]["output"]


def test_wildcards_match_in_linear_time() -> None:
    # before: one match of this pattern against a short ARN took 326 s (10 pairs); 40 pairs never end
    arn = "arn:aws:s3:::de-c2w1-raw/landing/2024/01/15/orders-0001.json"
    assert not resource_matches("arn:aws:s3:::" + "*?" * 40 + "X", arn)
    assert resource_matches("arn:aws:s3:::" + "*?" * 20 + "n", arn)


def test_a_policy_too_slow_to_check_stops_at_the_deadline(tmp_path: Path) -> None:
    course = tmp_path / "course"
    for part in ("exercises/iam_policy", "solutions/iam_policy", "tests/hidden/iam_policy", "fixtures"):
        shutil.copytree(ROOT / part, course / part, ignore=shutil.ignore_patterns("__pycache__"))
    toml = course / "exercises/iam_policy/exercise.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("timeout = 5", "timeout = 1"), encoding="utf-8")
    # within AWS's size limit, but every request meets every statement: seconds of CPU to probe
    text = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "NotResource": f"arn:aws:s3:::n{i}"} for i in range(90)
    ]}, separators=(",", ":"))
    assert len(text) < MAX_POLICY_CHARS
    code, report = grade(submission(tmp_path, "iam_policy", {"policy.json": text}), "iam_policy", course=course)
    assert code == 1
    found = checks(report, "iam_policy")
    over = found["the policy allows nothing beyond what the job needs"]
    assert over["status"] == "failed"
    assert over["output"].startswith("Checking the policy took longer than 1 s and was stopped.")
    assert found[VALID]["status"] == "passed"  # the checks that finish in time report as usual
    assert found['no "Action": "*", no "Resource": "*", no Allow with NotAction or NotResource']["status"] == "failed"


# --- the shared database cache ---------------------------------------------------------------------

EMPTY_THE_CACHE = '''
import pathlib

for path in pathlib.Path({folder!r}).glob("*"):
    try:
        path.write_bytes(b"")
    except OSError:
        pass

{solution}
'''


def test_a_submission_that_empties_the_cache_cannot_make_a_wrong_answer_pass(
    embedded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: a log_parsing submission emptied the cached databases; a wrong sql_joins answer then scored 20/20
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(cache))
    wrong = {name.name: "SELECT title, length FROM film WHERE 1 = 0"
             for name in (ROOT / "solutions" / "sql_joins").glob("*.sql")}
    first = submission(tmp_path / "first", "sql_joins", wrong)
    code, report = grade(first, "sql_joins")
    assert code == 1 and report["score"] == 0
    files = sorted(p for p in cache.iterdir() if p.suffix == ".sqlite")
    assert files
    solution = (ROOT / "solutions/log_parsing/parse_logs.py").read_text(encoding="utf-8")
    attack = submission(tmp_path / "attack", "log_parsing",
                        {"parse_logs.py": EMPTY_THE_CACHE.format(folder=str(cache), solution=solution)})
    grade(attack, "log_parsing")
    code, report = grade(first, "sql_joins")
    assert code == 1 and report["score"] == 0
    for path in files:  # whatever the attack managed, the cache holds intact databases again
        digest = (cache / (path.name + ".sha256")).read_text(encoding="ascii")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest and path.stat().st_size > 0


def test_the_cache_is_private_to_the_graders_user(embedded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(cache))
    code, _ = grade(submission(tmp_path, "sql_joins", {}), "sql_joins")
    assert code == 0
    assert cache.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in cache.iterdir()} == {0o600}


def test_a_cache_folder_someone_else_made_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a folder that belongs to another user needs root")
    from grader.services.cache import cache_dir

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("GRADER_CACHE_DIR", raising=False)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    planted = tmp_path / "dataeng-grader"
    planted.mkdir(mode=0o777)
    os.chown(planted, 65534, 65534)
    chosen = cache_dir()
    assert chosen == tmp_path / f"dataeng-grader-{os.getuid()}"
    assert chosen.stat().st_mode & 0o777 == 0o700 and chosen.stat().st_uid == os.getuid()
    assert planted.stat().st_uid == 65534  # the planted folder is left as it was
