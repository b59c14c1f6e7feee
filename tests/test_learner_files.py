"""Reading a learner's text file in the trusted process: size, UTF-8, links and special files refused with a message."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.learner_files import FileTooLarge, LearnerFileError, read_learner_text


def test_a_small_utf8_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("SELECT 'café'", encoding="utf-8")
    assert read_learner_text(path, max_bytes=100) == "SELECT 'café'"


def test_a_file_over_the_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_bytes(b"x" * 1001)
    with pytest.raises(FileTooLarge, match=r"q.sql is 1,001 bytes; the grader reads files of at most 1,000 bytes"):
        read_learner_text(path, max_bytes=1000)


def test_invalid_utf8_names_the_byte_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_bytes("{\n  \"Sid\": \"Ça".encode("utf-8") + b"\xff\"}")
    with pytest.raises(LearnerFileError, match=r"the byte 0xff at line 2, column 13 is not valid UTF-8"):
        read_learner_text(path, max_bytes=1000)


def test_a_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "answer.sql"
    secret.write_text("SELECT 42", encoding="utf-8")
    (tmp_path / "q.sql").symlink_to(secret)
    with pytest.raises(LearnerFileError, match="q.sql is a symbolic link; submit the file itself"):
        read_learner_text(tmp_path / "q.sql", max_bytes=1000)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    os.mkfifo(path)
    with pytest.raises(LearnerFileError, match="q.sql is not a regular file"):
        read_learner_text(path, max_bytes=1000)
