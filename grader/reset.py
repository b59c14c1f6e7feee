"""`grade reset`: put an exercise's stub files back, keeping the learner's version as a backup.

The original of a learner file is looked for, in order: the course's stub folder when the learner
works elsewhere (`--path`); the version git first recorded (a course checked out with git, such as a
GitHub Classroom repository); the copy grade kept the first time it graded the exercise
(`.grade/stubs/`, see grader.progress). Nothing is overwritten without a backup next to the file:
`<file>.<YYYYmmdd-HHMMSS>.bak`.
"""
from __future__ import annotations

import datetime
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.catalog import Exercise
from grader.errors import UsageError
from grader.progress import kept_stub, write_atomic


@dataclass(frozen=True)
class Restored:
    """What reset did to one file."""

    name: str
    path: Path
    backup: Path | None  # None when the file was missing or already the stub
    source: str  # where the original came from
    changed: bool = True  # False when the file already was the stub


def _from_git(path: Path) -> bytes | None:
    """The first committed version of `path`, when it lives in a git work tree."""
    folder = str(path.parent)
    try:
        added = subprocess.run(["git", "-C", folder, "log", "--diff-filter=A", "--format=%H", "--", path.name],
                               capture_output=True, text=True, timeout=20)
        commits = added.stdout.split()
        if added.returncode != 0 or not commits:
            return None
        prefix = subprocess.run(["git", "-C", folder, "rev-parse", "--show-prefix"],
                                capture_output=True, text=True, timeout=20).stdout.strip()
        shown = subprocess.run(["git", "-C", folder, "show", f"{commits[-1]}:{prefix}{path.name}"],
                               capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return shown.stdout if shown.returncode == 0 else None


def original(exercise: Exercise, learner_dir: Path, name: str) -> tuple[bytes, str] | None:
    """The stub of `name` and where it came from, or None when no copy is known."""
    learner_dir = learner_dir.resolve()
    stub = exercise.stub_dir.resolve() / name
    if learner_dir != exercise.stub_dir.resolve() and stub.is_file():
        return stub.read_bytes(), f"the course's exercises/{exercise.slug}/{name}"
    found = _from_git(learner_dir / name)
    if found is not None:
        return found, "its first version in git"
    kept = kept_stub(exercise, learner_dir, name)
    if kept.is_file():
        return kept.read_bytes(), "the copy kept when grade first saw it"
    return None


def reset(exercise: Exercise, learner_dir: Path, names: tuple[str, ...] = (), *,
          now: datetime.datetime | None = None) -> list[Restored]:
    """Restore `names` (default: every learner file of the exercise); each changed file is backed up first."""
    names = names or tuple(exercise.files)
    unknown = [n for n in names if n not in exercise.files]
    if unknown:
        raise UsageError(f"{', '.join(unknown)} is not a file of {exercise.slug}; its files are "
                         f"{', '.join(exercise.files)}")
    originals = {}
    for name in names:
        found = original(exercise, learner_dir, name)
        if found is None:
            raise UsageError(f"no original of {exercise.slug}/{name} is known (not in git, and grade never "
                             "saw it before): nothing was changed")
        originals[name] = found
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    done = []
    for name, (content, source) in originals.items():
        path = learner_dir / name
        backup = None
        if path.is_file():
            if path.read_bytes() == content:
                done.append(Restored(name, path, None, source, changed=False))
                continue
            backup = path.with_name(f"{path.name}.{stamp}.bak")
            counter = 1
            while backup.exists():
                backup = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
                counter += 1
            shutil.copy2(path, backup)
        write_atomic(path, content)
        done.append(Restored(name, path, backup, source))
    return done
