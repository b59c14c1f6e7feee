"""The cache of built databases shared between grades: private to the grader's user, verified on every use.

Building an instance (generating its rows, loading them) takes seconds, so the result is kept under
`$TMPDIR/dataeng-grader` (or `GRADER_CACHE_DIR`) for later grades. Learner code must never change
what a later grade compares against, so:

- the folder is the grader user's own, mode 0700 (a folder of that name owned by someone else, or a
  symbolic link, is not used: the default falls back to `dataeng-grader-<uid>`, an explicit
  GRADER_CACHE_DIR fails with a ServiceError); every file is written 0600, atomically;
- every file has a SHA-256 digest beside it (`<name>.sha256`), written by the grader when it builds
  the file; a read returns the bytes it hashed (never a second read that could differ) and only when
  the digest matches; a missing or different digest means the file is built again.

A digest beside the file stops a submission that damages or swaps the cached files, the attack
seen in practice; one that can also rewrite the digest runs as the grader's own user with the
folder in view, which the sandbox prevents (the folder is outside its view, and an unprivileged
uid cannot enter a 0700 folder).
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import marshal
import os
import pickle
import secrets
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from grader.errors import ServiceError

DIGEST_SUFFIX = ".sha256"


def cache_dir() -> Path:
    """Where built databases are cached between runs: a folder of this user's own, mode 0700."""
    explicit = os.environ.get("GRADER_CACHE_DIR")
    path = Path(explicit) if explicit else Path(tempfile.gettempdir()) / "dataeng-grader"
    problem = _claim(path)
    if problem and not explicit and hasattr(os, "getuid"):
        path = path.with_name(f"dataeng-grader-{os.getuid()}")
        problem = _claim(path)
    if problem:
        raise ServiceError(f"the cache folder {path} {problem}; remove it or set GRADER_CACHE_DIR to a folder of your own")
    return path


def _claim(path: Path) -> str | None:
    """Make `path` this user's private folder; what is wrong with it when that cannot be done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "is not a folder (a symbolic link or a file)"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return "belongs to another user"
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return None


def digest_path(path: Path) -> Path:
    """Where the digest of the cached file `path` is kept."""
    return path.with_name(path.name + DIGEST_SUFFIX)


def read_verified(path: Path) -> bytes | None:
    """The bytes of a cached file when they match its digest; None when either is missing or they differ."""
    try:
        expected = digest_path(path).read_bytes().decode("ascii").strip()
        data = path.read_bytes()
    except (OSError, UnicodeDecodeError):
        return None
    return data if hmac.compare_digest(hashlib.sha256(data).hexdigest(), expected) else None


def write_verified(path: Path, data: bytes) -> None:
    """Write a cached file and its digest, each private (0600) and atomic."""
    write_private(digest_path(path), hashlib.sha256(data).hexdigest().encode("ascii"))
    write_private(path, data)


def write_private(path: Path, data: bytes) -> None:
    """Write `path` atomically, readable and writable by this user only."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def private_scratch(suffix: str) -> Path:
    """A new empty file in the cache folder, 0600, for building something before it is cached."""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=cache_dir())
    os.close(fd)
    return Path(name)


_CODECS = {  # how `kept` writes what it keeps, and reads it back
    "marshal": (marshal.dumps, marshal.loads, f"marshal {marshal.version}"),
    "pickle": (lambda value: pickle.dumps(value, protocol=5), pickle.loads, "pickle 5"),
}


def kept(kind: str, source: str | os.PathLike[str], build: Callable[[], Any], codec: str = "marshal") -> Any:
    """What `build` makes of the data file `source` (a parsed JSON catalogue, a service model), kept in
    this folder under a digest of the file's path, size and time and of the Python and codec that wrote
    it, and read from there while the file is unchanged. Reading marshal or pickle back is several times
    quicker than parsing the JSON it was made of. A pickle is loaded by the trusted process, so, as for
    every file here, only from this private folder and when its digest matches. Nothing is kept of a
    `build` that returns None, or when there is no cache folder."""
    dumps, loads, form = _CODECS[codec]
    try:
        info = os.stat(source)
        key = f"{kind}|{os.path.abspath(source)}|{info.st_size}|{info.st_mtime_ns}|{sys.version_info[:2]}|{form}"
        path: Path | None = cache_dir() / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.{codec}"
    except (OSError, ServiceError):
        path = None
    data = read_verified(path) if path else None
    if data is not None:
        try:
            return loads(data)
        except Exception:  # another format than this Python reads: built again
            pass
    value = build()
    if path and value is not None:
        with contextlib.suppress(OSError, ServiceError, ValueError, TypeError, pickle.PicklingError):
            write_verified(path, dumps(value))
    return value
