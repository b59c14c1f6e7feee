"""The trust boundary: learner Python runs in worker processes, never in the grader's process.

`Sandbox` starts one template process (grader/_worker.py) that imports the learner's module under
resource limits; `Sandbox.session()` gives each test a fresh forked child of it. Arguments and
results cross as JSON over a socket; nothing from the worker is ever unpickled or executed here.
"""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from grader import _worker

WORKER = Path(_worker.__file__)
NOBODY = 65534
MAX_SHOWN = 400
LOOPBACK = re.compile(r"https?://(?:127\.0\.0\.1|localhost):[0-9]+")


class SubmissionError(AssertionError):
    """Learner code failed: the message is what the learner reads (their own traceback)."""

    def __init__(self, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type  # the learner's exception class name, when one was raised


class SubmissionTimeout(SubmissionError):
    """Learner code ran past its time limit and was stopped."""


def _short(value: Any, limit: int = 80) -> str:
    """An argument as a learner would recognise it, in at most about `limit` characters."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        lines = value.count("\n")
        more = f" ... ({lines} lines)" if lines > 1 else f" ... ({len(value)} characters)"
        return json.dumps(value[:40], ensure_ascii=False)[:-1] + more + '"'
    if isinstance(value, list):
        return f"[{_short(value[0], 30)}, ... {len(value)} items]" if value else "[]"
    if isinstance(value, dict):
        return "{" + f"... {len(value)} keys" + "}"
    return text[: limit - 3] + "..."


def describe_call(fn: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`fn(arg, key=value)` as a learner would write the call, shortened."""
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    text = f"{fn}({', '.join(parts)})"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 4] + "...)"


def _with_printed(message: str, printed: str) -> str:
    if printed.strip():
        return f"{message}\nYour code printed:\n{printed.rstrip()}"
    return message


