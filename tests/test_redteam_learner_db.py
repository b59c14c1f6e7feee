"""Red team: learner code against the learner_db service, the database it connects to itself.

On MariaDB the sandbox reaches the server only through the grader's MysqlGuard. Attacks: log in as root
(who has no password from 127.0.0.1 on a developer's server), as another run's user, read another run's
database, the grader's templates or the server's own tables, change user in the middle of a session
(COM_CHANGE_USER), hide the session in TLS, and reach the server's port without the guard. On SQLite the
learner's processes share a folder with the grader: attacks swap the database file for a link to the
reference answer or a FIFO, or write the control file. Every attack must fail, and the grader survive it.
"""
from __future__ import annotations

import errno
import json
import os
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from grader.catalog import load_all
from grader.results import Status
from grader.runner import ServicePool, grade
from grader.sandbox import NAMESPACES, detect
from grader.services import ServiceOptions
from grader.services.sql.learner_db import MysqlGuard, MysqlLearnerDb, Refused

MYSQL_URL = os.environ.get("GRADER_MYSQL_URL")
needs_mysql = pytest.mark.skipif(not MYSQL_URL, reason="set GRADER_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306)")
needs_namespaces = pytest.mark.skipif(detect().name != NAMESPACES, reason=f"no namespace sandbox: {detect().reason}")
SECRET = "the-answer-is-4711"

HIDDEN = '''
import json
import pytest


class Vault:
    name, public, key = "vault", True, "vault_v1"

    def ddl(self, backend):
        return ["CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(40) NOT NULL)"]

    def tables(self):
        return [("notes", ("id", "body"), [(1, "hello")])]


@pytest.mark.points(1)
def test_attacks(submission, learner_db):
    """attacks"""
    learner_db.load(Vault())
    answers = json.loads(submission.steal())
    assert all(str(v).startswith("refused") for k, v in answers.items() if k != "own"), answers
    assert answers.get("own", "") == "ok", answers


@pytest.mark.points(1)
def test_read_back(submission, learner_db):
    """read back"""
    learner_db.load(Vault())
    submission.write()
    rows = learner_db.query("SELECT body FROM notes ORDER BY id").rows
    assert rows == (("hello",), ("mine",)), rows
'''

ATTACK_COMMON = '''
import json, os, socket, struct
from urllib.parse import urlsplit

URL = urlsplit(os.environ["LEARNER_DB_URL"])
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("redteam_db") / "course"
    (root / "exercises" / "vault_db").mkdir(parents=True)
    (root / "exercises" / "vault_db" / "exercise.toml").write_text(
        'title = "Vault"\norder = 1\npoints = 2\nfiles = ["attack.py"]\nservices = ["learner_db"]\ntimeout = 20\n')
    (root / "exercises" / "vault_db" / "README.md").write_text("# Vault\n")
    (root / "solutions" / "vault_db").mkdir(parents=True)
    (root / "solutions" / "vault_db" / "secret.txt").write_text(SECRET + "\n")
    (root / "tests" / "hidden" / "vault_db").mkdir(parents=True)
    (root / "tests" / "hidden" / "vault_db" / "test_vault.py").write_text(HIDDEN)
    return root


def attack(course: Path, pool: ServicePool, tmp_path: Path, source: str, **values: str) -> dict[str, tuple[Status, str]]:
    learner = tmp_path / "submission"
    learner.mkdir(exist_ok=True)
    body = ATTACK_COMMON + textwrap.dedent(source)
    for name, value in {"SECRET_PATH": str(course / "solutions" / "vault_db" / "secret.txt"), **values}.items():
        body = body.replace(f"@{name}@", value)
    (learner / "attack.py").write_text(body)
    (exercise,) = [e for e in load_all(course) if e.slug == "vault_db"]
    result = grade(exercise, learner, pool)
    assert not result.error, result.error
    return {t.name: (t.status, t.output) for t in result.tests}


# -- MariaDB ----------------------------------------------------------------------------------------


MYSQL_ATTACKS = '''
import pymysql

