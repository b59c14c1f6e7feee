"""The sandbox: learner code in a worker process, every failure a message, the grader unharmed."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from grader.sandbox import (NAMESPACES, PROCESS, Level, Sandbox, SubmissionError, SubmissionProxy, SubmissionTimeout,
                            detect)

LEVELS = [pytest.param(Level(PROCESS, "forced by the test"), id="process"),
          pytest.param(detect(), id="namespaces",
                       marks=pytest.mark.skipif(detect().name != NAMESPACES, reason=detect().reason))]


@pytest.fixture(params=LEVELS, autouse=True)
def level(request: pytest.FixtureRequest) -> Level:
    """Every behaviour of the sandbox holds at both levels."""
    return request.param


@pytest.fixture
def sandbox_for(level: Level):
    def build(tmp_path: Path, source: str, timeout: float = 2, **kwargs) -> Sandbox:
        folder = tmp_path / "learner"
        folder.mkdir(exist_ok=True)
        (folder / "mod.py").write_text(source, encoding="utf-8")
        return Sandbox(folder, "mod", timeout=timeout, display_dir="exercises/demo", level=level, **kwargs)

    return build


def call(sandbox: Sandbox, fn: str, *args, **kwargs):
    session = sandbox.session()
    try:
        return session.call(fn, *args, **kwargs)
    finally:
        session.close()


def test_call_returns_json_values(sandbox_for, tmp_path: Path) -> None:
    source = ("import decimal, datetime\n"
              "def f(a, b=1):\n"
              "    return {'sum': a + b, 'd': decimal.Decimal('2.5'), 'n': decimal.Decimal('3'),\n"
              "            's': {3, 1, 2}, 't': (1, 2)}\n"
              "def when():\n"
              "    return datetime.date(2025, 1, 2)\n")
    with sandbox_for(tmp_path, source) as box:
        assert call(box, "f", 1, b=2) == {"sum": 3, "d": 2.5, "n": 3, "s": [1, 2, 3], "t": [1, 2]}
        with pytest.raises(SubmissionError, match=r"returned a date \(datetime.date\(2025, 1, 2\)\); "
                                                  r"return text instead, for example value.isoformat\(\)"):
            call(box, "when")


def test_learner_runs_in_another_process(sandbox_for, tmp_path: Path) -> None:
    with sandbox_for(tmp_path, "import os\ndef pid():\n    return os.getpid()\n") as box:
        assert call(box, "pid") != os.getpid()


def test_each_session_starts_from_a_fresh_import(sandbox_for, tmp_path: Path) -> None:
    source = "STATE = []\ndef push(x):\n    STATE.append(x)\n    return len(STATE)\n"
    with sandbox_for(tmp_path, source) as box:
        session = box.session()
        assert session.call("push", 1) == 1
        assert session.call("push", 2) == 2  # one test: the same worker
        session.close()
        assert call(box, "push", 3) == 1  # the next test: a fresh copy of the module


def test_exception_shows_the_learners_traceback_only(sandbox_for, tmp_path: Path) -> None:
    source = "def helper(x):\n    return 1 / x\n\ndef f(x):\n    print('thinking')\n    return helper(x)\n"
    with sandbox_for(tmp_path, source) as box, pytest.raises(SubmissionError) as raised:
        call(box, "f", 0)
    message = str(raised.value)
    assert message.startswith("f(0) raised ZeroDivisionError: division by zero")
    assert 'File "mod.py", line 6, in f' in message and 'File "mod.py", line 2, in helper' in message
    assert "worker.py" not in message and "grader" not in message
    assert "Your code printed:\nthinking" in message
    assert raised.value.error_type == "ZeroDivisionError"


def test_library_frames_are_folded_not_shown(sandbox_for, tmp_path: Path) -> None:
    source = "import datetime\ndef f(text):\n    return datetime.datetime.strptime(text, '%d-%m-%Y')\n"
    with sandbox_for(tmp_path, source) as box, pytest.raises(SubmissionError) as raised:
        call(box, "f", "40-10-2025")
    message = str(raised.value)
    assert 'File "mod.py", line 3, in f' in message
    assert "frames in library code" in message or "frame in library code" in message
    assert "_strptime.py" not in message and "/lib/python" not in message
    assert message.rstrip().endswith("ValueError: unconverted data remains: 0") or "ValueError" in message


def test_syntax_error_names_the_line(sandbox_for, tmp_path: Path) -> None:
    with sandbox_for(tmp_path, "def f(:\n    pass\n") as box, pytest.raises(SubmissionError) as raised:
        call(box, "f")
    message = str(raised.value)
    assert "could not be imported" in message and "SyntaxError" in message and "line 1" in message


def test_missing_function(sandbox_for, tmp_path: Path) -> None:
    with sandbox_for(tmp_path, "def g():\n    return 1\n") as box, pytest.raises(SubmissionError) as raised:
        call(box, "f")
    assert str(raised.value).startswith("mod.py has no function named f.")


def test_missing_file(level: Level, tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "absent", timeout=1, display_dir="exercises/demo", level=level)
    with pytest.raises(SubmissionError, match=r"exercises/demo/absent.py was not found"):
        call(box, "f")
    box.close()


def test_endless_loop_times_out_and_the_next_test_gets_a_fresh_worker(sandbox_for, tmp_path: Path) -> None:
    source = "def spin():\n    while True:\n        pass\n\ndef ok():\n    return 'fine'\n"
    with sandbox_for(tmp_path, source, timeout=0.5) as box:
        started = time.monotonic()
        with pytest.raises(SubmissionTimeout, match=r"spin\(\) timed out after 0.5 s"):
            call(box, "spin")
        assert time.monotonic() - started < 5
        assert call(box, "ok") == "fine"


EACH_SOURCE = ("import os, sys, time\n"
               "STATE = []\n"
               "def f(x, y=0):\n"
               "    STATE.append(x)\n"
               "    if x == 'raise':\n"
               "        print('looking at', x)\n"
               "        raise KeyError(x)\n"
               "    if x == 'spin':\n"
               "        while True:\n"
               "            pass\n"
               "    if x == 'die':\n"
               "        os._exit(6)\n"
               "    if x == 'exit':\n"
               "        sys.exit(2)\n"
               "    return [x, y, len(STATE)]\n"
               "def seen():\n"
               "    return STATE\n")


def test_call_each_answers_every_item_in_order_in_one_child(sandbox_for, tmp_path: Path) -> None:
    with sandbox_for(tmp_path, EACH_SOURCE) as box:
        session = box.session()
        try:
            assert session.call("f", "a") == ["a", 0, 1]
            outcomes = session.call_each("f", [("b",), ["c", 5], ("d", {"k": [1]})])
            assert outcomes == [(True, ["b", 0, 2]), (True, ["c", 5, 3]), (True, ["d", {"k": [1]}, 4])]
            assert session.call_each("f", []) == []
            assert session.call("seen") == ["a", "b", "c", "d"]  # the same child, in order
        finally:
            session.close()


def test_call_each_stops_at_an_item_that_raises(sandbox_for, tmp_path: Path) -> None:
    with sandbox_for(tmp_path, EACH_SOURCE) as box:
        session = box.session()
        try:
            outcomes = session.call_each("f", [("a",), ("raise",), ("b",), ("exit",)])
            assert [ok for ok, _ in outcomes] == [True, False]
            error = outcomes[1][1]
            assert type(error) is SubmissionError and error.error_type == "KeyError"
            with pytest.raises(SubmissionError) as single:
                session.call("f", "raise")
            assert str(error) == str(single.value)  # the message a single call gives
            assert "Your code printed:\nlooking at raise" in str(error)
            assert session.call("seen") == ["a", "raise", "raise"]  # nothing ran after the failed item
            outcomes = session.call_each("f", [("exit",)])
            assert outcomes[0][0] is False and "f(\"exit\") called sys.exit(2)" in str(outcomes[0][1])
        finally:
            session.close()


@pytest.mark.parametrize("fatal, expected", [
    ("spin", SubmissionTimeout), ("die", SubmissionError),
])
def test_call_each_stops_after_a_timeout_or_the_end_of_the_child(sandbox_for, tmp_path: Path, fatal: str,
                                                                 expected: type) -> None:
    with sandbox_for(tmp_path, EACH_SOURCE, timeout=0.5) as box:
        session = box.session()
        try:
            started = time.monotonic()
            outcomes = session.call_each("f", [("a",), ("b",), (fatal,), ("c",)])
            assert time.monotonic() - started < 5
            assert outcomes[:2] == [(True, ["a", 0, 1]), (True, ["b", 0, 2])]
            assert len(outcomes) == 3 and outcomes[2][0] is False and type(outcomes[2][1]) is expected
            message = str(outcomes[2][1])
            if fatal == "spin":
                assert message.startswith('f("spin") timed out after 0.5 s')
            else:
                assert 'exited with code 6 while running f("die")' in message
            assert session.call("seen") == []  # the next call runs in a fresh child
        finally:
            session.close()


def test_the_proxy_yields_call_each_results_and_raises_where_an_item_failed(sandbox_for,
                                                                            tmp_path: Path) -> None:
    with sandbox_for(tmp_path, EACH_SOURCE, timeout=0.5) as box:
        session = box.session()
        proxy = SubmissionProxy(session)
        try:
            assert list(proxy.call_each("f", [("a",), ("b", 2)])) == [["a", 0, 1], ["b", 2, 2]]
            results = proxy.call_each("f", [("c",), ("raise",), ("d",)])  # the round trip is made here
            assert session.call("seen") == ["a", "b", "c", "raise"]
            assert next(results) == ["c", 0, 3]
            with pytest.raises(SubmissionError, match=r'f\("raise"\) raised KeyError'):
                next(results)
            assert list(results) == []  # nothing after the failed item
            got = []
            with pytest.raises(SubmissionTimeout, match=r'f\("spin"\) timed out'):
                for value in proxy.call_each("f", [("x",), ("spin",), ("y",)]):
                    got.append(value)
            assert got == [["x", 0, 5]]
            with pytest.raises(TypeError, match="must be JSON values"):
                proxy.call_each("f", [(object(),)])
        finally:
            session.close()


def test_call_each_of_a_module_that_does_not_import_fails_at_the_first_item(sandbox_for,
                                                                            tmp_path: Path) -> None:
    with sandbox_for(tmp_path, "raise RuntimeError('boom')\ndef f(x):\n    return x\n") as box:
        session = box.session()
        try:
            results = SubmissionProxy(session).call_each("f", [(1,), (2,)])
            with pytest.raises(SubmissionError, match="RuntimeError: boom"):
                next(results)
        finally:
            session.close()


@pytest.mark.parametrize("body, expected", [
    ("import sys\nsys.exit(3)\n", "called sys.exit(3) while being imported"),
    ("import os\nos._exit(7)\n", "exited with code 7 while mod.py was being imported"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "was killed by SIGKILL"),
    ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    ("while True:\n    pass\n", "did not finish within"),
])
def test_bad_imports_are_explained(sandbox_for, tmp_path: Path, body: str, expected: str) -> None:
    box = sandbox_for(tmp_path, body + "def f():\n    return 1\n", timeout=0.2)
    box.import_timeout = 1.0
    with box, pytest.raises(SubmissionError) as raised:
        call(box, "f")
    assert expected in str(raised.value)
    with pytest.raises(SubmissionError):  # every later test gets the same explanation, quickly
        call(box, "f")


@pytest.mark.parametrize("body, expected", [
    ("import sys\n    sys.exit(2)", "f() called sys.exit(2)"),
    ("import os\n    os._exit(4)", "exited with code 4 while running f()"),
    ("return {1, 2} and object()", "cannot be turned into JSON"),
    # the worker starts without `site` (python -S), which is where exit() and quit() come from
    ("exit(5)", "f() called sys.exit(5)"),
    ("quit()", "f() called sys.exit(None)"),
    ("exit()", "f() called sys.exit(None)"),
])
def test_bad_calls_are_explained(sandbox_for, tmp_path: Path, body: str, expected: str) -> None:
    with sandbox_for(tmp_path, f"def f():\n    {body}\n\ndef ok():\n    return 1\n") as box:
        with pytest.raises(SubmissionError) as raised:
            call(box, "f")
        assert expected in str(raised.value)
        assert call(box, "ok") == 1


def test_an_import_time_exit_is_explained(sandbox_for, tmp_path: Path) -> None:
    with sandbox_for(tmp_path, "exit(5)\ndef f():\n    return 1\n") as box, pytest.raises(SubmissionError) as raised:
        call(box, "f")
    assert "called sys.exit(5) while being imported" in str(raised.value)


def test_learner_code_imports_the_graders_site_packages(sandbox_for, tmp_path: Path) -> None:
    """python -S puts no site-packages on sys.path: the worker appends the grader's own."""
    source = ("import sys\nimport boto3\n"
              "def f():\n    return [boto3.__name__, sys.flags.no_site, 'site' in sys.modules, callable(help)]\n")
    with sandbox_for(tmp_path, source) as box:
        assert call(box, "f") == ["boto3", 1, True, True]