@functools.cache
def _can_drop_privileges() -> bool:
    """True when running as root and an unprivileged user can start this Python."""
    if os.geteuid() != 0:
        return False
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", "import json, socket"],
            user=NOBODY, group=NOBODY, extra_groups=[], cwd="/",
            capture_output=True, timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def worker_base_env() -> dict[str, str]:
    """The environment learner code sees: nothing of the grader's own."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MALLOC_ARENA_MAX": "2",
        "TZ": "UTC",
    }
    if "VIRTUAL_ENV" in os.environ:
        env["VIRTUAL_ENV"] = os.environ["VIRTUAL_ENV"]
    return env


class Sandbox:
    """The learner's module imported in a template worker, ready to fork a child per test."""

    def __init__(
        self,
        learner_dir: Path,
        module: str,
        *,
        timeout: float,
        env: dict[str, str] | None = None,
        memory_mb: int = 1024,
        nproc: int = 64,
        display_dir: str = "",
        warm: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.learner_dir = Path(learner_dir)
        self.module = module
        self.timeout = timeout
        self.import_timeout = max(timeout, 5.0) + 10.0
        self.env = {**worker_base_env(), **(env or {})}
        self.memory_mb = memory_mb
        self.nproc = nproc
        self.display_dir = display_dir or str(learner_dir)
        self.warm = list(warm)  # boto3 services whose models the template loads before forking
        # Service addresses (a random port each run) are shown by name, so feedback is the same twice.
        self._redactions = sorted(((value.rstrip("/"), f"${name}") for name, value in (env or {}).items()
                                   if name.endswith("_URL") and "://" in value), reverse=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._scratch: str | None = None
        self._import_error: str | None = None
        self._ready = False

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the template worker; returns at once (the import goes on in the background)."""
        if self._proc is not None or self._import_error is not None:
            return
        source = self.learner_dir / f"{self.module}.py"
        if not source.is_file():
            self._import_error = (
                f"{self.display_dir}/{self.module}.py was not found. Create it (start from the stub "
                "the exercise gave you) and grade again."
            )
            return
        self._scratch = tempfile.mkdtemp(prefix="grader-worker-")
        learner_copy = Path(self._scratch) / "submission"
        shutil.copytree(self.learner_dir, learner_copy, ignore=shutil.ignore_patterns("__pycache__"))
        work = Path(self._scratch) / "work"
        work.mkdir()
        ours, theirs = socket.socketpair()
        config = {
            "ctrl_fd": theirs.fileno(),
            "learner_dir": str(learner_copy),
            "module": self.module,
            "memory_mb": self.memory_mb,
            "nproc": self.nproc,
            "fsize_mb": 256,
            "warm": self.warm,
        }
        env = {**self.env, "HOME": str(work), "TMPDIR": str(work)}
        kwargs: dict[str, Any] = {}
        if _can_drop_privileges():
            for path in (Path(self._scratch), learner_copy, work, *learner_copy.rglob("*")):
                os.chown(path, NOBODY, NOBODY)
            kwargs = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
        else:
            config["nproc"] = 0  # RLIMIT_NPROC counts every process of the user: only for a uid of its own
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), json.dumps(config)],
            pass_fds=[theirs.fileno()],
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )
        theirs.close()
        self._ctrl = ours

    def _wait_ready(self) -> None:
        if self._ready:
            return
        self.start()
        if self._import_error is not None:
            raise SubmissionError(self._import_error)
        assert self._ctrl is not None and self._proc is not None
        self._ctrl.settimeout(self.import_timeout)
        try:
            status = _worker.recv(self._ctrl)
        except socket.timeout:
            self._kill_template()
            self._import_error = (
                f"Importing {self.module}.py did not finish within {self.import_timeout:g} s. Does your "
                "file run a long or endless loop at the top level? Put work inside functions."
            )
            raise SubmissionError(self._import_error) from None
        if status is None:
            code = self._proc.wait(timeout=10)
            self._import_error = self._ended(code, f"while {self.module}.py was being imported")
            self._close_ctrl()
            raise SubmissionError(self._import_error)
        if not status["ready"]:
            error = status["error"]
            if error["kind"] == "exit":
                text = (f"{self.module}.py called sys.exit({error['message']}) while being imported; "
                        "a module the grader imports must not exit.")
            else:
                text = f"Your file {self.module}.py could not be imported:\n{error['traceback'].rstrip()}"
            self._import_error = _with_printed(text, status.get("printed", ""))
            self._proc.wait(timeout=10)
            self._close_ctrl()
            raise SubmissionError(self._import_error)
        self._ready = True

    def _ended(self, code: int, when: str) -> str:
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (it ran out of memory)" if name == "SIGKILL" else ""
            return f"The process running your code was killed by {name}{hint} {when}."
        return (f"The process running your code exited with code {code} {when}: does your code call "
                "os._exit() or sys.exit()? Return a value instead.")

    def redact(self, text: str) -> str:
        """`text` with every service address replaced by the variable that holds it."""
        for value, name in self._redactions:
            text = text.replace(value, name)
            if LOOPBACK.match(value):  # moto may echo the address of an earlier server in this process
                text = LOOPBACK.sub(name, text)
        return text

    def session(self) -> WorkerSession:
        """A fresh child of the template for one test."""
        return WorkerSession(self)

    def _fork(self) -> tuple[socket.socket, int]:
        self._wait_ready()
        assert self._ctrl is not None
        ours, theirs = socket.socketpair()
        self._ctrl.settimeout(30)
        socket.send_fds(self._ctrl, [json.dumps({"op": "fork"}).encode()], [theirs.fileno()])
        theirs.close()
        reply = _worker.recv(self._ctrl)
        if reply is None:
            raise SubmissionError("The process holding your imported code stopped unexpectedly.")
        return ours, int(reply["pid"])

    def _exit_status(self, pid: int) -> int:
        assert self._ctrl is not None
        self._ctrl.settimeout(5)
        try:
            socket.send_fds(self._ctrl, [json.dumps({"op": "status", "pid": pid}).encode()], [])
            reply = _worker.recv(self._ctrl)
        except OSError:
            return 0
        if reply is None:
            return 0
        raw = int(reply["status"])
        return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)

    def _kill_template(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait(timeout=10)
        self._close_ctrl()

    def _close_ctrl(self) -> None:
        if self._ctrl is not None:
            self._ctrl.close()
            self._ctrl = None

    def close(self) -> None:
        """Stop the template and every child it forked; remove the scratch folder."""
        self._kill_template()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WorkerSession:
    """Calls into the learner's module from one test, on a child forked for that test."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._conn: socket.socket | None = None
        self._pid = 0

    def call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Call `fn(*args, **kwargs)` in the worker; its JSON result, or SubmissionError."""
        shown = self.sandbox.redact(describe_call(fn, args, kwargs))
        try:
            payload = json.loads(json.dumps({"fn": fn, "args": list(args), "kwargs": kwargs}))
        except TypeError as exc:
            raise TypeError(f"arguments to {fn} must be JSON values: {exc}") from None
        if self._conn is None:
            self._conn, self._pid = self.sandbox._fork()
        conn = self._conn
        timeout = self.sandbox.timeout
        conn.settimeout(timeout)
        started = time.monotonic()
        try:
            _worker.send(conn, payload)
            reply = _worker.recv(conn)
        except socket.timeout:
            self._kill()
            raise SubmissionTimeout(
                f"{shown} timed out after {timeout:g} s and was stopped. Look for a loop that never "
                "ends, or work that grows far faster than the input."
            ) from None
        except (OSError, ValueError):
            reply = None
        if reply is None:
            pid = self._pid
            self._drop()
            code = self.sandbox._exit_status(pid)
            raise SubmissionError(self.sandbox._ended(code, f"while running {shown}"))
        self.elapsed = time.monotonic() - started
        if reply["ok"]:
            return reply["value"]
        error = reply["error"]
        message = _with_printed(self._explain(fn, shown, error), reply.get("printed", ""))
        raise SubmissionError(self.sandbox.redact(message),
                              error_type=error["type"] if error["kind"] == "exception" else "")

    def _explain(self, fn: str, shown: str, error: dict[str, Any]) -> str:
        module = f"{self.sandbox.module}.py"
        kind = error["kind"]
        if kind == "missing":
            return (f"{module} has no function named {fn}. Define `def {fn}(...)` at the top level "
                    "of the file, spelled exactly so.")
        if kind == "not_callable":
            return f"{module} defines {fn}, but as a {error['type']}, not a function."
        if kind == "exit":
            return f"{shown} called sys.exit({error['message']}); return a value instead."
        if kind == "unencodable":
            return f"{shown}: {error['message']}."
        last = error["traceback"].rstrip().splitlines()[-1] if error["traceback"].strip() else error["type"]
        return f"{shown} raised {last}\n{error['traceback'].rstrip()}"

    def _kill(self) -> None:
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self.sandbox._ctrl is not None:
                self.sandbox._exit_status(self._pid)
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._pid = 0

    def close(self) -> None:
        """End this test's child."""
        if self._conn is not None:
            self._conn.close()  # the child sees EOF and exits
        self._conn = None
        self._pid = 0


class SubmissionProxy:
    """`submission.fn(...)` calls the learner's `fn` in this test's worker child."""

    def __init__(self, session: WorkerSession) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._session.call(name, *args, **kwargs)

    def call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Call a learner function by name."""
        return self._session.call(fn, *args, **kwargs)
