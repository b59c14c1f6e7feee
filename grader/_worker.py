"""The sandbox worker: imports learner code and answers calls, in a process of its own.

Run as a script (`python -I _worker.py CONFIG_JSON`), never imported by the grader: it uses the
standard library only and speaks JSON over a socket. One template process imports the learner's
module once; for every test the grader hands it a socket, and it forks a child that serves the calls
of that test, so each test starts from the freshly imported module and a crash or a timeout only ever
kills one child.
"""
from __future__ import annotations

import datetime
import decimal
import io
import json
import os
import resource
import signal
import socket
import struct
import sys
import traceback
from typing import Any

MAX_MESSAGE = 64 * 1024 * 1024
MAX_PRINTED = 4000
HEADER = struct.Struct("!I")


def send(sock: socket.socket, obj: Any) -> None:
    data = json.dumps(obj, default=_to_json).encode()
    sock.sendall(HEADER.pack(len(data)) + data)


def recv(sock: socket.socket) -> Any:
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    data = _recv_exact(sock, size)
    return None if data is None else json.loads(data)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _to_json(value: Any) -> Any:
    """JSON for what boto3 hands learner code (Decimal numbers, sets); a clear refusal otherwise."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        raise TypeError(
            f"your function returned a {type(value).__name__} ({value!r}); return text instead, "
            "for example value.isoformat()"
        )
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "__iter__") and not isinstance(value, (str, dict)):
        return list(value)
    raise TypeError(
        f"your function returned a value of type {type(value).__name__}, which cannot be turned into "
        "JSON; return plain dicts, lists, strings, numbers, booleans or None"
    )


def _learner_traceback(exc: BaseException, learner_dir: str) -> str:
    """The traceback of `exc` through the learner's frames only; library frames folded to a count."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [i for i, f in enumerate(frames) if f.filename.startswith(learner_dir)]
    lines: list[str] = []
    if mine:
        lines.append("Traceback (most recent call last):\n")
        folded = 0
        for frame in frames[mine[0]:]:
            if not frame.filename.startswith(learner_dir):
                folded += 1
                continue
            if folded:
                lines.append(f"  ... {folded} frame{'s' if folded > 1 else ''} in library code\n")
                folded = 0
            frame.filename = os.path.relpath(frame.filename, learner_dir)
            lines.extend(traceback.format_list([frame]))
        if folded:
            lines.append(f"  ... {folded} frame{'s' if folded > 1 else ''} in library code\n")
    only = traceback.format_exception_only(type(exc), exc)
    text = "".join(lines + only)
    return text.replace(learner_dir + os.sep, "")


def _error(exc: BaseException, learner_dir: str, kind: str = "exception") -> dict[str, Any]:
    return {
        "kind": kind,
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": _learner_traceback(exc, learner_dir),
    }


def _set_limits(config: dict[str, Any]) -> None:
    memory = int(config.get("memory_mb") or 0) * 1024 * 1024
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    nproc = int(config.get("nproc") or 0)
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    fsize = int(config.get("fsize_mb") or 0) * 1024 * 1024
    if fsize:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class _Captured(io.StringIO):
    """What learner code printed during one call, kept short."""

    def write(self, text: str) -> int:
        if self.tell() < MAX_PRINTED:
            super().write(text[: MAX_PRINTED - self.tell()])
        return len(text)


def _serve(conn: socket.socket, module: Any, learner_dir: str) -> None:
    """Answer calls on `conn` until the grader closes it."""
    while True:
        try:
            request = recv(conn)
        except (OSError, ValueError):
            return
        if request is None:
            return
        name = request["fn"]
        printed = _Captured()
        sys.stdout = sys.stderr = printed
        try:
            function = getattr(module, name, None)
            if function is None:
                reply = {"ok": False, "error": {"kind": "missing", "type": "AttributeError",
                                                 "message": name, "traceback": ""}}
            elif not callable(function):
                reply = {"ok": False, "error": {"kind": "not_callable", "type": type(function).__name__,
                                                 "message": name, "traceback": ""}}
            else:
                value = function(*request.get("args", ()), **request.get("kwargs", {}))
                reply = {"ok": True, "value": value}
        except SystemExit as exc:
            reply = {"ok": False, "error": _error(exc, learner_dir, "exit")}
            reply["error"]["message"] = repr(exc.code)
        except BaseException as exc:  # the learner's exception, reported, never raised here
            reply = {"ok": False, "error": _error(exc, learner_dir)}
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        reply["printed"] = printed.getvalue()
        try:
            send(conn, reply)
        except TypeError as exc:  # a value json cannot encode
            send(conn, {"ok": False, "printed": reply["printed"],
                        "error": {"kind": "unencodable", "type": "TypeError", "message": str(exc),
                                  "traceback": ""}})
        except OSError:
            return


def main() -> None:
    config = json.loads(sys.argv[1])
    ctrl = socket.socket(fileno=int(config["ctrl_fd"]))
    learner_dir = os.path.realpath(config["learner_dir"])
    _set_limits(config)
    sys.path.insert(0, learner_dir)
    sys.argv = [os.path.join(learner_dir, config["module"] + ".py")]
    printed = _Captured()
    sys.stdout = sys.stderr = printed
    try:
        import importlib

        module = importlib.import_module(config["module"])
        status: dict[str, Any] = {"ready": True}
    except SystemExit as exc:
        status = {"ready": False, "error": _error(exc, learner_dir, "exit")}
        status["error"]["message"] = repr(exc.code)
    except BaseException as exc:
        status = {"ready": False, "error": _error(exc, learner_dir, "import")}
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    status["printed"] = printed.getvalue()
    if status["ready"]:
        _warm(config.get("warm") or [])
    send(ctrl, status)
    if not status["ready"]:
        return
    exits: dict[int, int] = {}
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(ctrl, 1024, 1)
        except OSError:
            return
        if not message:
            return
        request = json.loads(message)
        _reap(exits)
        if request["op"] == "fork" and fds:
            conn = socket.socket(fileno=fds[0])
            pid = os.fork()
            if pid == 0:
                ctrl.close()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                try:
                    _serve(conn, module, learner_dir)
                finally:
                    os._exit(0)
            conn.close()
            send(ctrl, {"pid": pid})
        elif request["op"] == "status":
            pid = int(request["pid"])
            if pid not in exits:
                try:
                    _, code = os.waitpid(pid, 0)
                    exits[pid] = code
                except ChildProcessError:
                    exits[pid] = 0
            send(ctrl, {"pid": pid, "status": exits.pop(pid)})


def _warm(services: list[str]) -> None:
    """Load boto3's models for `services` once, so every forked child creates its clients warm."""
    if not services:
        return
    try:
        import boto3
    except ImportError:
        return
    for name in services:
        try:
            boto3.client(name)
            boto3.resource(name)
        except Exception:  # a service with no resource API, or no region: warming is best effort
            pass


def _reap(exits: dict[int, int]) -> None:
    """Collect finished children so none is left a zombie; remember how they ended."""
    while True:
        try:
            pid, code = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exits[pid] = code


if __name__ == "__main__":
    main()