def test_what_the_worker_warms_is_frozen_and_learner_code_imports_with_collections_on(
        sandbox_for, tmp_path: Path) -> None:
    """boto3 and its models, loaded before learner code, are out of every later collection's sight
    (frozen); learner code itself is imported, and runs, with garbage collection on."""
    source = ("import gc\nAT_IMPORT = [gc.isenabled(), gc.get_freeze_count()]\n"
              "def f():\n    return [*AT_IMPORT, gc.isenabled()]\n")
    with sandbox_for(tmp_path, source, env={"AWS_DEFAULT_REGION": "us-east-1"}, warm=("dynamodb",)) as box:
        enabled, frozen, enabled_in_call = call(box, "f")
    assert enabled and enabled_in_call
    assert frozen > 50_000  # boto3 and the dynamodb models: tens of thousands of objects


def test_a_worker_start_imports_only_what_it_needs(sandbox_for, tmp_path: Path) -> None:
    """Every sandbox starts a Python: what worker.py imports is paid for on every grade. The socket and
    signal modules (enum, selectors), importlib.util (contextlib, functools), typing, decimal and datetime
    are left to learner code that wants them."""
    with sandbox_for(tmp_path, "import sys\ndef f():\n    return sorted(sys.modules)\n") as box:
        loaded = set(call(box, "f"))
    assert "_grader_worker" in loaded and "json" in loaded
    assert not loaded & {"socket", "selectors", "signal", "importlib.util", "typing", "decimal", "datetime"}

