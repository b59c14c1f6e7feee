"""`grade batch` as a user runs it: the command, an interrupted and resumed batch, a real Dask cluster
losing a worker, and MySQL going away mid-batch."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner

from fixtures import classroom
from grader.cli import cli
from grader.gradebook import Gradebook

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GRADE = str(BIN / "grade")


def rows(gradebook: Path) -> list[tuple[str, str, str, float]]:
    """(student, exercise, status, score) of every attempt; empty while the file does not exist yet."""
    if not gradebook.exists():
        return []
    try:
        with sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True, timeout=10) as db:
            return db.execute("SELECT student, exercise, status, score FROM attempts ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def wait_for(condition, timeout: float = 300.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def log_parsing_class(target: Path, count: int) -> list[tuple[str, str, str]]:
    people = classroom.mixed_plan(("log_parsing",), count)
    classroom.write_class(target, people)
    return people


def test_batch_grades_then_skips_then_regrades(tmp_path: Path, course_root: Path) -> None:
    students = tmp_path / "class"
    classroom.write_class(students, [("ann", "log_parsing", "solution"), ("bob", "log_parsing", "stub")])
    (students / "bob" / "notes.txt").write_text("not an exercise")
    gradebook = tmp_path / "gradebook.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["batch", str(students), "log_parsing", "--gradebook", str(gradebook),
                                 "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "Not graded: bob/notes.txt: fits no exercise" in result.output
    assert "2 submission(s) of 2 student(s)" in result.output
    assert "Grading 2 submission(s) on 1 worker(s)." in result.output
    assert "ann log_parsing 22/22" in result.output and "bob log_parsing 0/22" in result.output
    assert "Graded 2, failed 0, ungraded 0" in result.output
    assert sorted(rows(gradebook)) == [("ann", "log_parsing", "graded", 22.0), ("bob", "log_parsing", "graded", 0.0)]
    with Gradebook(gradebook) as book:
        assert {a.result.sandbox for a in book.attempts()} == {"namespaces"}

    again = runner.invoke(cli, ["batch", str(students), "log_parsing", "--gradebook", str(gradebook)])
    assert again.exit_code == 0, again.output
    assert "2 submission(s) already graded in the gradebook: skipped" in again.output
    assert "Nothing to grade." in again.output
    assert len(rows(gradebook)) == 2

    (students / "bob" / "log_parsing" / "parse_logs.py").write_text(
        classroom.files("log_parsing", classroom.VARIANTS["log_parsing"][0], "bob")["parse_logs.py"])
    changed = runner.invoke(cli, ["batch", str(students), "--gradebook", str(gradebook), "--jobs", "1"])
    assert changed.exit_code == 0, changed.output
    assert "1 submission(s) already graded" in changed.output
    assert "bob log_parsing 22/22" in changed.output
    with Gradebook(gradebook) as book:
        assert [(a.student, a.attempt, a.result.score) for a in book.attempts()] == [
            ("ann", 1, 22.0), ("bob", 1, 0.0), ("bob", 2, 22.0)]


def test_batch_refuses_to_grade_without_the_sandbox_unless_told(tmp_path: Path, course_root: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    students = tmp_path / "class"
    classroom.write_class(students, [("ann", "log_parsing", "solution")])
    gradebook = tmp_path / "gradebook.db"
    monkeypatch.setenv("GRADER_SANDBOX", "process")  # as on a machine without user namespaces
    args = ["batch", str(students), "--gradebook", str(gradebook), "--jobs", "1"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 3, refused.output
    assert "refusing to grade: learner code would run without the namespace sandbox on tcp://127.0.0.1:" in refused.output
    assert "GRADER_SANDBOX=process asks for no namespaces" in refused.output
    assert rows(gradebook) == []
    allowed = CliRunner().invoke(cli, [*args, "--no-require-sandbox"])
    assert allowed.exit_code == 0, allowed.output
    with Gradebook(gradebook) as book:
        (attempt,) = book.attempts()
    assert (attempt.result.score, attempt.result.sandbox) == (22.0, "process")


@pytest.mark.parametrize("args, message", [
    (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"], "--jobs sizes the local cluster"),
    (["--scheduler", "tcp://127.0.0.1:1"], "no Dask scheduler answers at tcp://127.0.0.1:1"),
])
def test_batch_option_errors(tmp_path: Path, course_root: Path, args: list[str], message: str) -> None:
    students = tmp_path / "class"
    classroom.write_class(students, [("ann", "log_parsing", "stub")])
    result = CliRunner().invoke(cli, ["batch", str(students), "--gradebook", str(tmp_path / "g.db"), *args])
    assert message in result.output
    assert result.exit_code == (2 if "--jobs" in args else 3)
    assert rows(tmp_path / "g.db") == []


def test_batch_of_a_missing_folder_or_unknown_exercise(tmp_path: Path, course_root: Path) -> None:
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "nope"), "--gradebook", str(tmp_path / "g.db")])
    assert result.exit_code == 2
    assert f"Error: {tmp_path / 'nope'}: no such folder" in result.output
    (tmp_path / "class").mkdir()
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "class"), "nosuch"])
    assert result.exit_code == 2
    assert "unknown exercise 'nosuch'" in result.output


def run_batch(args: list[str], **kwargs) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen([GRADE, "batch", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, **kwargs)


def batch_until(args: list[str], gradebook: Path, results: int, then: Callable[[subprocess.Popen[str]], None],
                **kwargs) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Start `grade batch`, call `then(process)` once the gradebook holds `results` results, and wait for
    the batch to end: its exit code and output."""
    batch = run_batch(args, **kwargs)
    try:
        wait_for(lambda: len(rows(gradebook)) >= results, what=f"{results} results")
        then(batch)
        output, _ = batch.communicate(timeout=600)
    finally:
        if batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
    return batch.returncode, output