HOST, PORT, DB = URL.hostname, URL.port, URL.path.lstrip("/")


def _login(**kwargs):
    return pymysql.connect(host=HOST, port=PORT, connect_timeout=5, ssl_disabled=True, **kwargs)


def _as(user, password, database=None):
    try:
        conn = _login(user=user, password=password, database=database)
    except Exception as exc:
        return "refused: " + type(exc).__name__
    with conn.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        return "logged in as " + cursor.fetchone()[0]


def _own():
    return _login(user=URL.username, password=URL.password, database=DB)


def _query(text):
    try:
        conn = _own()
        with conn.cursor() as cursor:
            cursor.execute(text)
            return "answered " + repr(cursor.fetchall())[:200]
    except Exception as exc:
        return "refused: " + type(exc).__name__


def _packet(sock, sequence, payload):
    sock.sendall(len(payload).to_bytes(3, "little") + bytes([sequence]) + payload)


def _reply(sock):
    sock.settimeout(5)
    try:
        header = sock.recv(4)
        if len(header) < 4:
            return "refused: closed"
        return "answered " + sock.recv(int.from_bytes(header[:3], "little"))[:40].hex()
    except OSError as exc:
        return "refused: " + type(exc).__name__


def _change_user():
    conn = _own()
    sock = conn._sock
    _packet(sock, 0, b"\\x11root\\x00\\x00" + b"\\x00" + b"\\x21\\x00" + b"mysql_native_password\\x00")
    return _reply(sock)


def _tls():
    sock = socket.create_connection((HOST, PORT), timeout=5)
    _reply(sock)  # the greeting
    flags = 0x800 | 0x200 | 0x8000 | 0x80000
    _packet(sock, 1, struct.pack("<IIB", flags, 1 << 24, 33) + b"\\x00" * 23)
    return _reply(sock)


def _direct():
    found = []
    for port in (3306, 3307, 33060):
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
            found.append(port)
        except OSError:
            pass
        finally:
            s.close()
    return f"answered {found}" if found else "refused: no route"


def steal():
    answers = {
        "root": _as("root", ""),
        "root_to_database": _as("root", "", DB),
        "other_run": _as("@OTHER_USER@", "@OTHER_PASSWORD@", "@OTHER_DB@"),
        "other_database": _query("SELECT secret FROM `@OTHER_DB@`.vault"),
        "templates": _query("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'grader%' "
                            "AND schema_name <> DATABASE()"),
        "server_tables": _query("SELECT user, password FROM mysql.user"),
        "use_other": _query("USE `@OTHER_DB@`"),
        "change_user": _change_user(),
        "tls": _tls(),
        "direct": _direct(),
    }
    if answers["templates"] == "answered ()":
        answers["templates"] = "refused: none visible"
    own = _own()
    with own.cursor() as cursor:
        cursor.execute("SELECT body FROM notes")
        answers["own"] = "ok" if cursor.fetchall() == (("hello",),) else "broken"
    return json.dumps(answers)


def write():
    conn = _own()
    with conn.cursor() as cursor:
        cursor.execute("INSERT INTO notes VALUES (2, 'mine')")
    conn.commit()
