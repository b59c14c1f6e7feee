"""MySQL templates: built once per instance, reused, rebuilt when damaged, safe under concurrency; no run leftovers."""
from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from fixtures.orders_obt import PUBLIC as OBT
from fixtures.rentio import PUBLIC as RENTIO
from grader.services.sql import TEMPLATE_MARKER, MysqlBackend, SqlService, template_name

MYSQL_URL = os.environ.get("GRADER_MYSQL_URL")
pytestmark = pytest.mark.skipif(
    not MYSQL_URL, reason="set GRADER_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306) to run the MySQL template tests"
)


@dataclass(frozen=True)
class PrivateCopy:
    """A real instance under a key of its own, so these tests own its template and nobody else's."""

    base: Any
    suffix: str

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def public(self) -> bool:
        return self.base.public

    @property
    def key(self) -> str:
        return f"{self.base.key}-t{self.suffix}"

    def ddl(self, backend: str) -> list[str]:
        return self.base.ddl(backend)

    def tables(self) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
        return self.base.tables()


def _admin() -> Any:
    backend = MysqlBackend(str(MYSQL_URL))
    return backend._connect(backend.url.user, backend.url.password)


def _scalar(sql: str, *args: Any) -> Any:
    conn = _admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, args or None)
            row = cursor.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def _execute(*statements: str) -> None:
    conn = _admin()
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def _run_databases(run_id: str) -> int:
    return _scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s", f"grader\\_{run_id}\\_%")


def _built_by(instance: PrivateCopy) -> str | None:
    return _scalar(f"SELECT value FROM `{template_name(instance)}`.`{TEMPLATE_MARKER}` WHERE item = 'built_by'")


@pytest.fixture
def obt() -> Iterator[PrivateCopy]:
    instance = PrivateCopy(OBT, secrets.token_hex(3))
    yield instance
    _execute(f"DROP DATABASE IF EXISTS `{template_name(instance)}`")


@pytest.fixture
def rentio() -> Iterator[PrivateCopy]:
    instance = PrivateCopy(RENTIO, secrets.token_hex(3))
    yield instance
    _execute(f"DROP DATABASE IF EXISTS `{template_name(instance)}`")


def _grade(instance: PrivateCopy, text: str) -> tuple[MysqlBackend, tuple[tuple[Any, ...], ...]]:
    """Start a service, run one query on `instance`, stop; the backend (for what it built) and the rows."""
    service = SqlService(MYSQL_URL)
    service.start()
    try:
        return service._impl, service.query(instance, text).rows
    finally:
        service.stop()


def test_a_second_run_reuses_the_template_and_sees_the_same_rows(rentio: PrivateCopy) -> None:
    text = "SELECT COUNT(*), SUM(amount) FROM payment"
    first, rows = _grade(rentio, text)
    assert first.templates_built == [template_name(rentio)]
    second, again = _grade(rentio, text)
    assert second.templates_built == []
    assert _built_by(rentio) == first.run_id
    payments = dict((t, r) for t, _, r in RENTIO.tables())["payment"]
    assert rows == again
    assert rows[0][0] == len(payments)
    assert rows[0][1] == pytest.approx(sum(float(p[4]) for p in payments))


def test_a_run_copy_keeps_the_foreign_keys_of_the_schema(rentio: PrivateCopy) -> None:
    service = SqlService(MYSQL_URL)
    service.start()
    try:
        with service.session(rentio) as db:
            assert sorted(db.foreign_keys("film_category")) == [
                (("category_id",), "category", ("category_id",)), (("film_id",), "film", ("film_id",)),
            ]
            assert db.probe_insert("INSERT INTO film_category VALUES (1, 424242, NOW())") == "foreign_key"
            rentals = dict((t, r) for t, _, r in RENTIO.tables())["rental"]
            assert db.query("SELECT COUNT(*) FROM rental").rows == ((len(rentals),),)
    finally:
        service.stop()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda tpl: [f"DELETE FROM `{tpl}`.orders_obt LIMIT 7"], id="rows-missing"),
        pytest.param(lambda tpl: [f"DROP TABLE `{tpl}`.`{TEMPLATE_MARKER}`"], id="half-built-no-marker"),
        pytest.param(lambda tpl: [f"UPDATE `{tpl}`.`{TEMPLATE_MARKER}` SET value = '0' WHERE item = 'format'"], id="old-format"),
        pytest.param(lambda tpl: [f"UPDATE `{tpl}`.`{TEMPLATE_MARKER}` SET value = 'x' WHERE item = 'instance_key'"],
                     id="other-generator-version"),
        pytest.param(lambda tpl: [f"DROP TABLE `{tpl}`.orders_obt"], id="table-dropped"),
    ],
)
def test_a_stale_or_damaged_template_is_rebuilt(obt: PrivateCopy, damage: Any) -> None:
    text = "SELECT COUNT(*), COUNT(DISTINCT customer_name) FROM orders_obt"
    first, rows = _grade(obt, text)
    assert first.templates_built == [template_name(obt)]
    _execute(*damage(template_name(obt)))
    second, again = _grade(obt, text)
    assert second.templates_built == [template_name(obt)]
    assert _built_by(obt) == second.run_id
    assert again == rows == ((len(OBT.rows()), len({r[0] for r in OBT.rows()})),)