def test_unbounded_allocation_hits_the_memory_limit(sandbox_for, tmp_path: Path) -> None:
    source = "def hog():\n    chunks = []\n    while True:\n        chunks.append(bytearray(50_000_000))\n"
    with sandbox_for(tmp_path, source, timeout=20, memory_mb=512) as box:
        with pytest.raises(SubmissionError) as raised:
            call(box, "hog")
        assert "MemoryError" in str(raised.value) or "killed" in str(raised.value)


def test_worker_environment_holds_nothing_of_the_graders(sandbox_for, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GRADER_MYSQL_URL", "mysql://secret@db")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    source = "import os\ndef env():\n    return dict(os.environ)\n"
    with sandbox_for(tmp_path, source, env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}) as box:
        env = call(box, "env")
    assert "GRADER_MYSQL_URL" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"


def test_close_leaves_no_process(sandbox_for, tmp_path: Path) -> None:
    box = sandbox_for(tmp_path, "def f():\n    return 1\n")
    box.start()
    assert call(box, "f") == 1
    pid = box._proc.pid
    box.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_service_addresses_are_shown_by_name(sandbox_for, tmp_path: Path) -> None:
    """The endpoint's port changes every run; feedback must not."""
    source = "def send(url, body):\n    raise ValueError(f'could not reach {url}')\n"
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:40123"}
    with sandbox_for(tmp_path, source, env=env) as box, pytest.raises(SubmissionError) as raised:
        call(box, "send", "http://127.0.0.1:40123/123456789012/jobs", "hi")
    message = str(raised.value)
    assert "40123" not in message
    assert message.startswith('send("$AWS_ENDPOINT_URL/123456789012/jobs", "hi") raised ValueError')


