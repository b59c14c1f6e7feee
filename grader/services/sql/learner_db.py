"""The learner_db service: a database learner code itself connects to, reset for every test.

Where the `sql` service runs learner SQL in the grader's process, learner_db gives the learner's
sandboxed worker (and the processes it forks) a live database of its own, so that transactions,
locks and crashes are real. Hidden tests fill it (`load(instance)`), read it back through a fresh
connection of the grader's (`query(text)`, bounded like every trusted read of learner data) and
steer the exercise's connection helper through a control file (`arm(**settings)`).

- **SQLite** (the default): a folder of the service's own holds the database file; the sandbox
  binds it read-write at the path in $LEARNER_DB_DIR, so every process of the submission shares
  it (locks included), and nothing else of the machine. The grader never opens that file: it
  copies the database and its journal or WAL (opened without following links, regular files
  only, bounded in size) into a private folder and reads the copy, so a link, a FIFO or a file
  the learner's processes keep changing cannot reach or stall it. A hot journal left by a killed
  worker is rolled back in the copy, as the next connection of the learner's would.
- **MySQL/MariaDB** (GRADER_MYSQL_URL): one database of the run, `grader_<run>_learner`, and the
  run's own user, with SELECT, INSERT, UPDATE and DELETE on that database only (no other
  privilege), MAX_USER_CONNECTIONS and on MariaDB MAX_STATEMENT_TIME. Learner code reaches the
  server only through `MysqlGuard`, a relay in the grader that reads the MySQL protocol: it
  takes the client's HandshakeResponse and refuses any user but the run's, any database but the
  run's, TLS and compression (which it could not read) and, once logged in, every command but
  the ones of an ordinary session (COM_CHANGE_USER among those refused). The server is asked to
  offer neither TLS nor compression to the client. In the namespace sandbox the relay is a Unix
  socket (the sandbox has no network but loopback); at the process level a loopback port.

Both: $LEARNER_DB_URL (`sqlite:learner.db` in $LEARNER_DB_DIR, or `mysql://user:password@
127.0.0.1:port/database`) and $LEARNER_DB_CONTROL, a read-only folder holding control.json, the
settings the hidden test armed (what they mean is the exercise helper's business).
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator, Protocol

from grader.errors import ServiceError
from grader.sandbox import scratch_folder
from grader.sandbox.channel import Bridge
from grader.services import ServiceOptions
from grader.services.sql.mysql import MysqlBackend, MysqlSession
from grader.services.sql.results import QueryResult, SqlError, SqlInstance
from grader.services.sql.sqlite import SqliteSession, load_sqlite, protect_sqlite

URL_ENV = "LEARNER_DB_URL"
DIR_ENV = "LEARNER_DB_DIR"
CONTROL_ENV = "LEARNER_DB_CONTROL"
CONTROL_FILE = "control.json"
DB_FILE = "learner.db"
SIDE_FILES = ("-journal", "-wal")  # what a reader needs beside the database file (never -shm: rebuilt)
MAX_FILE = 64 * 1024 * 1024  # the sandbox writes no file larger
MAX_CONNECTIONS = 32  # concurrent connections of the run's MySQL user
DEFAULT_TIMEOUT = 10.0  # seconds: one trusted read of the learner's database; on MariaDB one learner statement
SCRATCH_KIND = "learnerdb"  # the service's folders: grader-learnerdb-<pid>-..., reaped when their process is gone
SHM = "/dev/shm"  # tmpfs: the control file and the grader's read copies, when the grader may write there


def _memory_folder() -> Path | None:
    """A private folder of this process on /dev/shm (in memory); None where there is no such folder to be had."""
    if not (os.path.isdir(SHM) and os.access(SHM, os.W_OK | os.X_OK)):
        return None
    try:
        return Path(scratch_folder(SCRATCH_KIND, SHM))
    except OSError:
        return None


class DatabaseUnreadable(AssertionError):
    """The learner's processes left the database in a state the grader will not read: a failed check."""


class Reader(Protocol):
    def query(self, text: str) -> QueryResult: ...