def test_runs_racing_on_a_missing_template_build_it_once_and_never_copy_it_half_built(rentio: PrivateCopy) -> None:
    services = [SqlService(MYSQL_URL) for _ in range(3)]
    for service in services:
        service.start()
    rows: list[tuple[tuple[Any, ...], ...]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(services))

    def run(service: SqlService) -> None:
        barrier.wait()
        try:
            rows.append(service.query(rentio, "SELECT COUNT(*), SUM(amount) FROM payment").rows)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(service,)) for service in services]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for service in services:
            service.stop()
    assert errors == []
    assert sorted(len(service._impl.templates_built) for service in services) == [0, 0, 1]
    payments = dict((t, r) for t, _, r in RENTIO.tables())["payment"]
    assert len(set(rows)) == 1 and rows[0][0][0] == len(payments)


def test_stop_leaves_no_run_database_or_user_behind(obt: PrivateCopy) -> None:
    service = SqlService(MYSQL_URL)
    service.start()
    backend = service._impl
    service.query(obt, "SELECT 1 FROM orders_obt LIMIT 1")
    with service.session(obt) as db:
        db.run_script("CREATE TABLE brand (name VARCHAR(40) PRIMARY KEY)", filename="s.sql")
        assert _run_databases(backend.run_id) == 2
    assert _scalar("SELECT COUNT(*) FROM mysql.user WHERE user = %s", backend.user) == 1
    service.stop()
    assert _run_databases(backend.run_id) == 0
    assert _scalar("SELECT COUNT(*) FROM mysql.user WHERE user = %s", backend.user) == 0
    assert _scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", template_name(obt)) == 1


def test_the_learner_cannot_read_the_template() -> None:
    service = SqlService(MYSQL_URL)
    service.start()
    try:
        from grader.services.sql import NotAllowed, QueryFailed

        with pytest.raises((NotAllowed, QueryFailed)) as caught:
            service.query(RENTIO, f"SELECT COUNT(*) FROM `{template_name(RENTIO)}`.film", filename="q.sql")
        assert "denied" in str(caught.value).lower()
    finally:
        service.stop()


def test_a_run_that_died_without_stop_is_cleaned_up_by_a_later_run_and_a_live_one_is_not(
    obt: PrivateCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grader.services.sql.mysql as sql_mysql

    live, dead = SqlService(MYSQL_URL), SqlService(MYSQL_URL)
    for service in (live, dead):
        service.start()
        service.query(obt, "SELECT 1 FROM orders_obt LIMIT 1")
    dead_run = dead._impl.run_id
    for conn in (dead._impl._admin, *dead._impl._copiers):  # the process is killed: its connections close
        conn.close()
    monkeypatch.setattr(sql_mysql, "ORPHAN_AGE", 0)
    later = SqlService(MYSQL_URL)
    later.start()
    try:
        assert _run_databases(dead_run) == 0
        assert _scalar("SELECT COUNT(*) FROM mysql.user WHERE user = %s", f"grader_{dead_run}") == 0
        assert _run_databases(live._impl.run_id) == 1
        assert live.query(obt, "SELECT COUNT(*) FROM orders_obt").rows == ((len(OBT.rows()),),)
    finally:
        later.stop()
        live.stop()
