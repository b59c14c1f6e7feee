"""The in-sandbox end of a service channel: 127.0.0.1:PORT relayed to a Unix socket.

The namespace sandbox has a network of its own with loopback only. A service learner code may use
(the embedded AWS endpoint) reaches it as a Unix socket that the grader binds into the sandbox; this
relay listens on the port the learner's environment names (AWS_ENDPOINT_URL) and copies bytes both
ways, so `boto3.client("dynamodb")` works unchanged and nothing else is reachable.

Standard library only (the worker loads it inside the sandbox): one process, one selector loop, no
threads, so the relay costs one entry of the sandbox's process limit whatever the traffic. The
grader uses the same relay the other way round (`Bridge`: a Unix socket to a TCP endpoint, in a
thread) for AWS endpoints it does not serve itself.
"""
from __future__ import annotations

import os
import selectors
import socket
import threading
from typing import Any, Callable, Optional, Tuple, Union

Target = Union[str, Tuple[str, int]]  # a Unix socket path, or a TCP (host, port)
# makes one inspector per connection: `client(data)` and `server(data)` return the bytes to pass on,
# or raise ValueError to close the connection (the grader's protocol guards; never used inside the sandbox)
Inspect = Optional[Callable[[], Any]]

CHUNK = 65536
HIGH_WATER = 1 << 20  # stop reading a side while this much waits to be written to the other


def start(routes: list[tuple[int, str]]) -> int:
    """Listen on every (port, unix socket path) route and relay in a child process; its pid."""
    listeners = []
    for port, path in routes:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(128)
        server.setblocking(False)
        listeners.append((server, path))
    pid = os.fork()
    if pid:
        for server, _ in listeners:
            server.close()
        return pid
    try:
        keep = {server.fileno() for server, _ in listeners}
        for fd in range(3, 256):  # the relay holds nothing of the worker's (its control socket)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        _Relay(listeners).run()
    finally:
        os._exit(0)


class Bridge:
    """A Unix socket at `path` (or a TCP port of 127.0.0.1, when `path` is a (host, port) pair)
    relayed to a TCP endpoint, served by a thread of the grader. `inspect` makes one inspector per
    connection that sees (and may refuse) every byte both ways."""

    def __init__(self, path: Target, host: str, port: int, inspect: Inspect = None) -> None:
        server = socket.socket(socket.AF_UNIX if isinstance(path, str) else socket.AF_INET, socket.SOCK_STREAM)
        if not isinstance(path, str):
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(path)
        server.listen(128)
        server.setblocking(False)
        self.path = path
        self.address = server.getsockname()  # the port a TCP listener was given
        self._relay = _Relay([(server, (host, port))], inspect)
        self._thread = threading.Thread(target=self._relay.run, name="grader-channel", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop relaying and close every connection."""
        self._relay.stop()
        self._thread.join(timeout=5)


class _Relay:
    """Copy bytes between accepted connections and their upstream peers, half-closes included."""

    def __init__(self, listeners: list[tuple[socket.socket, Target]], inspect: Inspect = None) -> None:
        self.selector = selectors.DefaultSelector()
        self.inspect = inspect
        self.guards: dict[socket.socket, Tuple[Any, bool]] = {}  # socket -> (its inspector, it is the client)
        self.peer: dict[socket.socket, socket.socket] = {}
        self.pending: dict[socket.socket, bytearray] = {}  # bytes waiting to be written to the key
        self.events: dict[socket.socket, int] = {}
        self.drained: set[socket.socket] = set()  # sockets that sent EOF
        self.listeners = [server for server, _ in listeners]
        self._wake, self._waker = socket.socketpair()
        self._running = True
        self.selector.register(self._wake, selectors.EVENT_READ, "stop")
        for server, target in listeners:
            self.selector.register(server, selectors.EVENT_READ, ("listen", target))

    def stop(self) -> None:
        """End run() from another thread."""
        self._running = False
        self._waker.send(b"x")

    def run(self) -> None:
        while self._running:
            for key, mask in self.selector.select():
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if key.data == "stop":
                    continue
                if isinstance(key.data, tuple):
                    self._accept(sock, key.data[1])
                    continue
                if mask & selectors.EVENT_WRITE and sock in self.peer:
                    self._flush(sock)
                if mask & selectors.EVENT_READ and sock in self.peer:
                    self._read(sock)
        for sock in list(self.peer):
            self._close(sock)
        for sock in (*self.listeners, self._wake, self._waker):
            sock.close()
        self.selector.close()

    def _accept(self, server: socket.socket, target: Target) -> None:
        try:
            client, _ = server.accept()
        except OSError:
            return
        family = socket.AF_UNIX if isinstance(target, str) else socket.AF_INET
        upstream = socket.socket(family, socket.SOCK_STREAM)
        try:
            upstream.connect(target)
        except OSError:
            client.close()
            upstream.close()
            return
        if self.inspect is not None:
            guard = self.inspect()
            self.guards[client], self.guards[upstream] = (guard, True), (guard, False)
        for end, other in ((client, upstream), (upstream, client)):
            end.setblocking(False)
            self.peer[end] = other
            self.pending[end] = bytearray()
        self._want(client)
        self._want(upstream)

    def _read(self, sock: socket.socket) -> None:
        other = self.peer[sock]
        try:
            data = sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        ended = not data
        if data and sock in self.guards:
            guard, is_client = self.guards[sock]
            try:
                data = guard.client(data) if is_client else guard.server(data)
            except ValueError:
                self._close(sock)
                return
        if data:
            self.pending[other] += data
            self._flush(other)
        elif ended:
            self.drained.add(sock)
            self._pass_eof(sock)
        for end in (sock, other):
            if end in self.peer:
                self._want(end)

    def _flush(self, sock: socket.socket) -> None:
        buffer = self.pending[sock]
        try:
            sent = sock.send(buffer) if buffer else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self._close(sock)
            return
        del buffer[:sent]
        if not buffer:
            self._pass_eof(self.peer[sock])
        for end in (sock, self.peer.get(sock)):
            if end is not None and end in self.peer:
                self._want(end)

    def _pass_eof(self, sock: socket.socket) -> None:
        """Once all that `sock` sent before its EOF is delivered, its peer sees EOF too."""
        other = self.peer.get(sock)
        if other is None or sock not in self.drained or self.pending[other]:
            return
        try:
            other.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if other in self.drained and not self.pending[sock]:
            self._close(sock)

    def _want(self, sock: socket.socket) -> None:
        """Read from a side while its peer's backlog is small; write to it while it has a backlog."""
        wanted = 0
        if sock not in self.drained and len(self.pending[self.peer[sock]]) < HIGH_WATER:
            wanted |= selectors.EVENT_READ
        if self.pending[sock]:
            wanted |= selectors.EVENT_WRITE
        current = self.events.get(sock, 0)
        if wanted == current:
            return
        if not current:
            self.selector.register(sock, wanted)
        elif not wanted:
            self.selector.unregister(sock)
        else:
            self.selector.modify(sock, wanted)
        self.events[sock] = wanted

    def _close(self, sock: socket.socket) -> None:
        """Close a connection, both ends."""
        for end in (sock, self.peer.get(sock)):
            if end is None or end not in self.peer:
                continue
            del self.peer[end]
            del self.pending[end]
            self.guards.pop(end, None)
            self.drained.discard(end)
            if self.events.pop(end, 0):
                self.selector.unregister(end)
            end.close()