def test_a_service_channel_carries_large_bodies_both_ways(sandbox_for, level: Level, tmp_path: Path) -> None:
    """Learner code reaches a service at the URL in its environment, through the relay in a sandbox."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from grader.sandbox.channel import Bridge

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(2 * len(body)))
            self.end_headers()
            self.wfile.write(body[::-1] + body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    bridge = Bridge(str(tmp_path / "svc.sock"), "127.0.0.1", port)
    source = ("import os, urllib.request\n"
              "def post(size):\n"
              "    body = bytes(range(256)) * (size // 256)\n"
              "    request = urllib.request.Request(os.environ['SVC_URL'] + '/x', data=body, method='POST')\n"
              "    answers = [urllib.request.urlopen(request, timeout=10).read() for _ in range(3)]\n"
              "    return [len(a) for a in answers] + [all(a == body[::-1] + body for a in answers)]\n")
    env = {"SVC_URL": f"http://127.0.0.1:{port}"}
    try:
        with sandbox_for(tmp_path, source, timeout=20, env=env,
                         channels={"SVC_URL": bridge.path}) as box:
            assert call(box, "post", 3 << 20) == [6 << 20] * 3 + [True]
    finally:
        bridge.close()
        server.shutdown()


def test_snapshot_leaves_links_and_caches_out(level: Level, tmp_path: Path) -> None:
    from grader.sandbox import snapshot

    source = tmp_path / "learner"
    (source / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "mod.py").write_text("x = 1\n")
    (source / "pkg" / "helper.py").write_text("y = 2\n")
    (source / "pkg" / "__pycache__" / "helper.pyc").write_bytes(b"\0")
    (source / "answer.py").symlink_to(tmp_path / "elsewhere.py")
    (source / "linked").symlink_to(tmp_path, target_is_directory=True)
    left_out = snapshot(source, tmp_path / "copy")
    assert sorted(left_out) == ["answer.py", "linked"]
    copied = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*"))
    assert copied == ["mod.py", "pkg", "pkg/helper.py"]


def test_an_interpreter_below_tmp_stays_visible(level: Level, monkeypatch: pytest.MonkeyPatch) -> None:
    """A virtualenv in /tmp (a fresh clone there) is bound after the sandbox's own /tmp is mounted."""
    from grader.sandbox import jail

    monkeypatch.setattr(jail, "python_roots", lambda: ["/tmp/clone/.venv", "/opt/python"])
    argv = jail.Jail("bwrap", learner_dir=None, scratch=None).argv(["python"])
    tmpfs = argv.index("/tmp", argv.index("--tmpfs"))
    assert argv.index("/tmp/clone/.venv") > tmpfs and argv.index("/opt/python") > tmpfs


