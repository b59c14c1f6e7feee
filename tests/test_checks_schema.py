"""Schema checks on hand-made good and bad normalizations of orders_obt, on SQLite (and MySQL when given)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from fixtures.orders_obt import HIDDEN, COLUMNS, CUSTOMER_ATTRIBUTES, CUSTOMER_KEY, PRODUCT_ATTRIBUTES, PRODUCT_KEY, PUBLIC, TABLE
from grader.checks.schema import Entity, check_foreign_key, check_lossless, check_primary_keys, check_redundancy
from grader.services.sql import QueryFailed, SqlService

ROOT = Path(__file__).resolve().parent.parent
MYSQL_URL = os.environ.get("GRADER_MYSQL_URL")
GOOD = (ROOT / "solutions/normalize_obt/normalize.sql").read_text()
ENTITIES = (Entity("customers", CUSTOMER_KEY, CUSTOMER_ATTRIBUTES), Entity("products", PRODUCT_KEY, PRODUCT_ATTRIBUTES))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mysql", marks=pytest.mark.skipif(
    not MYSQL_URL, reason="set GRADER_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306) to run the MySQL tests"))])
def sql(request: pytest.FixtureRequest) -> Iterator[SqlService]:
    service = SqlService(MYSQL_URL if request.param == "mysql" else None)
    service.start()
    yield service
    service.stop()


def _run(sql: SqlService, script: str, instance=PUBLIC):  # -> context manager of a session with the script applied
    class Applied:
        def __enter__(self):
            self.cm = sql.session(instance, protected=[TABLE])
            db = self.cm.__enter__()
            db.run_script(script, filename="normalize.sql")
            return db

        def __exit__(self, *exc):
            return self.cm.__exit__(*exc)

    return Applied()


def test_the_reference_schema_passes_every_check(sql: SqlService) -> None:
    with _run(sql, GOOD) as db:
        assert check_primary_keys(db, ("customers", "products", "orders")) is None
        assert check_foreign_key(db, "orders", "customers") is None
        assert check_foreign_key(db, "orders", "products") is None
        assert check_redundancy(db, ENTITIES, source=TABLE) is None
        assert check_lossless(db, "orders", COLUMNS, PUBLIC.rows()) is None


def test_a_missing_primary_key_is_named(sql: SqlService) -> None:
    script = GOOD.replace("order_id INT AUTO_INCREMENT PRIMARY KEY,", "order_id INT,").replace(
        "INSERT INTO orders (customer_id", "INSERT INTO orders (customer_id")
    with _run(sql, script) as db:
        assert check_primary_keys(db, ("customers", "products", "orders")) == (
            "The table orders has no primary key. Declare one: PRIMARY KEY (...).")


def test_a_foreign_key_declared_but_not_enforceable_is_caught(sql: SqlService) -> None:
    # customers keyed by (name, phone); orders.customer_id references a column that is neither key nor unique
    script = GOOD.replace("customer_id INT AUTO_INCREMENT PRIMARY KEY,", "customer_id INT NOT NULL, KEY (customer_id),").replace(
        "UNIQUE (customer_name, customer_phone)", "PRIMARY KEY (customer_name, customer_phone)").replace(
        "INSERT INTO customers (customer_name,", "INSERT INTO customers (customer_id, customer_name,").replace(
        "SELECT DISTINCT customer_name, customer_phone, customer_address FROM orders_obt",
        "SELECT DISTINCT 1, customer_name, customer_phone, customer_address FROM orders_obt")
    if sql.backend == "sqlite":  # SQLite refuses to use such a key: the learner sees it while filling orders
        with pytest.raises(QueryFailed, match="foreign key mismatch"):
            with _run(sql, script):
                pass
        return
    # a MyISAM table accepts FOREIGN KEY clauses in its CREATE TABLE and drops them: the engine is the cause
    head, _, tail = GOOD.rpartition(") ENGINE=InnoDB;")
    script = head + ") ENGINE=MyISAM;" + tail
    with _run(sql, script) as db:
        message = check_foreign_key(db, "orders", "customers")
    assert message is not None and message.startswith(
        "orders uses MyISAM, a storage engine that cannot hold foreign keys: the server accepts FOREIGN KEY")
    assert "Leave out ENGINE=MyISAM: InnoDB, the default, keeps and enforces foreign keys." in message


@pytest.mark.skipif(not MYSQL_URL, reason="set GRADER_MYSQL_URL to run the MySQL tests")
def test_myisam_tables_are_named_as_the_cause_when_the_script_stops(tmp_path: Path) -> None:
    """MariaDB refuses an InnoDB foreign key to a MyISAM table ("errno: 150"): the grade says why."""
    from grader import catalog
    from grader.results import Status
    from grader.runner import ServicePool, grade
    from grader.services import ServiceOptions

    (tmp_path / "normalize.sql").write_text(GOOD.replace(") ENGINE=InnoDB;", ") ENGINE=MyISAM;", 2))
    (exercise,) = catalog.select(ROOT, ["normalize_obt"])
    with ServicePool(ServiceOptions(mysql_url=MYSQL_URL)) as pool:
        result = grade(exercise, tmp_path, pool)
    keys = result.tests[0]
    assert keys.status is Status.FAILED and "errno: 150" in keys.output
    assert "customers uses MyISAM, products uses MyISAM, a storage engine that cannot hold foreign keys" in keys.output


def test_product_attributes_copied_into_orders_are_redundant(sql: SqlService) -> None:
    script = GOOD.replace("order_amount DECIMAL(8,2) NOT NULL,", "order_amount DECIMAL(8,2) NOT NULL,\n  product_brand VARCHAR(40),").replace(
        "INSERT INTO orders (customer_id, product_id, order_date_time, order_amount)\nSELECT c.customer_id, p.product_id, o.order_date_time, o.order_amount",
        "INSERT INTO orders (customer_id, product_id, order_date_time, order_amount, product_brand)\n"
        "SELECT c.customer_id, p.product_id, o.order_date_time, o.order_amount, o.product_brand")
    with _run(sql, script) as db:
        message = check_redundancy(db, ENTITIES, source=TABLE)
    assert message == ("product_brand is stored in orders as well as in products: keep each attribute in one "
                       "table and reach it through the foreign key.")


def test_a_customer_stored_twice_is_redundant(sql: SqlService) -> None:
    script = GOOD.replace("UNIQUE (customer_name, customer_phone)", "order_marker INT").replace(
        "SELECT DISTINCT customer_name, customer_phone, customer_address FROM orders_obt",
        "SELECT customer_name, customer_phone, customer_address FROM orders_obt").replace(
        "JOIN customers AS c ON c.customer_name = o.customer_name AND c.customer_phone = o.customer_phone",
        "JOIN (SELECT MIN(customer_id) AS customer_id, customer_name, customer_phone FROM customers "
        "GROUP BY customer_name, customer_phone) AS c ON c.customer_name = o.customer_name AND c.customer_phone = o.customer_phone")
    with _run(sql, script) as db:
        message = check_redundancy(db, ENTITIES, source=TABLE)
    assert message is not None and message.startswith("customers stores the same customer_name, customer_phone more than once")


def test_a_lossy_split_is_caught(sql: SqlService) -> None:
    # customers identified by name only: customers who share a name collapse, orders multiply in the join
    script = GOOD.replace("JOIN customers AS c ON c.customer_name = o.customer_name AND c.customer_phone = o.customer_phone",
                          "JOIN customers AS c ON c.customer_name = o.customer_name")
    with _run(sql, script, HIDDEN[0]) as db:
        message = check_lossless(db, "orders", COLUMNS, HIDDEN[0].rows())
    assert message is not None and "the split is lossy" in message
    assert "Every original row is there, and some more than once" in message


def test_orders_matched_on_name_and_address_multiply_for_namesakes_at_one_address(sql: SqlService) -> None:
    """A customer is its name and phone: two of one name live at one address in the hidden data."""
    script = GOOD.replace("JOIN customers AS c ON c.customer_name = o.customer_name AND c.customer_phone = o.customer_phone",
                          "JOIN customers AS c ON c.customer_name = o.customer_name "
                          "AND c.customer_address = o.customer_address")
    with _run(sql, script, HIDDEN[0]) as db:
        message = check_lossless(db, "orders", COLUMNS, HIDDEN[0].rows())
    assert message is not None and "0 original rows are lost" in message
    assert "found more than one row of a table it refers to" in message


def test_a_lossy_split_names_the_columns_that_came_back_wrong(sql: SqlService) -> None:
    # customers keyed by name only: each order of a namesake comes back with another namesake's phone and address
    script = (GOOD.replace("SELECT DISTINCT customer_name, customer_phone, customer_address FROM orders_obt;",
                           "SELECT customer_name, MIN(customer_phone), MIN(customer_address) FROM orders_obt "
                           "GROUP BY customer_name;")
              .replace("JOIN customers AS c ON c.customer_name = o.customer_name AND c.customer_phone = o.customer_phone",
                       "JOIN customers AS c ON c.customer_name = o.customer_name"))
    with _run(sql, script, HIDDEN[0]) as db:
        message = check_lossless(db, "orders", COLUMNS, HIDDEN[0].rows())
    assert message is not None
    assert message.endswith("differ from original rows only in customer_address, customer_phone: check how orders "
                            "finds the row it refers to (what identifies it).")
