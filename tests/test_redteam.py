"""Red team: hostile submissions against the grader, one test per attack class.

Every attack is a learner module graded through the real runner. The course's answer is a secret
kept in solutions/ (where hidden tests read it in the trusted process); a submission scores the
`steal` check only if the attack obtained the secret (attacks on something other than the secret
return it only when they reached their goal, which they cannot know: so they never score). Each test asserts that the attack
failed, that the submission was graded with a clear message, that the grader survived and that the
other check of the same grade (`ok`) still reported. These run as whoever runs the suite (as root in
CI, where dropping to an unprivileged uid is impossible: the namespace sandbox must hold alone).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest

from grader.catalog import load_all
from grader.results import Result, Status
from grader.runner import ServicePool, grade
from grader.sandbox import NAMESPACES, detect

pytestmark = pytest.mark.skipif(detect().name != NAMESPACES,
                                reason=f"no namespace sandbox on this machine: {detect().reason}")

SECRET = "the-answer-is-4711"
ROOT = Path(__file__).resolve().parent.parent

HIDDEN = '''
import pathlib
import pytest


def secret(exercise):
    return (exercise.root / "solutions" / exercise.slug / "secret.txt").read_text().strip()


@pytest.mark.points(1)
def test_steal(submission, exercise):
    """steal the answer"""
    got = submission.steal()
    assert secret(exercise) in str(got), "steal() did not return the answer"


@pytest.mark.points(1)
def test_ok(submission):
    """an honest check"""
    assert submission.ok() == 1, "ok() should return 1"
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("redteam") / "course"
    for slug, services in (("vault", "[]"), ("vault_aws", '["aws"]')):
        (root / "exercises" / slug).mkdir(parents=True)
        (root / "exercises" / slug / "exercise.toml").write_text(
            f'title = "Vault"\norder = 1\npoints = 2\nfiles = ["attack.py"]\nservices = {services}\n'
            'timeout = 10\n')
        (root / "exercises" / slug / "README.md").write_text("# Vault\n")
        (root / "solutions" / slug).mkdir(parents=True)
        (root / "solutions" / slug / "secret.txt").write_text(SECRET + "\n")
        (root / "solutions" / slug / "attack.py").write_text("def ok():\n    return 1\n")
        (root / "tests" / "hidden" / slug).mkdir(parents=True)
        (root / "tests" / "hidden" / slug / "test_vault.py").write_text(HIDDEN)
    return root


@pytest.fixture(scope="module")
def pool() -> Iterator[ServicePool]:
    with ServicePool() as services:
        yield services


def attack(course: Path, pool: ServicePool, tmp_path: Path, source: str, slug: str = "vault") -> Result:
    """Grade `source` (the body of attack.py, `ok()` added) as a submission of `slug`."""
    learner = tmp_path / "submission" / slug
    learner.mkdir(parents=True, exist_ok=True)
    body = textwrap.dedent(source).replace("@ROOT@", str(course)).replace("@SECRET_PATH@",
                                                                          str(course / "solutions" / slug / "secret.txt"))
    (learner / "attack.py").write_text(body + "\n\ndef ok():\n    return 1\n")
    (exercise,) = [e for e in load_all(course) if e.slug == slug]
    return grade(exercise, learner, pool)


def check(result: Result, name: str) -> tuple[Status, str]:
    (test,) = [t for t in result.tests if t.name == name]
    return test.status, test.output


def assert_contained(result: Result) -> None:
    """The attack earned nothing, and the honest check still reported as passed."""
    assert result.sandbox == NAMESPACES
    assert not result.error, result.error
    steal = check(result, "steal the answer")
    assert steal[0] is not Status.PASSED, steal
    assert check(result, "an honest check")[0] is Status.PASSED
    assert result.score == 1


# -- reading what is hidden ---------------------------------------------------------------------


READ_EVERYTHING = '''
import glob, os

def steal():
    found = []
    candidates = ["@SECRET_PATH@", "/proc/1/cwd/solutions/vault/secret.txt"]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            candidates += [f"/proc/{pid}/cwd/solutions/vault/secret.txt",
                           f"/proc/{pid}/root@SECRET_PATH@", f"/proc/{pid}/environ", f"/proc/{pid}/cmdline"]
    for top in ("/sandbox", "/tmp", "/work", "/home", "/proc/1/cwd", "/proc/1/root/tmp"):
        candidates += glob.glob(f"{top}/**/secret.txt", recursive=True)
    candidates += [os.path.expanduser("~/.aws/credentials"), "/root/.aws/credentials"]
    for path in candidates:
        try:
            with open(path, "rb") as handle:
                found.append(handle.read().decode(errors="replace"))
        except OSError:
            pass
    return " ".join(found)
'''


def test_reading_the_solution_by_path_proc_or_search_fails(course: Path, pool: ServicePool, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(course)  # the grader's cwd is the course: /proc/<grader>/cwd would lead there
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    result = attack(course, pool, tmp_path, READ_EVERYTHING)
    assert_contained(result)
    assert "steal() did not return the answer" in check(result, "steal the answer")[1]


def test_an_untouched_stub_cannot_re_export_the_reference_solution(tmp_path: Path, monkeypatch) -> None:
    """The headline attack: a log_parsing stub that imports the reference through /proc and the course."""
    monkeypatch.chdir(ROOT)
    learner = tmp_path / "log_parsing"
    learner.mkdir()
    stub = (ROOT / "exercises/log_parsing/parse_logs.py").read_text()
    thief = textwrap.dedent(f'''
        import importlib.util, os
        for _path in ["/proc/1/cwd/solutions/log_parsing/parse_logs.py",
                      *[f"/proc/{{p}}/cwd/solutions/log_parsing/parse_logs.py" for p in os.listdir("/proc") if p.isdigit()],
                      "{ROOT}/solutions/log_parsing/parse_logs.py"]:
            try:
                _spec = importlib.util.spec_from_file_location("_answer", _path)
                _answer = importlib.util.module_from_spec(_spec)
                _spec.loader.exec_module(_answer)
            except (OSError, AttributeError):
                continue
            globals().update({{k: v for k, v in vars(_answer).items() if not k.startswith("__")}})
            break
    ''')
    (learner / "parse_logs.py").write_text(stub + thief)
    (exercise,) = [e for e in load_all(ROOT) if e.slug == "log_parsing"]
    with ServicePool() as services:
        result = grade(exercise, learner, services)
    assert result.sandbox == NAMESPACES and result.score == 0 and not result.error
    assert "NotImplementedError: parse_line is not written yet" in result.tests[0].output


def test_a_link_to_the_solution_is_not_graded_as_the_learners_file(course: Path, pool: ServicePool,
                                                                 tmp_path: Path) -> None:
    learner = tmp_path / "submission" / "vault"
    learner.mkdir(parents=True)
    (learner / "attack.py").symlink_to(course / "solutions" / "vault" / "attack.py")
    (exercise,) = [e for e in load_all(course) if e.slug == "vault"]
    result = grade(exercise, learner, pool)
    assert result.score == 0
    assert "attack.py was not found" in result.tests[0].output


# -- changing what grades -------------------------------------------------------------------------


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def test_rewriting_hidden_tests_grader_code_or_the_submission_fails(course: Path, pool: ServicePool,
                                                                  tmp_path: Path) -> None:
    import grader.plugin

    targets = [course / "tests/hidden/vault/test_vault.py", Path(grader.plugin.__file__),
               Path(sys.executable).resolve().parent.parent / "lib"]
    source = '''
    import os, sys

    def _try(path, text):
        try:
            with open(path, "w") as handle:
                handle.write(text)
            return f"wrote {path}"
        except OSError as exc:
            return f"{type(exc).__name__}"

    RESULTS = [_try(p, "def test_steal():\\n    pass\\n") for p in %r]
    RESULTS.append(_try(os.path.join(os.path.dirname(os.__file__), "os.py"), "# gone"))
    RESULTS.append(_try(__file__, "def steal():\\n    return 'x'\\n"))

    def steal():
        return "; ".join(RESULTS)
    ''' % [str(targets[0]), str(targets[1])]
    before = _digest(targets[:2])
    result = attack(course, pool, tmp_path, source)
    assert_contained(result)
    assert _digest(targets[:2]) == before
    learner_copy = tmp_path / "submission" / "vault" / "attack.py"
    assert "def ok():" in learner_copy.read_text()  # the learner's own folder is not written either


# -- the grader's processes -----------------------------------------------------------------------


SIGNAL_AND_PTRACE = '''
import ctypes, os, signal

def steal():
    libc = ctypes.CDLL(None, use_errno=True)
    done = []
    for pid in range(1, 32768):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            done.append(pid)
        except OSError:
            pass
    attached = [pid for pid in (1, os.getppid()) if libc.ptrace(16, pid, 0, 0) == 0]  # PTRACE_ATTACH
    return {"killed": done, "attached": attached}
'''


def test_signalling_or_tracing_the_grader_fails(course: Path, pool: ServicePool, tmp_path: Path) -> None:
    result = attack(course, pool, tmp_path, SIGNAL_AND_PTRACE)
    # the grader (this process) is alive to read the result; the attack could reach only its own sandbox
    assert result.sandbox == NAMESPACES and not result.error
    assert check(result, "an honest check")[0] is Status.PASSED
    os.kill(os.getpid(), 0)


DAEMON = '''
import os, time

def steal():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/usr/bin/sleep", ["sleep", "4242.5"])
        os._exit(0)
    time.sleep(0.2)
    return "daemon started"
'''


def _sleepers() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x004242.5\x00":
                    found.append(pid)
            except OSError:
                pass
    return found


def test_no_learner_process_outlives_the_grade(course: Path, pool: ServicePool, tmp_path: Path) -> None:
    result = attack(course, pool, tmp_path, DAEMON)
    assert_contained(result)
    assert _sleepers() == []


def test_results_cannot_be_forged(course: Path, tmp_path: Path) -> None:
    """A daemon that waits for the grader to write --output, then writes full marks over it."""
    learner = tmp_path / "submission" / "vault"
    learner.mkdir(parents=True)
    output = tmp_path / "results.json"
    forged = json.dumps({"score": 1000})
    (learner / "attack.py").write_text(textwrap.dedent(f'''
        import os, time

        def steal():
            if os.fork() == 0:
                os.setsid()
                for _ in range(100):
                    for path in ["{output}", "/proc/1/cwd/results.json"]:
                        try:
                            with open(path, "w") as handle:
                                handle.write({forged!r})
                        except OSError:
                            pass
                    time.sleep(0.05)
                os._exit(0)
            print("Total: 2/2 points")
            return "forging"

        def ok():
            return 1
    '''))
    env = {**os.environ, "GRADER_COURSE_ROOT": str(course)}
    done = subprocess.run([sys.executable, "-m", "grader", "run", "vault", "--path", str(tmp_path / "submission"),
                           "--format", "json", "-o", str(output)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "2/2" not in done.stdout
    time.sleep(1.0)  # the daemon would have written by now
    report = json.loads(output.read_text())
    assert report["score"] == 1 and report["sandbox"] == NAMESPACES


# -- the network ----------------------------------------------------------------------------------


REACH_SERVICES = '''
import socket

def steal():
    reached = []
    for port in (3306, 5432, 6379, 5672, 1883, 4222, 80, 443):
        for host in ("127.0.0.1", "10.0.2.2", "8.8.8.8"):
            s = socket.socket()
            s.settimeout(0.3)
            try:
                s.connect((host, port))
                reached.append(f"{host}:{port}")
            except OSError:
                pass
            finally:
                s.close()
    for path in ("/run/mysqld/mysqld.sock", "/var/run/postgresql/.s.PGSQL.5432"):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            reached.append(path)
        except OSError:
            pass
        finally:
            s.close()
    return reached
'''


def test_local_services_and_the_internet_are_unreachable(course: Path, pool: ServicePool, tmp_path: Path) -> None:
    source = REACH_SERVICES.replace("return reached", "return @SECRET@ if reached else reached")
    result = attack(course, pool, tmp_path, source.replace("@SECRET@", repr(SECRET)))
    assert_contained(result)


MOTO_ADMIN = '''
import json, os, urllib.request, urllib.error
import boto3

def steal():
    base = os.environ["AWS_ENDPOINT_URL"]
    answers = {}
    for method, path in [("POST", "/moto-api/reset"), ("GET", "/moto-api/data.json"),
                         ("POST", "/moto-api/recorder/start-recording"), ("POST", "/moto-api/seed?a=1"),
                         ("GET", "//moto-api/data.json")]:
        request = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                answers[path] = response.status
        except urllib.error.HTTPError as exc:
            answers[path] = exc.code
    request = urllib.request.Request(base + "/moto-api/reset", method="POST", data=b"",
                                     headers={"Host": "motoapi.amazonaws.com"})
    try:
        answers["host"] = urllib.request.urlopen(request, timeout=5).status
    except urllib.error.HTTPError as exc:
        answers["host"] = exc.code
    # the endpoint still works for ordinary calls
    boto3.client("s3").create_bucket(Bucket="mine")
    answers["buckets"] = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    return json.dumps(answers)
'''


def test_the_moto_admin_api_is_refused_to_learner_code(course: Path, pool: ServicePool, tmp_path: Path) -> None:
    hidden = course / "tests/hidden/vault_aws/test_admin.py"
    hidden.write_text(textwrap.dedent('''
        import json
        import pytest

        @pytest.mark.points(0)
        def test_admin(submission, aws):
            """admin api"""
            answers = json.loads(submission.steal())
            assert all(code == 403 for key, code in answers.items() if key != "buckets"), answers
            assert answers["buckets"] == ["mine"], answers
    '''))
    try:
        result = attack(course, pool, tmp_path, MOTO_ADMIN, slug="vault_aws")
    finally:
        hidden.unlink()
    assert check(result, "admin api")[0] is Status.PASSED, check(result, "admin api")[1]
    assert check(result, "an honest check")[0] is Status.PASSED


# -- between grades -------------------------------------------------------------------------------


MARKERS = '''
import os, pathlib

def steal():
    places = ["/tmp/marker", os.path.expanduser("~/marker"), "marker", "/sandbox/submission/marker",
              "/dev/shm/marker"]
    seen = [p for p in places if os.path.exists(p)]
    for place in places:
        try:
            pathlib.Path(place).write_text("graded before")
        except OSError:
            pass
    return @SECRET@ if seen else "first time"
'''


def test_nothing_persists_from_one_grade_to_the_next(course: Path, pool: ServicePool, tmp_path: Path) -> None:
    source = MARKERS.replace("@SECRET@", repr(SECRET))
    first = attack(course, pool, tmp_path, source)
    second = attack(course, pool, tmp_path, source)
    assert_contained(first)
    assert_contained(second)
    assert [(t.status, t.output) for t in first.tests] == [(t.status, t.output) for t in second.tests]


MARK_AND_KILL = MARKERS.replace("    return @SECRET@", """    for pid in range(1, 32768):
        if pid != os.getpid():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    return @SECRET@""")


def test_the_sandbox_started_ahead_for_the_next_submission_is_out_of_reach(course: Path, tmp_path: Path) -> None:
    """A batch worker starts the next submission's sandbox while this one is graded: markers left and
    every process in sight killed reach neither that sandbox nor the submission graded in it."""
    from grader.batch import Submission, WarmGrader, content_hash
    from grader.services import ServiceOptions

    files = (("attack.py", (MARK_AND_KILL.replace("@SECRET@", repr(SECRET)) + "\n\ndef ok():\n    return 1\n").encode()),)
    worker = WarmGrader(str(course), ServiceOptions())
    worker.setup(None)
    try:
        first = worker.grade(Submission("mallory", "vault", files, "mallory/vault", content_hash(files)))
        (_, ahead), = worker.pool._spares.values()
        assert ahead.alive and ahead.module is None  # started during the attack, untouched by it
        second = worker.grade(Submission("victim", "vault", files, "victim/vault", content_hash(files)))
        assert not ahead.alive  # the second submission was graded in it, then it ended
    finally:
        worker.teardown(None)
        for name in [n for n, m in sys.modules.items() if str(getattr(m, "__file__", "") or "").startswith(str(course))]:
            del sys.modules[name]
    for outcome in (first, second):
        assert outcome.status == "graded"
        assert_contained(outcome.result)
    assert [t.status for t in first.result.tests] == [t.status for t in second.result.tests]


# -- resource bombs -------------------------------------------------------------------------------


BOMBS = {
    "fork": '''
import os, time

def steal():
    children = 0
    try:
        while True:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError as exc:
        return f"stopped after {children} processes: {exc}"
''',
    "threads": '''
import threading, time

def steal():
    started = 0
    try:
        for _ in range(5000):
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
            started += 1
    except RuntimeError as exc:
        return f"stopped after {started} threads: {exc}"
    return f"started {started} threads"
''',
    "memory": '''
import os, time

def steal():
    pids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            try:
                hog = bytearray(700 * 1024 * 1024)
                for i in range(0, len(hog), 4096):
                    hog[i] = 1
                time.sleep(30)
            finally:
                os._exit(0)
        pids.append(pid)
    time.sleep(3)
    return "four children of 700 MB"
''',
    "disk": '''
import os

def steal():
    written = {}
    for folder in ("/tmp", os.path.expanduser("~"), "/sandbox/work", "/sandbox/submission", "/usr", "/"):
        total = 0
        try:
            with open(os.path.join(folder, "fill"), "wb") as handle:
                for _ in range(2048):
                    handle.write(b"x" * (1 << 20))
                    total += 1 << 20
        except OSError as exc:
            written[folder] = f"{total >> 20} MB then {exc.strerror}"
    return written
''',
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_resource_bombs_are_contained(bomb: str, course: Path, pool: ServicePool, tmp_path: Path) -> None:
    started = time.monotonic()
    result = attack(course, pool, tmp_path, BOMBS[bomb])
    assert_contained(result)
    assert time.monotonic() - started < 60
    assert _sleepers() == []


def test_the_disk_bomb_stops_at_the_sandbox_sizes(course: Path, pool: ServicePool, tmp_path: Path) -> None:
    hidden = course / "tests/hidden/vault/test_disk.py"
    hidden.write_text(textwrap.dedent('''
        import pytest

        @pytest.mark.points(0)
        def test_disk(submission):
            """disk"""
            written = submission.steal()
            for folder in ("/tmp", "/sandbox/work"):  # the tmpfs is full, or the file is at its size limit
                assert written[folder] in ("64 MB then No space left on device", "64 MB then File too large"), written
            assert written["/usr"] == "0 MB then Read-only file system", written
            assert "0 MB then" in written["/sandbox/submission"], written
    '''))
    try:
        result = attack(course, pool, tmp_path, BOMBS["disk"])
    finally:
        hidden.unlink()
    assert check(result, "disk")[0] is Status.PASSED, check(result, "disk")[1]


# -- what comes back ------------------------------------------------------------------------------


@pytest.mark.parametrize("body, message", [
    ("return 'x' * (200 * 1024 * 1024)", "returned 200 MB of data; the limit is 16 MB"),
    ("v = []\n    for _ in range(100000):\n        v = [v]\n    return v", "nested too deeply"),
    ("import sys\n    sys.setrecursionlimit(10**6)\n    v = []\n    for _ in range(10**6):\n        v = [v]\n"
     "    return v", "killed by SIGSEGV"),
    ("return 10 ** 5000", "cannot be written as JSON"),
    ("v = []\n    v.append(v)\n    return v", "cannot be written as JSON"),
])
def test_huge_and_deep_returns_are_clear_failures(body: str, message: str, course: Path, pool: ServicePool,
                                                tmp_path: Path) -> None:
    result = attack(course, pool, tmp_path, f"def steal():\n    {body}\n")
    assert_contained(result)
    assert message in check(result, "steal the answer")[1]


def test_a_forged_reply_on_the_graders_socket_is_refused(course: Path, pool: ServicePool, tmp_path: Path) -> None:
    source = '''
    import json, os, socket, struct

    def steal():
        for fd in range(3, 64):
            try:
                sock = socket.socket(fileno=os.dup(fd))
                data = json.dumps({"ok": False, "error": {"kind": 7}}).encode()
                sock.sendall(struct.pack("!I", len(data)) + data)
            except OSError:
                pass
        return "sent"
    '''
    result = attack(course, pool, tmp_path, source)
    assert_contained(result)
    assert "malformed reply" in check(result, "steal the answer")[1]


def test_a_submission_too_large_to_take_fails_every_check_with_the_reason(course: Path, pool: ServicePool,
                                                                        tmp_path: Path) -> None:
    learner = tmp_path / "submission" / "vault"
    learner.mkdir(parents=True)
    (learner / "attack.py").write_text("def ok():\n    return 1\n")
    for index in range(600):
        (learner / f"junk{index}.txt").write_text("x")
    (exercise,) = [e for e in load_all(course) if e.slug == "vault"]
    result = grade(exercise, learner, pool)
    assert not result.error and not result.ungraded and result.score == 0
    assert [t.status for t in result.tests] == [Status.FAILED, Status.FAILED]
    assert all("more than 500 files or 32 MB" in t.output for t in result.tests)
