"""SQL mutants: each operator makes the mutant it claims, written back as MySQL by sqlglot."""
from __future__ import annotations

import sqlglot

from grader.mutants import sql

QUERY = """
-- films per category
SELECT c.name, COUNT(fc.film_id) AS films, SUM(f.length) AS minutes
FROM category AS c
LEFT JOIN film_category AS fc ON fc.category_id = c.category_id AND fc.film_id > 0
JOIN film AS f ON f.film_id = fc.film_id
WHERE f.length < 60 AND c.name <> 'Music'
GROUP BY c.category_id, c.name
HAVING COUNT(*) >= 3
ORDER BY films DESC, c.name
LIMIT 5
"""


def made(text: str, operator: str) -> dict[str, str]:
    return {m.description: m.text for m in sql.mutants(text) if m.operator == operator}


def same(a: str, b: str) -> bool:
    """Whether two queries are the same tree (formatting aside)."""
    return sqlglot.parse_one(a, read="mysql") == sqlglot.parse_one(b, read="mysql")


def test_join_types_turn_into_each_other() -> None:
    mutants = made(QUERY, "join-type")
    assert set(mutants) == {
        "LEFT JOIN film_category AS fc -> INNER JOIN", "LEFT JOIN film_category AS fc -> RIGHT JOIN",
        "INNER JOIN film AS f -> LEFT JOIN", "INNER JOIN film AS f -> RIGHT JOIN",
    }
    assert "RIGHT JOIN film AS f" in mutants["INNER JOIN film AS f -> RIGHT JOIN"]


def test_comparisons_of_where_and_having_take_every_other_operator() -> None:
    mutants = made(QUERY, "comparison")
    for op in ("=", "<>", "<=", ">", ">="):
        assert f"f.length < 60 -> f.length {op} 60" in mutants
    assert "COUNT(*) >= 3 -> COUNT(*) > 3" in mutants
    assert not any("fc.film_id > 0" in d for d in mutants), "join conditions are the join operators' business"
    assert len(mutants) == 15


def test_literals_are_off_by_one() -> None:
    mutants = made(QUERY, "literal")
    assert set(mutants) == {"60 -> 61", "60 -> 59", "3 -> 4", "3 -> 2"}
    assert "f.length < 59" in mutants["60 -> 59"]


def test_aggregates_swap() -> None:
    mutants = made(QUERY, "aggregate")
    assert {"COUNT(fc.film_id) -> COUNT(*)", "COUNT(fc.film_id) -> COUNT(DISTINCT fc.film_id)",
            "SUM(f.length) -> COUNT(f.length)", "SUM(f.length) -> AVG(f.length)",
            "COUNT(*) -> COUNT(fc.category_id)", "COUNT(*) -> COUNT(c.category_id)"} <= set(mutants)
    assert "HAVING\n  COUNT(fc.category_id) >= 3" in mutants["COUNT(*) -> COUNT(fc.category_id)"]


def test_group_by_loses_a_key_or_groups_by_a_name() -> None:
    mutants = made(QUERY, "group-by")
    assert set(mutants) == {"GROUP BY without c.category_id", "GROUP BY without c.name"}
    assert same(mutants["GROUP BY without c.category_id"], QUERY.replace("GROUP BY c.category_id, c.name", "GROUP BY c.name"))
    lone = made("SELECT c.name, COUNT(*) FROM category AS c GROUP BY c.category_id", "group-by")
    assert list(lone) == ["GROUP BY c.category_id -> GROUP BY c.name"]


def test_distinct_is_added_or_dropped() -> None:
    assert list(made(QUERY, "distinct")) == ["DISTINCT added"]
    assert list(made("SELECT DISTINCT name FROM category", "distinct")) == ["DISTINCT dropped"]


def test_order_by_flips_and_loses_tie_breakers() -> None:
    mutants = made(QUERY, "order-by")
    assert set(mutants) == {"ORDER BY films ASC", "ORDER BY c.name DESC", "tie-breaker c.name dropped from ORDER BY"}
    assert same(mutants["ORDER BY films ASC"], QUERY.replace("films DESC", "films"))
    assert "ORDER BY dropped" in made("SELECT name FROM category ORDER BY name", "order-by")


def test_limit_changes() -> None:
    mutants = made(QUERY, "limit")
    assert set(mutants) == {"LIMIT 5 -> LIMIT 6", "LIMIT 5 -> LIMIT 4", "LIMIT 5 dropped"}
    assert "LIMIT" not in mutants["LIMIT 5 dropped"]


def test_predicates_are_dropped() -> None:
    mutants = made(QUERY, "predicate")
    assert set(mutants) == {
        "WHERE condition f.length < 60 dropped", "WHERE condition c.name <> 'Music' dropped",
        "HAVING condition COUNT(*) >= 3 dropped", "ON condition fc.film_id > 0 dropped",
        "ON condition fc.category_id = c.category_id dropped",
    }
    assert same(mutants["HAVING condition COUNT(*) >= 3 dropped"], QUERY.replace("HAVING COUNT(*) >= 3", ""))


SCRIPT = """
CREATE TABLE a (id INT PRIMARY KEY, name VARCHAR(9) NOT NULL UNIQUE);
CREATE TABLE b (id INT AUTO_INCREMENT PRIMARY KEY, a_id INT, FOREIGN KEY (a_id) REFERENCES a (id)) ENGINE=InnoDB;
INSERT INTO a (id, name) SELECT DISTINCT id, name FROM src;
"""


def test_constraints_and_statements_of_a_script_are_dropped() -> None:
    constraints = made(SCRIPT, "constraint")
    assert set(constraints) == {"PRIMARY KEY of a.id dropped", "UNIQUE of a.name dropped",
                                "PRIMARY KEY of b.id dropped", "FOREIGN KEY (a_id) REFERENCES a (id) of b dropped"}
    assert "FOREIGN KEY" not in constraints["FOREIGN KEY (a_id) REFERENCES a (id) of b dropped"]
    statements = made(SCRIPT, "statement")
    assert list(statements) == ["statement 1 dropped (CREATE TABLE a)", "statement 2 dropped (CREATE TABLE b)",
                                "statement 3 dropped (INSERT INTO a)"]
    assert statements["statement 3 dropped (INSERT INTO a)"].count(";") == 2


def test_every_mutant_parses_differs_and_is_made_once() -> None:
    base = sql.normalize(QUERY)
    mutants = list(sql.mutants(QUERY))
    assert len({m.text for m in mutants}) == len(mutants) > 40
    for mutant in mutants:
        assert sql.check(mutant.text) is None
        assert mutant.text != base


def test_check_names_sql_that_does_not_parse() -> None:
    assert sql.check("SELECT FROM WHERE (") is not None
    assert sql.check("SELECT 1") is None