def graded_once(gradebook: Path, people: list[tuple[str, str, str]]) -> None:
    """Every student has exactly one graded attempt, with the score of their kind of submission."""
    with Gradebook(gradebook) as book:
        attempts = list(book.attempts())
    graded = [(a.student, a.exercise) for a in attempts if a.status == "graded"]
    assert sorted(graded) == sorted((student, slug) for student, slug, _ in people)
    for attempt in attempts:
        kind = next(name for student, _, name in people if student == attempt.student)
        if kind == "solution":
            assert attempt.result.score == attempt.result.max_score
        elif kind == "stub":
            assert attempt.result.score == 0


@pytest.mark.parametrize("how", ["SIGKILL", "Ctrl-C"])
def test_an_interrupted_batch_resumes_and_grades_everyone_once(tmp_path: Path, how: str) -> None:
    students = tmp_path / "class"
    # enough students that the batch is still grading when the interruption lands (it is sent once
    # three results are in the gradebook, and warm workers grade log_parsing at about ten a second)
    people = log_parsing_class(students, 40)
    gradebook = tmp_path / "gradebook.db"
    args = [str(students), "--gradebook", str(gradebook), "--jobs", "2"]

    def interrupt(batch: subprocess.Popen[str]) -> None:
        if how == "SIGKILL":
            os.kill(batch.pid, signal.SIGKILL)  # the batch process alone: its workers must go by themselves
        else:
            os.killpg(batch.pid, signal.SIGINT)  # what a terminal sends the whole foreground group

    code, output = batch_until(args, gradebook, 3, interrupt)
    done = rows(gradebook)
    assert 3 <= len(done) < len(people), output
    if how == "Ctrl-C":
        assert code == 130, output
        assert f"Stopped: {len(done)} of {len(people)} submission(s) finished and are in the gradebook" in output
    second = run_batch(args)
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output
    assert f"{len(done)} submission(s) already graded in the gradebook: skipped" in output
    graded_once(gradebook, people)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """(address, [scheduler, worker, worker])."""
    # a Dask scheduler and two single-threaded workers without nannies, each a process of its own
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(BIN / "dask")
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=open(logs / "scheduler", "wb"),
                                  start_new_session=True)]
    try:
        for i in range(2):
            processes.append(subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"w{i}"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(logs / f"worker{i}", "wb"),
                start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, processes
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_a_dask_cluster_that_loses_a_worker_grades_everyone(
        tmp_path: Path, dask_cluster: tuple[str, list[subprocess.Popen[bytes]]]) -> None:
    address, (_, worker, _) = dask_cluster
    students = tmp_path / "class"
    people = log_parsing_class(students, 12)
    gradebook = tmp_path / "gradebook.db"
    code, output = batch_until([str(students), "--gradebook", str(gradebook), "--scheduler", address], gradebook,
                               2, lambda _: os.kill(worker.pid, signal.SIGKILL))
    assert worker.wait(timeout=30) == -signal.SIGKILL
    assert code == 0, output
    assert "Grading 12 submission(s) on 2 worker(s)." in output
    assert "Graded 12, failed 0, ungraded 0" in output
    graded_once(gradebook, people)
    with Gradebook(gradebook) as book:
        workers_used = {a.worker for a in book.attempts()}
    assert len(workers_used) == 2, "both workers graded before one was killed"


def test_a_batch_whose_scheduler_dies_keeps_what_finished(
        tmp_path: Path, dask_cluster: tuple[str, list[subprocess.Popen[bytes]]]) -> None:
    address, (scheduler, _, _) = dask_cluster
    students = tmp_path / "class"
    people = log_parsing_class(students, 12)
    gradebook = tmp_path / "gradebook.db"
    args = [str(students), "--gradebook", str(gradebook)]
    code, output = batch_until([*args, "--scheduler", address], gradebook, 2,
                               lambda _: os.kill(scheduler.pid, signal.SIGKILL))
    assert code == 3, output
    assert "Error: the Dask cluster cancelled the batch's tasks (did the scheduler stop?)." in output
    assert "Traceback" not in output
    done = rows(gradebook)
    assert 2 <= len(done) < len(people)
    assert f"Stopped: {len(done)} of {len(people)} submission(s) finished" in output
    again = run_batch([*args, "--jobs", "2"])
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output
    graded_once(gradebook, people)


class Proxy:
    """A TCP relay to a server, which can be cut: to the grader, the server went away."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.server.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def test_mysql_going_away_leaves_submissions_ungraded_never_failed(tmp_path: Path) -> None:
    url = os.environ.get("GRADER_MYSQL_URL")
    if not url:
        pytest.skip("set GRADER_MYSQL_URL to a MySQL/MariaDB server to run this test")
    from grader.services.sql import MysqlUrl

    server = MysqlUrl.parse(url)
    proxy = Proxy(server.port)
    students = tmp_path / "class"
    people = [(f"s{i:02d}", "sql_joins", "solution" if i % 2 else "top-ten") for i in range(8)]
    classroom.write_class(students, people)
    gradebook = tmp_path / "gradebook.db"
    through_proxy = f"mysql://{server.user}@127.0.0.1:{proxy.port}"
    env = {**os.environ, "GRADER_MYSQL_URL": through_proxy}
    code, output = batch_until([str(students), "--gradebook", str(gradebook), "--jobs", "2"], gradebook, 2,
                               lambda _: proxy.cut(), env=env)
    assert code == 3, output
    first = rows(gradebook)
    statuses = {status for _, _, status, _ in first}
    assert "failed" not in statuses and "ungraded" in statuses, first
    with Gradebook(gradebook) as book:
        for attempt in book.attempts():
            if attempt.status == "ungraded":
                assert "could not grade" in attempt.reason and "MySQL" in attempt.reason, attempt.reason
            else:  # graded before the server went away: the score its files earn
                full = dict((s, n) for s, _, n in people)[attempt.student] == "solution"
                assert attempt.result.score == (20.0 if full else 16.0), attempt
    again = run_batch([str(students), "--gradebook", str(gradebook), "--jobs", "2"],
                      env={**os.environ, "GRADER_MYSQL_URL": url})
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output
    with Gradebook(gradebook) as book:
        latest = {a.student: a.result.score for a in book.attempts(latest=True)}
    assert latest == {s: 20.0 if n == "solution" else 16.0 for s, _, n in people}
