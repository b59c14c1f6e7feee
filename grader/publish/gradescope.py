"""`grade publish gradescope OUT.zip`, and the autograder inside it.

The zip follows Gradescope's autograder specification: setup.sh and run_autograder at its root; the
whole zip lands in /autograder/source, the learner's upload in /autograder/submission, and the result
goes to /autograder/results/results.json. The bundle holds exercises/ (for the catalogue), every check
(tests/hidden/), the fixtures/ they import, expected/ (every value the checks compare against, computed
from the solutions when publishing) and the grader's source. No solutions/.

`python -m grader.publish.gradescope ROOT` is what run_autograder calls: it lays the upload out as one
folder per exercise, grades every exercise of the bundle, and writes results.json; when grading fails
it still writes one, with score 0 and the reason.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from grader import catalog
from grader.catalog import Exercise
from grader.errors import CatalogError, GraderError, UsageError
from grader.publish import bundle
from grader.publish.bundle import Plan

RESULTS = Path("results") / "results.json"
SCRIPTS = {"setup.sh": "setup.sh.tmpl", "run_autograder": "run_autograder.tmpl"}


def build(plan: Plan, out: Path) -> Path:
    """Write the autograder zip `out`; its path."""
    if out.suffix != ".zip":
        raise UsageError(f"{out}: Gradescope takes the autograder as a .zip file; name it {out.name}.zip")
    if out.is_dir():
        raise UsageError(f"{out} is a folder; name the .zip file to write")
    with tempfile.TemporaryDirectory(prefix="grade-publish-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        bundle.copy_exercises(plan, source)
        written = bundle.copy_tests(plan, source, folder="hidden", visible_only=False)
        bundle.copy_fixtures(plan.root, source, written)
        bundle.write_expected(plan, source, visible_only=False)
        bundle.vendor_grader(source)
        from grader.runner import version

        for name, template in SCRIPTS.items():
            script = source / name
            script.write_text(bundle.template(template).substitute(version=version()), encoding="utf-8")
            script.chmod(0o755)
        return bundle.zip_folder(source, out)


# --- the autograder at grading time ---------------------------------------------------------------


def _depth(path: Path) -> tuple[int, str]:
    return len(path.parts), str(path)


def _uploaded(submission: Path) -> list[Path]:
    """The learner's files, below `submission`: no links, nothing hidden, no caches."""
    if not submission.is_dir():
        return []
    return sorted((p for p in submission.rglob("*") if p.is_file() and not p.is_symlink()
                   and not any(part.startswith(".") or part == "__pycache__"
                               for part in p.relative_to(submission).parts)), key=_depth)


def gather(submission: Path, exercises: Sequence[Exercise], workspace: Path) -> list[str]:
    """Lay the upload out as workspace/<slug>/ for each exercise: a folder named after the exercise
    (anywhere, the shallowest first), else each of its files found by name (the shallowest first).
    The notes a learner should read about what was found."""
    files = _uploaded(submission)
    notes: list[str] = []
    for exercise in exercises:
        target = workspace / exercise.slug
        target.mkdir(parents=True)
        folders = sorted({p.parent for p in files if p.parent.name == exercise.slug}, key=_depth)
        if folders:
            for path in files:
                if folders[0] in path.parents:
                    dest = target / path.relative_to(folders[0])
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
            continue
        found = []
        for name in exercise.files:
            matches = [p for p in files if p.name == Path(name).name]
            if matches:
                shutil.copyfile(matches[0], target / name)
                found.append(name)
        if not found and exercise.files:
            notes.append(f"**{exercise.slug}**: none of its files ({', '.join(exercise.files)}) is in your "
                         "submission.")
    return notes


def failure(reason: str, started: float) -> dict[str, Any]:
    """results.json for a submission the autograder could not grade: score 0 and the reason."""
    return {
        "score": 0.0,
        "execution_time": round(time.monotonic() - started),
        "output": f"The autograder could not grade this submission: {reason}\n\nThis is not a problem with "
                  "your work: please tell your instructor.",
        "output_format": "md",
        "test_output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def autograde(root: Path, *, require_sandbox: bool = False) -> dict[str, Any]:
    """Grade root/submission against the course in root/source; write and return results.json. With
    `require_sandbox`, learner code runs in the namespace sandbox or nothing is graded."""
    from grader.report.gradescope import document
    from grader.runner import ServicePool, grade_many

    started = time.monotonic()
    results = root / RESULTS
    try:
        exercises = catalog.load_all(catalog.find_root(course=root / "source"))
        if not exercises:
            raise CatalogError(f"{root / 'source'} holds no exercise")
        with tempfile.TemporaryDirectory(prefix="grade-submission-") as tmp:
            workspace = Path(tmp)
            notes = gather(root / "submission", exercises, workspace)
            with ServicePool() as pool:
                run = grade_many(exercises, workspace, pool, require_sandbox=require_sandbox)
        data = document(run, notes=notes)
    except Exception as exc:  # results.json is written whatever happens: Gradescope shows nothing otherwise
        data = failure(str(exc) if isinstance(exc, GraderError) else f"{type(exc).__name__}: {exc}", started)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """run_autograder's entry point: `python -m grader.publish.gradescope [ROOT]`."""
    parser = argparse.ArgumentParser(prog="python -m grader.publish.gradescope",
                                     description="Grade a Gradescope submission and write results.json.")
    parser.add_argument("root", nargs="?", default="/autograder", type=Path,
                        help="the autograder's root, laid out as /autograder (default: /autograder)")
    parser.add_argument("--require-sandbox", action="store_true",
                        help="grade nothing (score 0, the reason) unless learner code gets the namespace sandbox")
    args = parser.parse_args(argv)
    data = autograde(args.root.resolve(), require_sandbox=args.require_sandbox)
    print(f"score {data['score']:g}; {len(data['tests'])} checks; results in {args.root / RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
