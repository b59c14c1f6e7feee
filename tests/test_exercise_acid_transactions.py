"""acid_transactions: wrong solutions lose the points of the ACID property they break.

Each variant is the reference solution with one mistake learners make, graded like a submission on
SQLite and (with GRADER_MYSQL_URL) on MariaDB.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from grader.catalog import load
from grader.results import Status
from grader.runner import ServicePool, grade
from grader.services import ServiceOptions

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "acid_transactions" / "orders.py"
MYSQL_URL = os.environ.get("GRADER_MYSQL_URL")

CONDITIONAL_UPDATE = '''            changed = conn.execute(
                "UPDATE products SET stock = stock - ? WHERE product_id = ? AND stock >= ?",
                (wanted[product_id], product_id, wanted[product_id]),
            ).rowcount
'''
READ_THEN_WRITE = '''            stock = conn.execute("SELECT stock FROM products WHERE product_id = ?", (product_id,)).fetchone()[0]
            changed = 1 if stock >= wanted[product_id] else 0
            if changed:
                conn.execute("UPDATE products SET stock = ? WHERE product_id = ?",
                             (stock - wanted[product_id], product_id))
'''
EACH_STATEMENT = '''

def _each(conn, sql, params=()):
    conn.begin()
    result = conn.execute(sql, params)
    conn.commit()
    return result
'''

# name -> (replacements in the reference, how many of the first occurrences (0: all), the checks it must fail)
VARIANTS: dict[str, tuple[list[tuple[str, str, int]], tuple[str, ...]]] = {
    "no transaction at all": (
        [("        conn.begin(immediate=immediate)\n", "", 1)],
        ("Atomicity: an order whose third line", "Atomicity: a failure between two statements",
         "Atomicity: a failure inside transfer"),
    ),
    "a commit after every statement": (
        [("        conn.begin(immediate=immediate)\n", "", 1), ("conn.execute(", "_each(conn, ", 0),
         ("import shopdb\n", "import shopdb\n" + EACH_STATEMENT, 1)],
        ("Atomicity: an order whose third line", "Atomicity: a failure between two statements",
         "Atomicity: a failure inside transfer"),
    ),
    "read, compute, write without a lock": (
        [(CONDITIONAL_UPDATE, READ_THEN_WRITE, 1),
         ("    with transaction() as conn:\n        total = 0", "    with transaction(immediate=False) as conn:\n        total = 0", 1)],
        ("Isolation: customers buying the last units",),
    ),
    "cancel_order begun without the write lock": (
        [("    with transaction() as conn:\n        row = conn.execute(",
          "    with transaction(immediate=False) as conn:\n        row = conn.execute(", 1)],
        ("Isolation: orders and cancellations at the same moment",),
    ),
    "the IntegrityError swallowed": (
        [('            raise InsufficientFunds(f"customer {customer_id} cannot pay {total}") from None\n',
          "            pass\n", 1)],
        ("Consistency: an order the customer cannot pay",),
    ),
    "the report read in two transactions": (
        [("    with transaction(immediate=False) as conn:  # reads only", "    with shopdb.connect() as conn:  # reads only", 1)],
        ("Isolation: the report read while orders and transfers run",),
    ),
}


# On MariaDB cancel_order's SELECT ... FOR UPDATE locks the order's row whatever begin() was told: only SQLite,
# which locks the whole database, needs BEGIN IMMEDIATE there.
SQLITE_ONLY = ("cancel_order begun without the write lock",)


def variant(name: str) -> str:
    text = SOLUTION.read_text()
    for old, new, count in VARIANTS[name][0]:
        assert old in text, f"{name}: the reference no longer holds {old!r}"
        text = text.replace(old, new, count or -1)
    return text


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mysql", marks=pytest.mark.skipif(
    not MYSQL_URL, reason="set GRADER_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306) to grade on MariaDB"))])
def pool(request: pytest.FixtureRequest) -> Iterator[ServicePool]:
    with ServicePool(ServiceOptions(mysql_url=MYSQL_URL if request.param == "mysql" else None)) as services:
        yield services


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_wrong_solution_loses_the_points_of_the_property_it_breaks(name: str, pool: ServicePool,
                                                                     tmp_path: Path) -> None:
    if name in SQLITE_ONLY and pool.options.mysql_url:
        pytest.skip("a mistake only on SQLite")
    (tmp_path / "orders.py").write_text(variant(name))
    result = grade(load(ROOT, "acid_transactions"), tmp_path, pool)
    assert not result.error, result.error
    lost = [t.name for t in result.tests if t.status is not Status.PASSED]
    for check in VARIANTS[name][1]:
        assert any(n.startswith(check) for n in lost), f"{name} keeps '{check}': it lost only {lost}"
    errors = [t for t in result.tests if t.status is Status.ERROR]
    assert not errors, [(t.name, t.output) for t in errors]


def test_a_racy_submission_gets_the_same_result_every_time(pool: ServicePool, tmp_path: Path) -> None:
    """A place_order that reads then writes in one deferred transaction races the other writers of every
    isolation check: the checks' schedule (shopdb's markers, `after`) decides who goes first, not the clock."""
    (tmp_path / "orders.py").write_text(variant("read, compute, write without a lock"))
    exercise = load(ROOT, "acid_transactions")
    seen = {tuple((t.name, t.status) for t in grade(exercise, tmp_path, pool).tests) for _ in range(4)}
    assert len(seen) == 1, [sorted(set(s) - set.intersection(*map(set, seen))) for s in seen]
