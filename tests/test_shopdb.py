"""acid_transactions' shopdb.py: how it waits for a lock on SQLite and how a race's pause ends.

Real processes (forked) on a real SQLite file: the lock waits and the markers the isolation checks'
schedule rests on (DESIGN.md, "Races are scheduled, not timed").
"""
from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROUND = "round"


def load_shopdb() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shopdb", ROOT / "exercises" / "acid_transactions" / "shopdb.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """shopdb on a one-table database, every process armed for one round of two parties."""
    (tmp_path / "control").mkdir()
    (tmp_path / "control" / "control.json").write_text(json.dumps(
        {"serial": 1, "processes": {"*": {"barrier": ROUND, "parties": 1}}}))
    with sqlite3.connect(tmp_path / "shop.db") as conn:
        conn.execute("CREATE TABLE products (product_id INTEGER PRIMARY KEY, stock INTEGER)")
        conn.execute("INSERT INTO products VALUES (1, 5)")
    monkeypatch.setenv("LEARNER_DB_URL", "sqlite:shop.db")
    monkeypatch.setenv("LEARNER_DB_DIR", str(tmp_path))
    monkeypatch.setenv("LEARNER_DB_CONTROL", str(tmp_path / "control"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    return load_shopdb()


def take_the_lock(shopdb: ModuleType, go: multiprocessing.synchronize.Event,
                  taken: multiprocessing.synchronize.Event) -> None:
    go.wait(10)
    conn = shopdb.connect()
    conn.begin(immediate=True)
    taken.set()
    conn.execute("UPDATE products SET stock = stock - 1 WHERE product_id = 1")
    conn.commit()
    conn.close()


def write_and_commit(shopdb: ModuleType, go: multiprocessing.synchronize.Event,
                     taken: multiprocessing.synchronize.Event) -> None:
    go.wait(10)
    conn = shopdb.connect()
    conn.begin()  # deferred: the write lock at the UPDATE, the exclusive lock at COMMIT
    conn.execute("UPDATE products SET stock = stock - 1 WHERE product_id = 1")
    conn.commit()
    taken.set()
    conn.close()


def wait_for(condition, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.001)


def test_begin_immediate_waits_for_the_lock_marked_as_blocked_and_gets_it_once_free(shop, tmp_path):
    fork = multiprocessing.get_context("fork")
    go, taken = fork.Event(), fork.Event()
    child = fork.Process(target=take_the_lock, args=(shop, go, taken))
    child.start()  # before this process opens the database: SQLite's locks must not cross a fork
    holder = shop.connect()
    holder.begin(immediate=True)
    go.set()
    marker = tmp_path / f".shopdb-{ROUND}" / f"{child.pid}.blocked"
    wait_for(marker.exists, "the waiting process's blocked marker")
    assert not taken.is_set(), "BEGIN IMMEDIATE went through while another transaction held the write lock"
    holder.execute("UPDATE products SET stock = stock - 1 WHERE product_id = 1")
    holder.commit()
    child.join(timeout=10)
    assert child.exitcode == 0 and taken.is_set()
    assert not marker.exists(), "the blocked marker outlived the wait"
    assert (tmp_path / f".shopdb-{ROUND}" / f"{child.pid}.end").exists()
    assert holder.execute("SELECT stock FROM products").fetchone() == (3,), "an update was lost"
    holder.close()


def test_a_commit_waits_for_a_reader_marked_as_blocked_and_goes_through_once_it_ends(shop, tmp_path):
    fork = multiprocessing.get_context("fork")
    go, done = fork.Event(), fork.Event()
    child = fork.Process(target=write_and_commit, args=(shop, go, done))
    child.start()
    reader = shop.connect()
    reader.begin()
    assert reader.execute("SELECT stock FROM products").fetchone() == (5,)  # a shared lock until commit
    go.set()
    marker = tmp_path / f".shopdb-{ROUND}" / f"{child.pid}.blocked"
    wait_for(marker.exists, "the committing process's blocked marker")
    assert not done.is_set(), "COMMIT went through while a read transaction held its shared lock"
    assert reader.execute("SELECT stock FROM products").fetchone() == (5,)
    reader.commit()
    child.join(timeout=10)
    assert child.exitcode == 0 and done.is_set()
    assert reader.execute("SELECT stock FROM products").fetchone() == (4,)
    reader.close()


def test_a_process_started_after_another_waits_until_that_one_has_ended_or_waits_for_a_lock(shop, tmp_path):
    folder = tmp_path / f".shopdb-{ROUND}"
    folder.mkdir()
    armed = {"barrier": ROUND, "parties": 2, "after": "900001"}
    start = threading.Thread(target=shop._after, args=(armed, "900001", 30.0), daemon=True)
    start.start()
    (folder / "900001.read").touch()  # a read is not enough
    start.join(timeout=0.3)
    assert start.is_alive()
    (folder / "900001.end").touch()
    start.join(timeout=5)
    assert not start.is_alive()


def test_a_read_transaction_that_would_write_under_another_writers_lock_is_refused_as_sqlite_does(shop):
    reader, writer = shop.connect(), shop.connect()
    reader.begin()
    assert reader.execute("SELECT stock FROM products").fetchone() == (5,)
    writer.begin(immediate=True)
    writer.execute("UPDATE products SET stock = 4 WHERE product_id = 1")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        reader.execute("UPDATE products SET stock = 0 WHERE product_id = 1")
    reader.rollback()
    writer.commit()
    assert writer.execute("SELECT stock FROM products").fetchone() == (4,)


def test_the_lock_wait_gives_up_after_lock_wait_with_sqlites_message(shop):
    shop.LOCK_WAIT = 0.2
    holder, waiter = shop.connect(), shop.connect()
    holder.begin(immediate=True)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        waiter.begin(immediate=True)
    holder.rollback()
    waiter.begin(immediate=True)  # the connection is usable again, its busy timeout restored
    waiter.rollback()


@pytest.mark.parametrize("until, markers, settles", [
    ("read", ["read", "blocked"], True),
    ("read", ["end", "read"], True),
    ("end", ["end", "blocked"], True),
    ("end", ["read", "end"], False),  # one has only read: the report waits for its commit
    ("read", ["read"], False),  # one party has not arrived
])
def test_a_pause_ends_when_every_other_party_has_settled(shop, tmp_path, until, markers, settles):
    folder = tmp_path / f".shopdb-{ROUND}"
    folder.mkdir()
    (folder / str(os.getpid())).touch()
    for pid, what in zip((900001, 900002), markers):
        (folder / str(pid)).touch()
        (folder / f"{pid}.{what}").touch()
    armed = {"barrier": ROUND, "parties": 3, "until": until}
    pause = threading.Thread(target=shop._pause, args=(armed, 30.0), daemon=True)
    pause.start()
    pause.join(timeout=5 if settles else 0.3)  # a pause that must go on is still on after 0.3 s, or ever
    assert pause.is_alive() is not settles
    if not settles:  # the missing marker arrives: the pause ends
        (folder / "900001.end").touch()
        (folder / "900003").touch()
        (folder / "900003.blocked").touch()
        pause.join(timeout=5)
        assert not pause.is_alive()