def test_a_worker_started_ahead_imports_its_submission_when_loaded(level: Level, tmp_path: Path) -> None:
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "mod.py").write_text("import os\ndef files():\n    return sorted(os.listdir(os.path.dirname(__file__)))\n")
    with Sandbox(None, None, timeout=5, level=level) as box:
        assert box.alive and box.module is None
        box.load(folder, "mod", display_dir="exercises/demo")
        assert call(box, "files") == ["mod.py"]
    with Sandbox(None, None, timeout=5, level=level) as box:
        box.load(tmp_path / "nowhere", "mod", display_dir="exercises/demo")
        with pytest.raises(SubmissionError, match="exercises/demo/mod.py was not found"):
            call(box, "files")


def test_spare_workers_serve_one_submission_each(level: Level, make_course, monkeypatch, tmp_path: Path) -> None:
    """Watch and batch keep a worker started ahead; each grade still gets a sandbox of its own."""
    from grader.catalog import load_all
    from grader.runner import ServicePool, grade
    from grader.sandbox import jail

    monkeypatch.setattr(jail, "detect", lambda: level)
    monkeypatch.setattr("grader.runner.detect", lambda: level)
    root = make_course()
    (exercise,) = load_all(root)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "demo.py").write_text("def double(x):\n    return x\n\ndef echo(t):\n    return t\n")
    with ServicePool(spare_workers=True) as pool:
        first = grade(exercise, root / "solutions" / "demo", pool)
        (_, spare), = pool._spares.values()
        assert spare.alive and spare.module is None
        second = grade(exercise, wrong, pool)
        third = grade(exercise, root / "solutions" / "demo", pool)
    assert (first.score, second.score, third.score) == (4, 2, 4)  # wrong: double(0) and echo pass
    assert not spare.alive  # the pool's spares end with it


