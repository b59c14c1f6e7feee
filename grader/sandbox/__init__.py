"""The trust boundary: learner Python runs in worker processes, never in the grader's process.

`Sandbox` starts one template process (worker.py) that imports the learner's module under resource
limits, inside a namespace sandbox where the machine allows one (jail.py); `Sandbox.session()` gives
each test a fresh forked child of it. Arguments and results cross as JSON over a socket; nothing from
the worker is ever unpickled or executed here, and what it sends is bounded in size before it is read.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NoReturn, Sequence

from grader.errors import SandboxError
from grader.sandbox import worker as _worker
from grader.sandbox.jail import (INSIDE, NAMESPACES, NOBODY, PROCESS, TMP_MB, WORK_MB, Cgroup, Jail, Level,
                                 detect, process_gone, write_etc)

__all__ = ["Sandbox", "WorkerSession", "SubmissionProxy", "SubmissionError", "SubmissionTimeout",
           "Level", "detect", "NAMESPACES", "PROCESS", "snapshot", "describe_call", "worker_base_env",
           "scratch_folder"]

WORKER = Path(_worker.__file__)
WORKER_FLAGS = ("-I", "-S", "-B")  # isolated, no site import (worker.py adds site_folders()), no .pyc
# worker.py is imported as a module, not run as a script: a script is compiled from source on every
# start (10 ms of CPU), a module loads from the bytecode beside it when that matches the source
# (written by pip at install, or by the grader's own import of it); sys.argv is then [-c, CONFIG].
# The import system's own modules serve rather than importlib.util (which imports contextlib and functools).
WORKER_BOOT = ("import sys, _frozen_importlib as b, _frozen_importlib_external as e; "
               "s = e.spec_from_file_location('_grader_worker', sys.argv.pop(1)); "
               "m = sys.modules[s.name] = b.module_from_spec(s); s.loader.exec_module(m); m.main()")


def worker_command(path: str, config: dict[str, Any]) -> list[str]:
    """The command line that starts the worker at `path` (as the worker's Python sees it) with `config`."""
    return [sys.executable, *WORKER_FLAGS, "-c", WORKER_BOOT, path, json.dumps(config)]
MAX_FILES = 500  # a submission folder holding more is refused, as is one over MAX_BYTES
MAX_BYTES = 32 * 1024 * 1024
SKIPPED = ("__pycache__", ".git", ".venv", "venv", "node_modules")
MAX_RESTARTS = 3  # template workers started again in one grade after learner code killed one
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


_SCRATCH = re.compile(r"^grader-(?P<kind>[a-z]+)-(?P<pid>[0-9]+)-")
_reaped: set[str] = set()


def reap_stale_scratch(kind: str, root: str | None = None) -> list[str]:
    """Remove this user's scratch folders of `kind` in `root` (default: the temporary folder) whose process
    is gone: a worker killed in the middle of a grade (SIGKILL, out of memory, a Dask worker lost) never ran
    its clean-up. A folder of a live process, or of another user, is left alone. Returns the folders removed."""
    removed = []
    root = Path(root or tempfile.gettempdir())
    for folder in root.glob(f"grader-{kind}-*"):
        match = _SCRATCH.match(folder.name)
        if not match or match["kind"] != kind:
            continue
        with contextlib.suppress(OSError):
            if folder.lstat().st_uid != os.geteuid() or not folder.is_dir() or folder.is_symlink():
                continue
            if process_gone(int(match["pid"])):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(str(folder))
    return removed


def scratch_folder(kind: str, root: str | None = None) -> str:
    """A new private scratch folder named for this process (`grader-<kind>-<pid>-...` in `root`, default
    the temporary folder); the first call of a process for `kind` and `root` removes what dead processes
    left of that kind there."""
    key = kind if root is None else f"{kind} in {root}"
    if key not in _reaped:
        _reaped.add(key)
        reap_stale_scratch(kind, root)
    return tempfile.mkdtemp(prefix=f"grader-{kind}-{os.getpid()}-", dir=root)


@functools.cache
def site_folders() -> list[str]:
    """The site-packages folders of this interpreter that exist, as `site` puts them on sys.path: the
    worker starts without `site` and appends them itself."""
    import site

    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages() in sys.path:
        folders.append(site.getusersitepackages())
    return [folder for folder in folders if os.path.isdir(folder)]


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


def snapshot(source: Path, target: Path) -> list[str]:
    """Copy the regular files of a submission folder into `target`; the names of what was left out.

    Symbolic links are never followed (a link to the reference solution must not be graded as the
    learner's work) and caches are skipped; a folder over MAX_FILES files or MAX_BYTES is refused."""
    left_out: list[str] = []
    count = size = 0
    target.mkdir(parents=True, exist_ok=True)
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        relative = here.relative_to(source)
        for name in list(dirs):
            if name in SKIPPED or (here / name).is_symlink():
                dirs.remove(name)
                if (here / name).is_symlink():
                    left_out.append(str(relative / name))
                continue
            (target / relative / name).mkdir(exist_ok=True)
        for name in files:
            path = here / name
            if path.is_symlink() or not path.is_file():
                left_out.append(str(relative / name))
                continue
            count += 1
            size += path.stat().st_size
            if count > MAX_FILES or size > MAX_BYTES:
                raise SubmissionError(
                    f"The submission folder holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MB; "
                    "hand in only the files of the exercise.")
            shutil.copyfile(path, target / relative / name)
    return left_out


class Sandbox:
    """The learner's module imported in a template worker, ready to fork a child per test."""

    def __init__(
        self,
        learner_dir: Path | None,
        module: str | None,
        *,
        timeout: float,
        env: dict[str, str] | None = None,
        channels: dict[str, str] | None = None,
        folders: dict[str, tuple[str, bool]] | None = None,
        memory_mb: int = 1024,
        nproc: int = 64,
        display_dir: str = "",
        warm: list[str] | tuple[str, ...] = (),
        quick_waiters: bool = False,
        hidden: list[Path] | tuple[Path, ...] = (),
        level: Level | None = None,
    ) -> None:
        self.learner_dir = Path(learner_dir or ".")
        self.module = module  # None: started ahead of its submission, see load()
        self.timeout = timeout
        self.import_timeout = max(timeout, 5.0) + 10.0
        self.env = {**worker_base_env(), **(env or {})}
        self.channels = dict(channels or {})  # env var naming a service URL -> its Unix socket
        self.folders = dict(folders or {})  # env var naming a service's folder -> (its path, writable)
        self.memory_mb = memory_mb
        self.nproc = nproc
        self.display_dir = display_dir or str(learner_dir)
        self.warm = list(warm)  # boto3 services whose models the template loads before forking
        self.quick_waiters = quick_waiters  # boto3's waiters poll at once (an endpoint whose resources are ready)
        self.hidden = [Path(p) for p in hidden]  # paths no bound folder may show the worker
        self.level = level or detect()
        # Service addresses (a random port each run) are shown by name, so feedback is the same twice.
        self._redactions = sorted(((value.rstrip("/"), f"${name}") for name, value in (env or {}).items()
                                   if name.endswith("_URL") and "://" in value), reverse=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._scratch: str | None = None
        self._import_error: str | None = None
        self._ready = False
        self._info = -1  # read end of bwrap's --info-fd
        self._pidfd = -1  # the sandbox's first process: when it has ended, every process in it has
        self._cgroup: Cgroup | None = None
        self._restarts = 0
        self._requests = threading.Lock()  # the template's control socket, shared by concurrent sessions
        self._as_nobody = False  # process level, as uid 65534: files copied in later change owner too
        self.failure = ""  # set when the sandbox itself (not learner code) failed

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the template worker; returns at once (the import goes on in the background).

        A sandbox made without a module is started ahead of its submission: its worker loads the
        interpreter and warms its clients, then waits for `load()`."""
        if self._proc is not None or self._import_error is not None:
            return
        if self.module is not None and not self._found():
            return
        self._scratch = scratch_folder("worker")
        learner_copy = Path(self._scratch) / "submission"
        learner_copy.mkdir()
        if self.module is not None and not self._copy_in():
            return
        ours, theirs = socket.socketpair()
        config: dict[str, Any] = {
            "ctrl_fd": theirs.fileno(),
            "module": self.module,
            "memory_mb": self.memory_mb,
            "nproc": self.nproc,
            "fsize_mb": 64,
            "cpu_s": int(max(60, 4 * self.import_timeout)),
            "warm": self.warm,
            "quick_waiters": self.quick_waiters,
            "site": site_folders(),
        }
        try:
            if self.level.name == NAMESPACES:
                self._proc = self._spawn_jailed(config, learner_copy, theirs)
            else:
                self._proc = self._spawn_process(config, learner_copy, theirs)
        except OSError as exc:
            ours.close()
            theirs.close()
            self._fail(f"the sandbox could not start: {exc}")
        theirs.close()
        self._ctrl = ours

    def _found(self) -> bool:
        """Whether the learner's module file is there; else the import error that says so."""
        source = self.learner_dir / f"{self.module}.py"
        if source.is_file() and not source.is_symlink():
            return True
        self._import_error = (
            f"{self.display_dir}/{self.module}.py was not found. Create it (start from the stub "
            "the exercise gave you) and grade again."
        )
        return False

    def _copy_in(self) -> bool:
        """Copy the submission into the worker's folder; False (an import error set) when refused."""
        learner_copy = Path(self._scratch or "") / "submission"
        try:
            snapshot(self.learner_dir, learner_copy)
        except SubmissionError as exc:
            self._import_error = str(exc)
            return False
        if self._as_nobody:
            for path in (learner_copy, *learner_copy.rglob("*")):
                os.chown(path, NOBODY, NOBODY)
        return True

    def load(self, learner_dir: Path, module: str, *, display_dir: str = "") -> None:
        """Hand a worker started ahead of its submission the learner's files, and import them."""
        if self.module is not None:
            raise RuntimeError("this sandbox already holds a submission")
        self.learner_dir, self.module = Path(learner_dir), module
        self.display_dir = display_dir or str(learner_dir)
        if self._proc is None or not self.alive:
            self.close()
            self._proc, self._ready = None, False
            self.start()
            return
        if not self._found() or not self._copy_in():
            self._kill_template()
            return
        if self._ctrl is not None:
            try:
                _worker.send(self._ctrl, {"op": "load", "module": module})
            except OSError:
                pass  # the worker is gone: _wait_ready says how it ended

    @property
    def alive(self) -> bool:
        """Whether the worker process is still running (a spare may have been ended meanwhile)."""
        return self._proc is not None and self._proc.poll() is None and self._ctrl is not None

    @property
    def import_error(self) -> str | None:
        """Why the learner's module could not be imported (the same message for every check), if so."""
        return self._import_error

    def _spawn_jailed(self, config: dict[str, Any], learner_copy: Path,
                      theirs: socket.socket) -> subprocess.Popen[bytes]:
        """The worker in a namespace sandbox: bubblewrap, in a cgroup of its own where one can be had."""
        scratch = Path(self._scratch or "")
        write_etc(scratch)
        sockets, routes, env = [], [], dict(self.env)
        for index, (name, path) in enumerate(sorted(self.channels.items())):
            url = urllib.parse.urlsplit(env[name])
            port = url.port or (443 if url.scheme == "https" else 80)
            inside = str(INSIDE / "run" / f"{index}.sock")
            sockets.append((path, inside))
            routes.append((port, inside))
            # the service is at 127.0.0.1 inside, whatever host it has outside; credentials stay
            userinfo = url.netloc.rpartition("@")[0]
            netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
            env[name] = urllib.parse.urlunsplit(url._replace(netloc=netloc))
            self._redactions = sorted({*self._redactions, (env[name].rstrip("/"), f"${name}")}, reverse=True)
        folders = []
        for index, (name, (path, writable)) in enumerate(sorted(self.folders.items())):
            inside = str(INSIDE / "share" / str(index))
            folders.append((path, inside, writable))
            env[name] = inside
        if self.level.cap == "cgroup":
            memory = (self.memory_mb + TMP_MB + WORK_MB) << 20
            self._cgroup = Cgroup.create(pids=self.nproc, memory_bytes=memory)
        config.update(learner_dir=str(INSIDE / "submission"), forward=routes,
                      nproc=0 if self.level.cap != "rlimit" else self.nproc)
        env.update(HOME=str(INSIDE / "work"), TMPDIR="/tmp", USER="learner")
        jail = Jail(self.level.bwrap, learner_dir=learner_copy, scratch=scratch, sockets=sockets,
                    folders=folders, hidden=self.hidden, env=env)
        info_read, info_write = os.pipe()
        command = worker_command(str(INSIDE / "lib" / WORKER.name), config)
        argv = jail.argv(command)
        argv[1:1] = ["--info-fd", str(info_write)]
        if self._cgroup is not None:
            argv = self._cgroup.join_command(argv)
        try:
            proc = subprocess.Popen(argv, pass_fds=[theirs.fileno(), info_write], env={"PATH": "/usr/bin:/bin"},
                                    cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, start_new_session=True)
        finally:
            os.close(info_write)
        self._info = info_read
        os.set_blocking(proc.stderr.fileno(), False)  # type: ignore[union-attr]
        return proc

    def _spawn_process(self, config: dict[str, Any], learner_copy: Path,
                       theirs: socket.socket) -> subprocess.Popen[bytes]:
        """The worker as a plain child process, as an unprivileged uid where one can run this Python."""
        work = Path(self._scratch or "") / "work"
        work.mkdir()
        config["learner_dir"] = str(learner_copy)
        env = {**self.env, "HOME": str(work), "TMPDIR": str(work)}
        env.update({name: path for name, (path, _) in self.folders.items()})
        kwargs: dict[str, Any] = {}
        if _can_drop_privileges():
            self._as_nobody = True
            writable = [Path(path) for path, can_write in self.folders.values() if can_write]
            for path in (Path(self._scratch or ""), learner_copy, work, *learner_copy.rglob("*"), *writable):
                os.chown(path, NOBODY, NOBODY)
            kwargs = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
        else:
            config["nproc"] = 0  # RLIMIT_NPROC counts every process of the user: only for a uid of its own
        return subprocess.Popen(
            worker_command(str(WORKER), config),
            pass_fds=[theirs.fileno()], env=env, cwd=work, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **kwargs,
        )

    def _fail(self, message: str) -> NoReturn:
        """The sandbox itself failed: a fault of the grader's machine, never the learner's."""
        self.failure = message
        raise SandboxError(message)

    def _jail_complaint(self) -> str:
        """What bwrap said before the worker started, when it could not build the sandbox."""
        if self._proc is None or self._proc.stderr is None:
            return ""
        try:
            said = self._proc.stderr.read(4096) or b""
        except (OSError, ValueError):
            return ""
        lines = [line for line in said.decode(errors="replace").splitlines() if line.startswith("bwrap:")]
        return lines[-1] if lines else ""

    def _wait_ready(self) -> None:
        if self._ready:
            return
        if self.failure:
            raise SandboxError(self.failure)
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
        except (OSError, ValueError):
            status = None
        if status is None:
            code = self._proc.wait(timeout=10)
            complaint = self._jail_complaint()
            self._close_ctrl()
            if complaint:
                self._fail(f"the sandbox could not start ({complaint})")
            self._import_error = self._ended(code, f"while {self.module}.py was being imported")
            raise SubmissionError(self._import_error)
        self._watch_first_process()
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

    def _watch_first_process(self) -> None:
        """Hold a pidfd of the sandbox's first process (bwrap wrote its pid before the worker ran)."""
        if self._info < 0:
            return
        data = b""
        with contextlib.suppress(OSError):
            os.set_blocking(self._info, False)
            while chunk := os.read(self._info, 4096):
                data += chunk
        os.close(self._info)
        self._info = -1
        match = re.search(rb'"child-pid":\s*(\d+)', data)
        if match and hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(int(match.group(1)))

    def _ended(self, code: int, when: str) -> str:
        if code > 128 and self.level.name == NAMESPACES:  # bwrap reports a child killed by signal N as 128 + N
            with contextlib.suppress(ValueError):
                code = -signal.Signals(code - 128)
        if code < 0:
            name = signal.Signals(-code).name
            hint = {"SIGKILL": " (it ran out of memory, or your code killed it)", "SIGXCPU": " (it used up its CPU time)",
                    "SIGSEGV": " (a crash: a recursion too deep, or a fault in compiled code)"}.get(name, "")
            return f"The process running your code was killed by {name}{hint} {when}."
        if code == 0 and self.level.name == NAMESPACES:
            code = 1  # bwrap reports a child killed by a signal as a plain failure
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

    def _request(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> dict[str, Any] | None:
        """One request to the template and its reply (None when it is gone)."""
        with self._requests:
            if self._ctrl is None:
                return None
            self._ctrl.settimeout(30)
            try:
                socket.send_fds(self._ctrl, [json.dumps(message).encode()], list(fds))
                reply = _worker.recv(self._ctrl, limit=4096)
            except (OSError, ValueError):
                return None
        return reply if isinstance(reply, dict) else None

    def _fork(self) -> tuple[socket.socket, int]:
        self._wait_ready()
        ours, theirs = socket.socketpair()
        reply = self._request({"op": "fork"}, (theirs.fileno(),))
        if reply is None and self._restarts < MAX_RESTARTS:
            # learner code of an earlier test killed the template: import afresh, once per such test
            self._restarts += 1
            self.close()
            self._proc, self._ready = None, False
            self._wait_ready()
            reply = self._request({"op": "fork"}, (theirs.fileno(),))
        theirs.close()
        if reply is None:
            ours.close()
            raise SubmissionError("The process holding your imported code stopped unexpectedly.")
        if not reply.get("pid"):
            ours.close()
            raise SubmissionError(
                "No new process could be started for this check: your code has reached the limit of "
                f"{self.nproc} processes and threads. Do processes or threads started by your code end?")
        return ours, int(reply["pid"])

    def _exit_status(self, pid: int) -> int:
        reply = self._request({"op": "status", "pid": pid})
        if reply is None or "status" not in reply:
            return 0
        raw = int(reply["status"])
        return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)

    def _kill_child(self, pid: int) -> None:
        """Kill one test's child (the template does it: inside a sandbox its pids are not ours)."""
        if self._request({"op": "kill", "pid": pid}) is None:
            self._kill_template()  # the template does not answer: end the whole sandbox
        else:
            self._exit_status(pid)

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
        """Stop the template and every process of the sandbox, and wait until they are gone."""
        self._stop_processes()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _stop_processes(self) -> None:
        self._kill_template()
        if self._info >= 0:
            self._watch_first_process()
        if self._pidfd >= 0:
            # the first process (bubblewrap's PID 1) ends with its parent, unless that parent was
            # killed before PID 1 had asked for it: kill it, which ends every process of the sandbox
            with contextlib.suppress(OSError, AttributeError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            select.select([self._pidfd], [], [], 10)  # readable once the first process has ended
            os.close(self._pidfd)
            self._pidfd = -1
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        if self._cgroup is not None:
            self._cgroup.close()
            self._cgroup = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _well_formed(reply: Any) -> bool:
    """Whether a worker's reply has the shape worker.py sends (learner code can write to the socket)."""
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        return False
    if not isinstance(reply.get("printed", ""), str):
        return False
    if reply["ok"]:
        return "value" in reply
    error = reply.get("error")
    return isinstance(error, dict) and all(isinstance(error.get(k), str)
                                           for k in ("kind", "type", "message", "traceback"))


REPLY_LIMIT = _worker.MAX_REPLY + 2 * _worker.MAX_PRINTED + 4096  # one reply, as the grader reads it


def _request_bytes(fn: str, request: dict[str, Any]) -> bytes:
    """A request as the worker reads it; TypeError when an argument is not a JSON value."""
    try:
        data = json.dumps(request).encode()
    except TypeError as exc:
        raise TypeError(f"arguments to {fn} must be JSON values: {exc}") from None
    return _worker.HEADER.pack(len(data)) + data


class _Replies:
    """The replies a child sends to one request (one call, or several with call_each), read as they
    come (often several in one read) and handed out one at a time."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = bytearray()

    def _fill(self, size: int) -> bool:
        while len(self.buffer) < size:
            chunk = self.conn.recv(min(max(size - len(self.buffer), 1 << 16), 1 << 20))
            if not chunk:
                return False
            self.buffer += chunk
        return True

    def next(self, limit: int) -> Any:
        """The next reply (None when the child closed the socket); TooLarge over `limit` bytes."""
        header = _worker.HEADER.size
        if not self._fill(header):
            return None
        (size,) = _worker.HEADER.unpack_from(self.buffer)
        if size > limit:
            raise _worker.TooLarge(f"a message of {size} bytes (the limit is {limit})")
        if not self._fill(header + size):
            return None
        data = bytes(self.buffer[header:header + size])
        del self.buffer[:header + size]
        return json.loads(data)


class WorkerSession:
    """Calls into the learner's module from one test, on a child forked for that test."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._conn: socket.socket | None = None
        self._pid = 0

    def start(self) -> int:
        """Fork this test's child now (else the first call does); its pid as the sandbox sees it.

        Sessions that call at the same time from several threads must each be started first."""
        if self._conn is None:
            self._conn, self._pid = self.sandbox._fork()
        return self._pid

    def call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Call `fn(*args, **kwargs)` in the worker; its JSON result, or SubmissionError."""
        data = _request_bytes(fn, {"fn": fn, "args": list(args), "kwargs": kwargs})
        if self._conn is None:
            self._conn, self._pid = self.sandbox._fork()
        conn = self._conn
        shown = lambda: self.sandbox.redact(describe_call(fn, args, kwargs))  # noqa: E731
        started = time.monotonic()

        def exchange() -> Any:
            conn.sendall(data)
            return _Replies(conn).next(limit=REPLY_LIMIT)

        reply = self._reply(exchange, shown)
        self.elapsed = time.monotonic() - started
        return self._value(fn, reply, shown)

    def call_each(self, fn: str, items: Iterable[Sequence[Any]]) -> list[tuple[bool, Any]]:
        """Call `fn(*args)` once for every `args` of `items`, in order, in one request to the worker.

        Per item, (True, its JSON result) or (False, its SubmissionError), as `call` would have
        returned or raised. The list ends at the first item that failed: the worker runs no item after
        it (a loop of single calls would not have either), and after a timeout or the end of the child
        no later item could run. Each item has the time limit of one call."""
        calls = [list(args) for args in items]
        if not calls:
            return []
        data = _request_bytes(fn, {"fn": fn, "each": calls})
        shown = lambda index: lambda: self.sandbox.redact(describe_call(fn, tuple(calls[index]), {}))  # noqa: E731
        try:
            if self._conn is None:
                self._conn, self._pid = self.sandbox._fork()
        except SubmissionError as exc:  # the first call would have raised it
            return [(False, exc)]
        conn = self._conn
        replies = _Replies(conn)
        outcomes: list[tuple[bool, Any]] = []
        for index in range(len(calls)):

            def exchange(first: bool = index == 0) -> Any:
                if first:
                    conn.sendall(data)
                return replies.next(limit=REPLY_LIMIT)

            try:
                reply = self._reply(exchange, shown(index))
                outcomes.append((True, self._value(fn, reply, shown(index))))
            except SubmissionError as exc:
                outcomes.append((False, exc))
                break
        return outcomes

    def _reply(self, exchange: Callable[[], Any], shown: Callable[[], str]) -> dict[str, Any]:
        """The worker's reply to one call, read by `exchange` (which may send the request first) within
        the time limit; SubmissionError (the child killed) when it does not come or is not a reply."""
        timeout = self.sandbox.timeout
        assert self._conn is not None
        self._conn.settimeout(timeout)
        try:
            reply = exchange()
        except socket.timeout:
            self._kill()
            raise SubmissionTimeout(
                f"{shown()} timed out after {timeout:g} s and was stopped. Look for a loop that never "
                "ends, or work that grows far faster than the input."
            ) from None
        except _worker.TooLarge:
            self._kill()
            raise SubmissionError(f"{shown()} sent back more than {_worker.MAX_REPLY >> 20} MB; return only "
                                  "what was asked for.") from None
        except (RecursionError, ValueError, UnicodeDecodeError):
            self._kill()
            raise SubmissionError(f"{shown()}: the process running your code sent a reply that is not "
                                  "valid JSON (did your code write to the grader's socket?).") from None
        except OSError:
            reply = None
        if reply is None:
            pid = self._pid
            self._drop()
            code = self.sandbox._exit_status(pid)
            raise SubmissionError(self.sandbox._ended(code, f"while running {shown()}"))
        if not _well_formed(reply):
            self._kill()
            raise SubmissionError(f"{shown()}: the process running your code sent a malformed reply (did "
                                  "your code write to the grader's socket?).")
        return reply

    def _value(self, fn: str, reply: dict[str, Any], shown: Callable[[], str]) -> Any:
        """The value of a well-formed reply, or the SubmissionError it reports."""
        if reply["ok"]:
            return reply["value"]
        error = reply["error"]
        message = _with_printed(self._explain(fn, shown(), error), reply.get("printed", ""))
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
            self.sandbox._kill_child(self._pid)
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._pid = 0

    def close(self) -> None:
        """End this test's child, and in a namespace sandbox every process the test left running."""
        if self._conn is not None:
            self._conn.close()  # the child sees EOF and exits
            if self.sandbox.level.name == NAMESPACES:
                self.sandbox._request({"op": "clean"})
        self._conn = None
        self._pid = 0


class SubmissionProxy:
    """`submission.fn(...)` calls the learner's `fn` in this test's worker child."""

    def __init__(self, session: WorkerSession) -> None:
        self._session = session

    @property
    def pid(self) -> int:
        """The pid of this proxy's child inside the sandbox (0 until it is forked)."""
        return self._session._pid

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._session.call(name, *args, **kwargs)

    def call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Call a learner function by name."""
        return self._session.call(fn, *args, **kwargs)

    def call_each(self, fn: str, items: Iterable[Sequence[Any]]) -> Iterator[Any]:
        """`fn(*args)` for every `args` of `items`, in one round trip to the worker: the results in
        order, as if each were called in turn. An item that failed raises its SubmissionError when
        the iteration reaches it (the worker ran nothing after it)."""
        return _in_turn(self._session.call_each(fn, items))


def _in_turn(outcomes: list[tuple[bool, Any]]) -> Iterator[Any]:
    for ok, value in outcomes:
        if not ok:
            raise value
        yield value