'''


@pytest.fixture(scope="module")
def other_run() -> Iterator[MysqlLearnerDb]:
    """Another grade's learner database on the same server, holding the secret."""
    other = MysqlLearnerDb(MYSQL_URL or "")
    other.start()
    with other.server.admin_cursor(other.database) as cursor:
        cursor.execute("CREATE TABLE vault (secret VARCHAR(40))")
        cursor.execute("INSERT INTO vault VALUES (%s)", (SECRET,))
    yield other
    other.stop()


@needs_mysql
@needs_namespaces
def test_learner_code_reaches_only_its_own_database_as_its_own_user(course: Path, tmp_path: Path,
                                                                     other_run: MysqlLearnerDb) -> None:
    with ServicePool(ServiceOptions(mysql_url=MYSQL_URL)) as pool:
        checks = attack(course, pool, tmp_path, MYSQL_ATTACKS, OTHER_USER=other_run.server.user,
                        OTHER_PASSWORD=other_run.server.password, OTHER_DB=other_run.database)
    assert checks["attacks"][0] is Status.PASSED, checks["attacks"][1]
    assert checks["read back"][0] is Status.PASSED, checks["read back"][1]
    assert SECRET not in checks["attacks"][1]
    assert other_run.query("SELECT secret FROM vault").rows == ((SECRET,),)  # the other run is intact


@needs_mysql
def test_the_run_user_has_no_privilege_beyond_its_database() -> None:
    db = MysqlLearnerDb(MYSQL_URL or "")
    db.start()
    try:
        with db.server.admin_cursor("mysql") as cursor:
            cursor.execute(f"SHOW GRANTS FOR '{db.server.user}'@'%'")
            grants = [row[0] for row in cursor.fetchall()]
    finally:
        db.stop()
    assert len(grants) == 2, grants
    assert grants[0].startswith("GRANT USAGE ON *.*"), grants
    assert grants[1].startswith(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{db.database}`.*"), grants


# -- the guard itself, packet by packet ----------------------------------------------------------


def _packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([sequence]) + payload


def _response(user: bytes, database: bytes = b"", flags: int = 0x200 | 0x8000 | 0x200000) -> bytes:
    if database:
        flags |= 0x8
    auth = b"\x14" + b"a" * 20
    return _packet(1, (flags.to_bytes(4, "little") + (1 << 24).to_bytes(4, "little") + b"\x21" + b"\x00" * 23
                       + user + b"\x00" + auth + database + b"\x00" * bool(database)))


def test_the_guard_lets_the_runs_user_in_and_refuses_everyone_else() -> None:
    assert MysqlGuard("grader_ab", "db1").client(_response(b"grader_ab", b"db1")) == _response(b"grader_ab", b"db1")
    for response in (_response(b"root"), _response(b"grader_other", b"db1"), _response(b"grader_ab", b"mysql"),
                     _response(b"grader_ab", flags=0x200 | 0x8000 | 0x800), _response(b"grader_ab", flags=0x8000),
                     _response(b"grader_ab", flags=0x200 | 0x8000 | 0x20)):
        with pytest.raises(Refused):
            MysqlGuard("grader_ab", "db1").client(response)


def test_the_guard_refuses_change_user_but_passes_queries_split_anywhere() -> None:
    guard = MysqlGuard("grader_ab", "db1")
    stream = (_response(b"grader_ab") + _packet(0, b"\x03SELECT 1") + _packet(0, b"\x02db1")
              + _packet(0, b"\x16SELECT ?") + _packet(0, b"\x01"))
    passed = b"".join(guard.client(stream[i:i + 3]) for i in range(0, len(stream), 3))
    assert passed == stream
    for command in (b"\x11root\x00", b"\x02mysql", b"\x12", b"\x08"):
        guard = MysqlGuard("grader_ab", "db1")
        guard.client(_response(b"grader_ab"))
        with pytest.raises(Refused):
            guard.client(_packet(0, command))


def test_the_guard_reads_a_16_mb_packet_as_one_command() -> None:
    guard = MysqlGuard("grader_ab", "db1")
    guard.client(_response(b"grader_ab"))
    big = _packet(0, b"\x03" + b"x" * (0xFFFFFF - 1))
    assert guard.client(big) == big
    continuation = _packet(0, b"\x11root\x00")  # sequence wraps to 0 only after 256 packets: still a continuation
    assert guard.client(continuation) == continuation


def test_the_greeting_offers_neither_tls_nor_compression() -> None:
    flags = (0xFFFF).to_bytes(2, "little")
    greeting = _packet(0, b"\x0a" + b"10.11.0\x00" + b"\x01\x00\x00\x00" + b"s" * 8 + b"\x00" + flags + b"\x21" + b"\x00" * 30)
    passed = MysqlGuard("u", "d").server(greeting)
    offered = int.from_bytes(passed[4 + 1 + 8 + 4 + 8 + 1:][:2], "little")
    assert offered & 0x800 == 0 and offered & 0x20 == 0 and offered & 0x200


# -- SQLite ---------------------------------------------------------------------------------------


SQLITE_ATTACKS = '''
import sqlite3

