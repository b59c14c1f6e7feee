"""A learner's text file read in the trusted process: bounded in size, UTF-8, a regular file of its own.

Hidden tests read SQL and JSON stubs as text (they are data, never run). A file that is too large,
not UTF-8, a symbolic link (which could point at a solution or a secret of the grader) or not a
regular file at all (a FIFO would block the read) fails the check with a message naming the
problem, instead of costing the grader memory or time or showing it something it must not read.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


class LearnerFileError(ValueError):
    """A learner's file the grader will not read; the message is written for the learner."""


class FileTooLarge(LearnerFileError):
    """The file is larger than the grader reads."""


def read_learner_text(path: Path, *, max_bytes: int, name: str | None = None) -> str:
    """The text of the learner's file at `path`: at most `max_bytes` bytes of UTF-8."""
    name = name or Path(path).name
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if os.path.islink(path):
            raise LearnerFileError(f"{name} is a symbolic link; submit the file itself.") from None
        raise LearnerFileError(f"{name} cannot be read: {exc.strerror}.") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise LearnerFileError(f"{name} is not a regular file; submit a text file.")
        if info.st_size > max_bytes:
            raise FileTooLarge(_too_large(name, info.st_size, max_bytes))
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew while it was read
        raise FileTooLarge(_too_large(name, len(data), max_bytes))
    return decode_learner_text(data, name)


def decode_learner_text(data: bytes, name: str) -> str:
    """`data` decoded as UTF-8; otherwise a LearnerFileError naming the first bad byte's line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        raise LearnerFileError(
            f"{name} is not UTF-8 text: the byte 0x{data[exc.start]:02x} at line {line}, column {column} is not "
            "valid UTF-8. Save the file with the UTF-8 encoding (your editor's \"Save with encoding\")."
        ) from None


def _too_large(name: str, size: int, limit: int) -> str:
    return (f"{name} is {size:,} bytes; the grader reads files of at most {limit:,} bytes here. "
            "Write only what the task asks for.")
