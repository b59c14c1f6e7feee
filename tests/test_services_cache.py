"""The database cache: a private folder, files written 0600 with a digest, a damaged file never returned."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import ServiceError
from grader.services.cache import cache_dir, digest_path, read_verified, write_verified


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    return cache_dir()


def test_the_folder_is_private_and_made_private_again(cache: Path) -> None:
    assert cache.stat().st_mode & 0o777 == 0o700
    cache.chmod(0o777)
    assert cache_dir() == cache and cache.stat().st_mode & 0o777 == 0o700


def test_a_file_written_is_read_back_and_private(cache: Path) -> None:
    path = cache / "db.sqlite"
    write_verified(path, b"rows")
    assert read_verified(path) == b"rows"
    assert path.stat().st_mode & 0o777 == digest_path(path).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("damage", ["emptied", "replaced", "digest missing", "digest not text"])
def test_a_damaged_file_is_not_returned(cache: Path, damage: str) -> None:
    path = cache / "db.sqlite"
    write_verified(path, b"rows")
    if damage == "emptied":
        path.write_bytes(b"")
    elif damage == "replaced":
        path.write_bytes(b"other rows")
    elif damage == "digest missing":
        digest_path(path).unlink()
    else:
        digest_path(path).write_bytes(b"\xff\xfe")
    assert read_verified(path) is None


def test_an_explicit_cache_that_is_a_link_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cache").symlink_to(tmp_path / "elsewhere")
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ServiceError, match="is not a folder .a symbolic link or a file.; remove it or set GRADER_CACHE_DIR"):
        cache_dir()