FOLDER = os.environ["LEARNER_DB_DIR"]
CONTROL = os.environ["LEARNER_DB_CONTROL"]


def _try(name, action):
    try:
        return "answered " + str(action())[:200]
    except Exception as exc:
        return "refused: " + type(exc).__name__


def steal():
    answers = {
        "write_control": _try("control", lambda: open(os.path.join(CONTROL, "control.json"), "w").write("{}")),
        "new_control": _try("control", lambda: open(os.path.join(CONTROL, "mine"), "w").write("{}")),
        "read_secret": _try("secret", lambda: open("@SECRET_PATH@").read()),
        "attach_cache": _try("attach", lambda: sqlite3.connect(os.path.join(FOLDER, "learner.db")).execute(
            "ATTACH '@SECRET_PATH@' AS s").fetchall()),
    }
    other = [name for name in os.listdir(os.path.dirname(FOLDER)) if name not in ("0", "1")]
    answers["share_siblings"] = f"answered {other}" if other else "refused: none"
    shm = [name for name in os.listdir("/dev/shm")] if os.path.isdir("/dev/shm") else []
    answers["grader_memory_files"] = f"answered {shm}" if shm else "refused: none"
    conn = sqlite3.connect(os.path.join(FOLDER, "learner.db"))
    answers["own"] = "ok" if conn.execute("SELECT body FROM notes").fetchall() == [("hello",)] else "broken"
    return json.dumps(answers)


def write():
    conn = sqlite3.connect(os.path.join(FOLDER, "learner.db"))
    conn.execute("INSERT INTO notes VALUES (2, 'mine')")
    conn.commit()
'''

SWAP_FILE = '''
import sqlite3

FOLDER = os.environ["LEARNER_DB_DIR"]


def steal():
    return json.dumps({"own": "ok"})


def write():
    path = os.path.join(FOLDER, "learner.db")
    os.unlink(path)
    @SWAP@
