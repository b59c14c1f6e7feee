"""Hidden tests of normalize_obt: the learner's script run on fresh copies of the public and hidden OBTs."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from fixtures.orders_obt import (
    COLUMNS, CUSTOMER_ATTRIBUTES, CUSTOMER_KEY, HIDDEN, PROBES, PRODUCT_ATTRIBUTES, PRODUCT_KEY, PUBLIC, TABLE,
    ObtInstance,
)
from grader.checks.schema import (
    Entity, check_foreign_key, check_lossless, check_primary_keys, check_redundancy, engine_problem,
)
from grader.services.sql import EmptyQuery, SqlError, read_learner_sql

FILENAME = "normalize.sql"
ENTITIES = (Entity("customers", CUSTOMER_KEY, CUSTOMER_ATTRIBUTES), Entity("products", PRODUCT_KEY, PRODUCT_ATTRIBUTES))
CHECKS = ("keys", "foreign_keys", "redundancy", "lossless")
DUPLICATE_KEY_WORDS = ("UNIQUE constraint failed", "Duplicate entry")  # SQLite's and MySQL's words
_OUTCOMES: dict[tuple[str, str, str], dict[str, str | None]] = {}


def _bounded(check: Callable[[], str | None]) -> str | None:
    """A check's feedback; its own queries on the learner's tables are bounded, and going over a bound fails it."""
    try:
        return check()
    except SqlError as exc:
        return str(exc)


def _grade(db: Any, instance: ObtInstance) -> dict[str, str | None]:
    keys = _bounded(lambda: check_primary_keys(db, ("customers", "products", "orders")))
    if keys:
        return dict.fromkeys(CHECKS, keys)
    return {
        "keys": None,
        "foreign_keys": _bounded(lambda: check_foreign_key(db, "orders", "customers")
                                 or check_foreign_key(db, "orders", "products")),
        "redundancy": _bounded(lambda: check_redundancy(db, ENTITIES, source=TABLE)),
        "lossless": _bounded(lambda: check_lossless(db, "orders", COLUMNS, instance.rows())),
    }


def outcomes(sql: Any, exercise: Any, workspace: Path, instance: ObtInstance) -> dict[str, str | None]:
    """Every check's feedback for the learner's script on `instance`, run once per grade."""
    path = workspace / FILENAME
    try:
        text = read_learner_sql(path, filename=FILENAME) if path.exists() else ""
    except SqlError as exc:  # too large, or not UTF-8
        return dict.fromkeys(CHECKS, str(exc))
    key = (sql.backend, instance.key, text)
    if key not in _OUTCOMES:
        with sql.session(instance, timeout=exercise.timeout, protected=[TABLE]) as db:
            try:
                db.run_script(text, filename=FILENAME)
            except EmptyQuery as exc:  # nothing written yet: every check says so, and the report folds them
                _OUTCOMES[key] = dict.fromkeys(CHECKS, str(exc))
            except SqlError as exc:
                message = str(exc)
                if any(word in message for word in DUPLICATE_KEY_WORDS):
                    message += ("\nA primary key (or UNIQUE column) must be unique in the rows you insert: one "
                                "customer can buy the same product more than once, and two customers can share "
                                "a name.")
                if "foreign key" in message.lower():
                    engines = engine_problem(db, db.tables())
                    message += f"\n{engines}" if engines else ""
                stopped = f"Not checked: {FILENAME} did not run to the end (see the check on primary keys)."
                _OUTCOMES[key] = {"keys": message, **dict.fromkeys(CHECKS[1:], stopped)}
            else:
                _OUTCOMES[key] = _grade(db, instance)
    return _OUTCOMES[key]


@pytest.mark.points(3)
def test_tables_have_primary_keys(sql, exercise, workspace: Path) -> None:
    """customers, products and orders exist, each with a primary key"""
    problem = outcomes(sql, exercise, workspace, PUBLIC)["keys"]
    assert problem is None, problem


@pytest.mark.points(3)
@pytest.mark.hint("Declare FOREIGN KEY (...) REFERENCES customers (...) as a table constraint of orders.")
def test_foreign_keys_are_enforced(sql, exercise, workspace: Path) -> None:
    """orders has enforced foreign keys to customers and products"""
    problem = outcomes(sql, exercise, workspace, PUBLIC)["foreign_keys"]
    assert problem is None, problem


@pytest.mark.points(3)
@pytest.mark.hint("A customer is identified by name and phone, a product by SKU.")
def test_no_redundancy(sql, exercise, workspace: Path) -> None:
    """each customer and each product stored once, attributes in one table"""
    problem = outcomes(sql, exercise, workspace, PUBLIC)["redundancy"]
    assert problem is None, problem


@pytest.mark.points(3)
def test_lossless(sql, exercise, workspace: Path) -> None:
    """joining the tables back gives exactly the rows of orders_obt"""
    problem = outcomes(sql, exercise, workspace, PUBLIC)["lossless"]
    assert problem is None, problem


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
@pytest.mark.hint("Two customers can share a name; one customer can buy the same product twice.")
def test_works_on_hidden_tables(sql, exercise, workspace: Path, probe: bool) -> None:
    """the same script works on hidden orders_obt tables"""
    for instance in HIDDEN + (PROBES if probe else ()):  # probe: wider data for `grade validate --mutants`
        for check, problem in outcomes(sql, exercise, workspace, instance).items():
            assert problem is None, f"On a hidden orders_obt table ({check}): {problem}"