def test_watch_starts_the_next_spare_once_a_grade_is_shown(level: Level, make_course, monkeypatch) -> None:
    """With spares_later the next grade's worker does not take the CPU from the grade in hand."""
    from grader.catalog import load_all
    from grader.runner import ServicePool, grade
    from grader.sandbox import jail

    monkeypatch.setattr(jail, "detect", lambda: level)
    monkeypatch.setattr("grader.runner.detect", lambda: level)
    root = make_course()
    (exercise,) = load_all(root)
    with ServicePool(spare_workers=True, spares_later=True) as pool:
        first = grade(exercise, root / "solutions" / "demo", pool)
        (_, spare), = pool._spares.values()
        assert not spare.alive  # made during the grade, not started
        pool.start_spares()
        assert spare.alive and spare.module is None
        second = grade(exercise, root / "solutions" / "demo", pool)
        (_, following), = pool._spares.values()
        assert spare.module == "demo" and following is not spare and not following.alive
        third = grade(exercise, root / "solutions" / "demo", pool)  # no start_spares(): a worker of its own
    assert (first.score, second.score, third.score) == (4, 4, 4)
    assert not spare.alive and not following.alive


def test_scratch_folders_left_by_dead_processes_are_removed_by_the_next_one(tmp_path, monkeypatch) -> None:
    """A worker killed mid-grade never cleans up; the next process of the same kind does, and leaves
    alone the folders of live processes and of other kinds."""
    import subprocess
    import tempfile

    from grader import sandbox

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"grader-worker-{dead.pid}-abc"
    (stale / "submission").mkdir(parents=True)
    (stale / "submission" / "mod.py").write_text("x = 1\n")
    alive = tmp_path / f"grader-worker-{os.getpid()}-def"
    alive.mkdir()
    other_kind = tmp_path / f"grader-batch-{dead.pid}-ghi"
    other_kind.mkdir()
    unrelated = tmp_path / "grader-worker-notapid"
    unrelated.mkdir()
    monkeypatch.setattr(sandbox, "_reaped", set())
    made = Path(sandbox.scratch_folder("worker"))
    assert made.parent == tmp_path and made.name.startswith(f"grader-worker-{os.getpid()}-")
    assert not stale.exists()
    assert alive.exists() and other_kind.exists() and unrelated.exists()
    Path(sandbox.scratch_folder("worker")).rmdir()  # reaped once per process: nothing else changes
    made.rmdir()