class _Control:
    """The read-only folder of control.json, written atomically by the grader."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "control"
        self.folder.mkdir(mode=0o755)
        self.write({})

    def write(self, settings: dict[str, Any]) -> None:
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=".control-")
        with os.fdopen(fd, "w") as handle:
            json.dump(settings, handle)
        os.chmod(name, 0o644)
        os.replace(name, self.folder / CONTROL_FILE)


class _LearnerDb:
    """What both backends share: the control folder, the service's life cycle."""

    name = "learner_db"
    backend = ""

    def __init__(self) -> None:
        self._root: Path | None = None  # on disk: what learner code writes (a SQLite database, a socket)
        self._memory: Path | None = None  # on /dev/shm where there is one: what only the grader writes
        self._control: _Control | None = None
        self._serial = 0
        self.instance: SqlInstance | None = None

    def start(self) -> None:
        root = Path(scratch_folder(SCRATCH_KIND))
        os.chmod(root, 0o711)  # a process-level worker running as another uid may pass, not list
        memory = _memory_folder()
        if memory is not None:
            os.chmod(memory, 0o711)
        self._root, self._memory = root, memory
        self._control = _Control(self._fast)

    @property
    def _fast(self) -> Path:
        """The grader's own small files (the control file, read copies): in memory, else on disk."""
        assert self._root is not None
        return self._memory or self._root

    def stop(self) -> None:
        for folder in (self._root, self._memory):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        self._root = self._memory = self._control = None

    def arm(self, **settings: Any) -> None:
        """Write the settings learner processes read from $LEARNER_DB_CONTROL/control.json (JSON values),
        with a `serial` that changes at every call (so a reader knows the settings are new)."""
        assert self._control is not None, "the learner_db service is not started"
        self._serial += 1
        self._control.write({"serial": self._serial, **settings})

    def disarm(self) -> None:
        """Empty the control settings."""
        self.arm()

    def reset(self) -> None:
        """Before each test: no settings armed (a test loads the database it needs)."""
        if self._control is not None:
            self.disarm()

    def worker_folders(self) -> dict[str, tuple[str, bool]]:
        assert self._control is not None
        return {CONTROL_ENV: (str(self._control.folder), False)}

    def read(self, *, timeout: float = DEFAULT_TIMEOUT) -> contextlib.AbstractContextManager[Reader]:
        raise NotImplementedError

    def query(self, text: str, *, timeout: float = DEFAULT_TIMEOUT) -> QueryResult:
        """One trusted query on the learner's database as committed (see read())."""
        with self.read(timeout=timeout) as reader:
            return reader.query(text)


