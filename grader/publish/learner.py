"""`grade publish learner OUT`: the folder (and OUT.zip) a learner works in.

It holds exercises/ (tasks and stubs), tests/visible/ (the visible checks only: hidden ones are cut out
of their modules), the fixtures/ modules those checks import, expected/ (the values the visible checks
compare against, computed from the solutions when publishing), the grader's source and a pyproject.toml
that installs it, and a README for learners. No solutions/, no hidden check. The stubs are also kept
where `grade reset` looks for a learner file's original (exercises/.grade/stubs/), so a learner who
edits a file before the first grade can still reset it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from grader.errors import PublishError
from grader.progress import kept_stub
from grader.publish import bundle
from grader.publish.bundle import Plan

TESTS = "visible"  # tests/visible/<slug>/ in a learner's course (catalog.TEST_FOLDERS)


def build(plan: Plan, out: Path, *, title: str = "Data engineering exercises") -> Path:
    """Write the learner bundle into the folder `out`; the folder."""
    shown = [e for e in plan.exercises if plan.visible_points(e) > 0]
    if not shown:
        raise PublishError("no exercise has a visible check, so a learner could check nothing: mark some "
                           "checks visible (the default) or publish for the autograder only")
    out = bundle.fresh_folder(out)
    bundle.copy_exercises(plan, out)
    for exercise in plan.exercises:
        for name in exercise.files:
            kept = kept_stub(exercise, out / "exercises" / exercise.slug, name)
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(exercise.stub_dir / name, kept)
    written = bundle.copy_tests(plan, out, folder=TESTS, visible_only=True)
    bundle.copy_fixtures(plan.root, out, written)
    bundle.write_expected(plan, out, visible_only=True)
    bundle.vendor_grader(out)
    rows = "\n".join(
        f"| `{e.slug}` | {plan.visible_points(e):g} | {e.points - plan.visible_points(e):g} | {e.title} |"
        for e in plan.exercises)
    readme = bundle.template("README.md.tmpl").substitute(title=title, rows=rows, first=shown[0].slug)
    (out / "README.md").write_text(readme, encoding="utf-8")
    (out / ".gitignore").write_text(bundle.template("gitignore.tmpl").template, encoding="utf-8")
    return out


def build_zip(folder: Path) -> Path:
    """OUT.zip beside the folder OUT, with the folder inside it."""
    return bundle.zip_folder(folder, folder.with_name(folder.name + ".zip"), top=folder.name)