'''


@pytest.fixture(scope="module")
def sqlite_pool() -> Iterator[ServicePool]:
    with ServicePool() as pool:
        yield pool


def test_sqlite_grader_files_are_in_memory_and_gone_with_the_service_or_its_process(tmp_path, monkeypatch) -> None:
    """control.json and the read copies on /dev/shm (the database on disk, where learner code writes);
    stop() removes both folders, and a dead grader's folders are removed by the next service started. A copy
    with no room in memory is made on disk; with no /dev/shm at all everything is on disk."""
    import subprocess
    import tempfile

    from grader import sandbox
    from grader.services.sql import learner_db as module

    memory, disk = tmp_path / "shm", tmp_path / "tmp"
    memory.mkdir()
    disk.mkdir()
    monkeypatch.setattr(module, "SHM", str(memory))
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))  # kept translations of trusted queries
    monkeypatch.setattr(sandbox, "_reaped", set())
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [memory / f"grader-learnerdb-{dead.pid}-abc", disk / f"grader-learnerdb-{dead.pid}-abc"]
    for folder in stale:
        (folder / "control").mkdir(parents=True)
    service = module.SqliteLearnerDb()
    service.start()
    try:
        assert not any(folder.exists() for folder in stale)
        (in_memory,) = memory.iterdir()
        (on_disk,) = disk.iterdir()
        assert in_memory.name.startswith(f"grader-learnerdb-{os.getpid()}-")
        assert on_disk.name.startswith(f"grader-learnerdb-{os.getpid()}-")
        folders = service.worker_folders()
        assert Path(folders["LEARNER_DB_CONTROL"][0]) == in_memory / "control"
        assert folders["LEARNER_DB_CONTROL"][1] is False
        assert Path(folders["LEARNER_DB_DIR"][0]) == on_disk / "db" and folders["LEARNER_DB_DIR"][1] is True
        assert sorted(p.name for p in in_memory.iterdir()) == ["control", "reads"]
        assert sorted(p.name for p in on_disk.iterdir()) == ["db"]
    finally:
        service.stop()
    assert not list(memory.iterdir()) and not list(disk.iterdir())

    class Notes:
        name, public, key = "notes", True, "notes_v1"

        def ddl(self, backend):
            return ["CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(40) NOT NULL)"]

        def tables(self):
            return [("notes", ("id", "body"), [(1, "hello")])]

    copy = module.SqliteLearnerDb._copy

    def full_memory(self, target):  # a small /dev/shm (a container's 64 MB) and a large database
        if str(target).startswith(str(memory)):
            (target / "partial").write_bytes(b"x")
            raise OSError(errno.ENOSPC, "No space left on device")
        copy(self, target)

    monkeypatch.setattr(module.SqliteLearnerDb, "_copy", full_memory)
    service = module.SqliteLearnerDb()
    service.start()
    try:
        service.load(Notes())
        assert service.query("SELECT body FROM notes").rows == (("hello",),)  # copied to disk instead
        (in_memory,) = memory.iterdir()
        (on_disk,) = disk.iterdir()
        assert not list((in_memory / "reads").iterdir()) and not list((on_disk / "reads").iterdir())
    finally:
        service.stop()
    monkeypatch.setattr(module.SqliteLearnerDb, "_copy", copy)

    monkeypatch.setattr(module, "SHM", str(tmp_path / "none"))  # no /dev/shm: everything on disk, as before
    service = module.SqliteLearnerDb()
    service.start()
    try:
        (on_disk,) = disk.iterdir()
        assert Path(service.worker_folders()["LEARNER_DB_CONTROL"][0]) == on_disk / "control"
        assert sorted(p.name for p in on_disk.iterdir()) == ["control", "db", "reads"]
    finally:
        service.stop()
    assert not list(disk.iterdir())


@needs_namespaces
def test_sqlite_learner_code_sees_its_database_and_nothing_else(course: Path, tmp_path: Path,
                                                                sqlite_pool: ServicePool) -> None:
    checks = attack(course, sqlite_pool, tmp_path, SQLITE_ATTACKS)
    assert checks["attacks"][0] is Status.PASSED, checks["attacks"][1]
    assert checks["read back"][0] is Status.PASSED, checks["read back"][1]


@needs_namespaces
@pytest.mark.parametrize("swap", [
    "os.symlink('@SECRET_PATH@', path)",
    "os.mkfifo(path)",
    "open(path, 'w').write('@SECRET@ is not a database')",
    "os.mkdir(path)",
])
def test_a_database_file_swapped_for_a_link_fifo_or_junk_fails_the_check_and_reads_nothing(
        course: Path, tmp_path: Path, sqlite_pool: ServicePool, swap: str) -> None:
    secret_copy = "'" + "-".join(SECRET.split("-")[:2]) + "' + '-' + '" + "-".join(SECRET.split("-")[2:]) + "'"
    checks = attack(course, sqlite_pool, tmp_path, SWAP_FILE.replace("@SWAP@", swap.replace("'@SECRET@", secret_copy + " + '")))
    status, output = checks["read back"]
    assert status is Status.FAILED, (status, output)
    assert SECRET not in output
    assert checks["attacks"][0] is Status.PASSED  # the next check loads a fresh database and works