class SqliteLearnerDb(_LearnerDb):
    """A SQLite file in a folder bound read-write into the learner's sandbox."""

    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, bytes] = {}  # instance key -> the database file's bytes

    def start(self) -> None:
        super().start()
        assert self._root is not None
        self.folder = self._root / "db"
        self.folder.mkdir(mode=0o700)
        self._reads = self._fast / "reads"  # the grader's copies, never bound into a sandbox
        self._reads.mkdir(mode=0o700)

    def worker_env(self) -> dict[str, str]:
        return {URL_ENV: f"sqlite:{DB_FILE}"}

    def worker_folders(self) -> dict[str, tuple[str, bool]]:
        return {**super().worker_folders(), DIR_ENV: (str(self.folder), True)}

    def _bytes(self, instance: SqlInstance) -> bytes:
        if instance.key not in self._built:
            conn = sqlite3.connect(":memory:")
            try:
                load_sqlite(conn, instance)
                self._built[instance.key] = conn.serialize()
            finally:
                conn.close()
        return self._built[instance.key]

    def load(self, instance: SqlInstance) -> None:
        """A fresh database holding `instance`, in place of whatever the folder held."""
        data = self._bytes(instance)
        os.chmod(self.folder, 0o700 if os.stat(self.folder).st_uid == os.geteuid() else 0o777)
        for entry in os.scandir(self.folder):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        fd = os.open(self.folder / DB_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(self.folder / DB_FILE, 0o666)  # whatever the umask: a process-level worker may be another uid
        self.instance = instance

    def _copy(self, target: Path) -> None:
        """Copy the database file and its journal or WAL, read without following links."""
        folder = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for suffix in ("", *SIDE_FILES):
                name = DB_FILE + suffix
                try:
                    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
                except FileNotFoundError:
                    if suffix:
                        continue
                    raise DatabaseUnreadable(f"your code deleted the database file {DB_FILE}") from None
                except OSError:
                    raise DatabaseUnreadable(f"{name} is no longer a regular file (your code replaced it)") from None
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    os.close(fd)
                    raise DatabaseUnreadable(f"{name} is no longer a regular file (your code replaced it)")
                with os.fdopen(fd, "rb") as source:
                    data = source.read(MAX_FILE + 1)
                if len(data) > MAX_FILE:
                    raise DatabaseUnreadable(f"{name} grew over {MAX_FILE >> 20} MB")
                (target / name).write_bytes(data)
        finally:
            os.close(folder)

    def _copied(self) -> Path:
        """A new private folder holding a copy of the database's files: in memory, or on disk when the
        memory folder has no room for it (a small /dev/shm, as in a container, and a large database)."""
        assert self._root is not None
        places = [self._reads]
        if self._reads != self._root / "reads":
            places.append(self._root / "reads")
        for place in places:
            place.mkdir(mode=0o700, exist_ok=True)
            target = Path(tempfile.mkdtemp(dir=place))
            try:
                self._copy(target)
                return target
            except BaseException as exc:
                shutil.rmtree(target, ignore_errors=True)
                no_room = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
                if not no_room or place == places[-1]:
                    raise
        raise AssertionError("not reached: the last place returns or raises")

    @contextlib.contextmanager
    def read(self, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Reader]:
        """A fresh connection of the grader's to the learner's database as committed (`.query(text)`, MySQL
        dialect, bounded): on a private copy of its files, read once."""
        target = self._copied()
        try:
            conn = sqlite3.connect(target / DB_FILE, check_same_thread=False)
            try:
                protect_sqlite(conn)
                conn.execute("PRAGMA trusted_schema = OFF")  # no function of the learner's schema runs here
                yield _SqliteReader(SqliteSession(conn, timeout, ()))
            finally:
                conn.close()
        finally:
            shutil.rmtree(target, ignore_errors=True)


class _SqliteReader:
    """A damaged file is the learner's failure, said so."""

    def __init__(self, session: SqliteSession) -> None:
        self._session = session

    def query(self, text: str) -> QueryResult:
        try:
            return self._session.query(text)
        except (sqlite3.DatabaseError, SqlError) as exc:
            raise DatabaseUnreadable(f"the database cannot be read after your code ran: {exc}") from None


class MysqlLearnerDb(_LearnerDb):
    """The run's database on MySQL/MariaDB, reached by learner code through a MysqlGuard only."""

    backend = "mysql"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.server = MysqlBackend(url)
        self.database = f"grader_{self.server.run_id}_learner"
        self._socket: Bridge | None = None  # the sandbox's way in
        self._port: Bridge | None = None  # the process level's way in
        self._ddl: list[str] = []  # the schema the database has

    def start(self) -> None:
        super().start()
        self.server.start()
        assert self._root is not None
        with self.server.admin_cursor("mysql") as cursor:
            cursor.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{self.database}`.* TO '{self.server.user}'@'%'")
            limits = f"MAX_USER_CONNECTIONS {MAX_CONNECTIONS}"
            if self.server.mariadb:
                limits += f" MAX_STATEMENT_TIME {DEFAULT_TIMEOUT:g}"
            cursor.execute(f"ALTER USER '{self.server.user}'@'%' WITH {limits}")
        host, port = self.server.url.host, self.server.url.port
        guard = lambda: MysqlGuard(self.server.user, self.database)  # noqa: E731
        self._socket = Bridge(str(self._root / "mysql.sock"), host, port, guard)
        self._port = Bridge(("127.0.0.1", 0), host, port, guard)

    def stop(self) -> None:
        for bridge in (self._socket, self._port):
            if bridge is not None:
                bridge.close()
        self._socket = self._port = None
        with contextlib.suppress(Exception):
            self._disconnect_learner()
            with self.server.admin_cursor("mysql") as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
        self.server.stop()
        super().stop()

    def check(self) -> None:
        self.server.check()

    def worker_env(self) -> dict[str, str]:
        assert self._port is not None
        port = self._port.address[1]
        return {URL_ENV: f"mysql://{self.server.user}:{self.server.password}@127.0.0.1:{port}/{self.database}"}

    def worker_channels(self) -> dict[str, str]:
        assert self._socket is not None
        return {URL_ENV: str(self._socket.path)}

    def _disconnect_learner(self) -> None:
        """End every connection of the learner's user (a transaction left open would hold its locks)."""
        with self.server.admin_cursor("mysql") as cursor:
            cursor.execute("SELECT id FROM information_schema.processlist WHERE user = %s", (self.server.user,))
            for (thread,) in cursor.fetchall():
                with contextlib.suppress(Exception):
                    cursor.execute(f"KILL CONNECTION {int(thread)}")

    def load(self, instance: SqlInstance) -> None:
        """A fresh database holding `instance`: the learner's connections ended, then the rows replaced in
        one transaction (the learner's user cannot change tables, so the same schema stays), or for another
        schema the database made anew."""
        self._disconnect_learner()
        ddl = instance.ddl("mysql")
        tables = instance.tables()
        with self.server.admin_cursor("mysql") as cursor:
            cursor.execute("SET SESSION lock_wait_timeout = 10")
            if ddl != self._ddl:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
                cursor.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
                cursor.execute(f"USE `{self.database}`")
                for statement in ddl:
                    cursor.execute(statement)
                self._ddl = ddl
            else:
                cursor.execute(f"USE `{self.database}`")
                cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                               "AND auto_increment > 1", (self.database,))
                for (table,) in cursor.fetchall():  # ids from 1 again (a statement that commits)
                    cursor.execute(f"ALTER TABLE `{table}` AUTO_INCREMENT = 1")
            cursor.execute("START TRANSACTION")
            for table, _, _ in reversed(tables):  # rows that refer to others first
                cursor.execute(f"DELETE FROM `{table}`")
            for table, columns, rows in tables:
                if rows:
                    marks = ", ".join("%s" for _ in columns)
                    cursor.executemany(f"INSERT INTO `{table}` ({', '.join(columns)}) VALUES ({marks})", rows)
            cursor.execute("COMMIT")
        self.instance = instance

    @contextlib.contextmanager
    def read(self, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Reader]:
        """A connection of the grader's to the learner's database as committed (`.query(text)`, bounded)."""
        yield MysqlSession(self.server, self.database, timeout, ())


# --- the MySQL protocol guard ---------------------------------------------------------------------

CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_COMPRESS = 0x20
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000
MAX_PACKET = 0xFFFFFF
MAX_HANDSHAKE = 16384
COM_INIT_DB = 0x02
ALLOWED_COMMANDS = {
    0x01: "COM_QUIT", 0x02: "COM_INIT_DB", 0x03: "COM_QUERY", 0x04: "COM_FIELD_LIST", 0x0E: "COM_PING",
    0x16: "COM_STMT_PREPARE", 0x17: "COM_STMT_EXECUTE", 0x18: "COM_STMT_SEND_LONG_DATA", 0x19: "COM_STMT_CLOSE",
    0x1A: "COM_STMT_RESET", 0x1B: "COM_SET_OPTION", 0x1C: "COM_STMT_FETCH", 0x1F: "COM_RESET_CONNECTION",
    0xFA: "COM_STMT_BULK_EXECUTE",
}


class Refused(ValueError):
    """The client asked for something the guard does not let through: the connection is closed."""


class MysqlGuard:
    """One connection's inspector (channel.Bridge's `inspect`): MySQL packets read as they pass.

    Server to client, the first packet (the greeting) loses the TLS and compression flags; the rest
    passes untouched. Client to server, the HandshakeResponse must name `user` (and `database` or no
    database), without TLS or compression; after it, each command packet (sequence 0, not the
    continuation of a packet of 16 MB) must be one of ALLOWED_COMMANDS, and COM_INIT_DB must name
    `database`. Packets of the login exchange and the data of LOAD DATA LOCAL have sequence numbers
    above 0 and pass; the server itself refuses a command sent out of sequence.
    """

    def __init__(self, user: str, database: str) -> None:
        self.user = user.encode()
        self.database = database.encode()
        self._greeted = False
        self._server = bytearray()
        self._client = bytearray()
        self._logged_in = False
        self._remaining = 0  # payload bytes of the current client packet still to pass
        self._continued = False  # the last client packet was 16 MB long: the next one continues it

    def server(self, data: bytes) -> bytes:
        if self._greeted:
            return data
        self._server += data
        if len(self._server) < 4:
            return b""
        length = int.from_bytes(self._server[:3], "little")
        if len(self._server) < 4 + length:
            return b""
        packet = self._server
        self._server = bytearray()
        self._greeted = True
        payload = packet[4:4 + length]
        if payload[:1] == b"\x0a":  # protocol 10 (else an error packet: passed as it is)
            end = payload.find(b"\x00", 1)
            at = 4 + end + 1 + 4 + 8 + 1  # after version, connection id, auth data part 1, filler
            if end < 0 or at + 2 > len(packet):
                raise Refused("a greeting the guard cannot read")
            flags = int.from_bytes(packet[at:at + 2], "little") & ~(CLIENT_SSL | CLIENT_COMPRESS)
            packet[at:at + 2] = flags.to_bytes(2, "little")
        return bytes(packet)

    def client(self, data: bytes) -> bytes:
        self._client += data
        out = bytearray()
        while True:
            if self._remaining:
                take = min(self._remaining, len(self._client))
                out += self._client[:take]
                del self._client[:take]
                self._remaining -= take
                if self._remaining:
                    return bytes(out)
            if len(self._client) < 4:
                return bytes(out)
            length = int.from_bytes(self._client[:3], "little")
            sequence = self._client[3]
            continuation = self._continued
            if length and len(self._client) < 5:
                return bytes(out)
            if not self._logged_in:
                if length > MAX_HANDSHAKE:
                    raise Refused("a handshake response too long")
                if len(self._client) < 4 + length:
                    return bytes(out)
                self._check_login(sequence, bytes(self._client[4:4 + length]))
                self._logged_in = True
            elif sequence == 0 and not continuation:
                if not length:
                    raise Refused("an empty command")
                command = self._client[4]
                if command not in ALLOWED_COMMANDS:
                    raise Refused(f"command 0x{command:02x}")
                if command == COM_INIT_DB:
                    if len(self._client) < 4 + length:
                        return bytes(out)
                    if bytes(self._client[5:4 + length]) != self.database:
                        raise Refused("another database")
            self._continued = length == MAX_PACKET
            out += self._client[:4]
            del self._client[:4]
            self._remaining = length

    def _check_login(self, sequence: int, payload: bytes) -> None:
        """The HandshakeResponse41: the run's user, the run's database or none, nothing unreadable."""
        if sequence != 1 or len(payload) < 33:
            raise Refused("not a handshake response")
        flags = int.from_bytes(payload[:4], "little")
        if not flags & CLIENT_PROTOCOL_41:
            raise Refused("the old protocol")
        if flags & (CLIENT_SSL | CLIENT_COMPRESS):
            raise Refused("TLS or compression")
        end = payload.find(b"\x00", 32)
        if end < 0 or payload[32:end] != self.user:
            raise Refused("another user")
        if not flags & CLIENT_CONNECT_WITH_DB:
            return
        at = end + 1
        if flags & CLIENT_PLUGIN_AUTH_LENENC:
            size, at = _lenenc(payload, at)
        elif flags & CLIENT_SECURE_CONNECTION:
            if at >= len(payload):
                raise Refused("a truncated handshake response")
            size, at = payload[at], at + 1
        else:
            size = payload.find(b"\x00", at) - at + 1
            if size <= 0:
                raise Refused("a truncated handshake response")
        at += size
        end = payload.find(b"\x00", at)
        if end < 0 or payload[at:end] not in (b"", self.database):
            raise Refused("another database")


def _lenenc(data: bytes, at: int) -> tuple[int, int]:
    """A length-encoded integer at `at`: (its value, where the next field starts)."""
    if at >= len(data):
        raise Refused("a truncated handshake response")
    first = data[at]
    widths = {0xFC: 2, 0xFD: 3, 0xFE: 8}
    if first < 0xFB:
        return first, at + 1
    if first not in widths or at + 1 + widths[first] > len(data):
        raise Refused("a malformed length")
    width = widths[first]
    return int.from_bytes(data[at + 1:at + 1 + width], "little"), at + 1 + width


def make_service(options: ServiceOptions) -> _LearnerDb:
    """The learner_db service: MySQL when a URL is given, else SQLite files shared with the sandbox."""
    if options.mysql_url:
        return MysqlLearnerDb(options.mysql_url)
    return SqliteLearnerDb()


__all__ = ["make_service", "SqliteLearnerDb", "MysqlLearnerDb", "MysqlGuard", "DatabaseUnreadable", "URL_ENV",
           "DIR_ENV", "CONTROL_ENV", "CONTROL_FILE", "ServiceError"]