def test_a_probe_started_early_is_waited_for_not_run_twice(monkeypatch) -> None:
    """`grade run` starts the sandbox probe in the background; the grade's own detect() waits for it."""
    import threading
    import time as _time

    from grader.sandbox import jail

    calls = []
    started = threading.Event()

    def slow_probe(bwrap: str) -> str:
        calls.append(bwrap)
        started.set()
        _time.sleep(0.2)
        return "refused for this test"

    monkeypatch.setattr(jail, "_probe", slow_probe)
    monkeypatch.setenv("GRADER_SANDBOX", "auto")
    jail._detect.cache_clear()
    try:
        jail.detect_soon()
        assert started.wait(10)
        level = jail.detect()
        assert level.name == jail.PROCESS and "refused for this test" in level.reason
        assert jail.detect() is level and len(calls) == 1
    finally:
        jail._detect.cache_clear()


def test_a_process_left_in_a_sandbox_cgroup_is_killed_when_the_sandbox_closes() -> None:
    """Whatever escaped the sandbox's process group and its parent's death (bubblewrap's PID 1 when the
    sandbox is stopped while it starts) is still in the cgroup: closing the cgroup kills it."""
    import contextlib
    import subprocess

    from grader.sandbox.jail import Cgroup

    if not Cgroup.available():
        pytest.skip("no writable cgroup here: the sandbox caps processes with rlimits instead")
    group = Cgroup.create(pids=8, memory_bytes=64 << 20)
    assert group is not None
    # setsid forks: the sleep is in its own session, and not our child
    starter = subprocess.Popen(group.join_command(["setsid", "sleep", "300"]), start_new_session=True)
    starter.wait(timeout=10)
    strays: set[int] = set()
    try:
        for _ in range(500):
            strays = group.pids()
            if strays:
                break
            time.sleep(0.01)
        assert strays and starter.pid not in strays
        dirs = list(group.dirs)
        group.close()
        for _ in range(500):  # gone (reaped by init), not only signalled
            if not any(Path(f"/proc/{pid}").exists() for pid in strays):
                break
            time.sleep(0.01)
        assert not any(Path(f"/proc/{pid}").exists() for pid in strays)
        assert not any(d.exists() for d in dirs)
    finally:
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_cgroups_of_a_grader_killed_outright_are_emptied_by_the_next_one(monkeypatch) -> None:
    """A grader SIGKILLed mid-batch leaves its sandboxes' cgroups, maybe with a process in them; the
    next grader process's first cgroup kills what is left there and removes them, and leaves alone
    the cgroups of graders still running."""
    import contextlib
    import subprocess

    from grader.sandbox import jail
    from grader.sandbox.jail import Cgroup

    if not Cgroup.available():
        pytest.skip("no writable cgroup here: the sandbox caps processes with rlimits instead")
    monkeypatch.setattr(Cgroup, "_reaped", True)
    mine = Cgroup.create(pids=8, memory_bytes=64 << 20)
    assert mine is not None
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Cgroup([d.parent / f"{jail.CGROUP_PREFIX}{dead.pid}-0123456789ab" for d in mine.dirs])
    alive = Cgroup([d.parent / f"{jail.CGROUP_PREFIX}{os.getpid()}-ba9876543210" for d in mine.dirs])
    strays: set[int] = set()
    try:
        for d in stale.dirs + alive.dirs:
            d.mkdir()
        subprocess.run(stale.join_command(["setsid", "sleep", "300"]), check=True, start_new_session=True)
        for _ in range(500):
            strays = stale.pids()
            if strays:
                break
            time.sleep(0.01)
        assert strays
        monkeypatch.setattr(Cgroup, "_reaped", False)
        newer = Cgroup.create(pids=8, memory_bytes=64 << 20)
        assert newer is not None
        newer.close()
        for _ in range(500):
            if not any(Path(f"/proc/{pid}").exists() for pid in strays):
                break
            time.sleep(0.01)
        assert not any(Path(f"/proc/{pid}").exists() for pid in strays)
        assert not any(d.exists() for d in stale.dirs)
        assert all(d.exists() for d in alive.dirs)
    finally:
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stale.close()
        alive.close()
        mine.close()
