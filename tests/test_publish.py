"""Bundles built from the one course and used as their users would: a learner in a fresh virtual
environment, Gradescope's autograder in a root laid out as /autograder, GitHub Classroom's workflow."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from grader.publish import bundle, classroom, gradescope, learner
from grader.publish.bundle import Plan, make_plan
from grader.runner import ServicePool

ROOT = Path(__file__).resolve().parent.parent
SLUGS = ("log_parsing", "sql_joins")  # a Python and a SQL exercise, with visible and hidden checks
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


@pytest.fixture(scope="module")
def plan() -> Iterator[Plan]:
    with ServicePool() as pool:
        yield make_plan(ROOT, SLUGS, pool)


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """Wheels of every requirement of the grader, built once per machine and kept: installing a bundle
    then needs no index and takes seconds (the install itself is what a user runs)."""
    wanted = sorted(bundle.requirements()) + ["setuptools>=77,<82"]
    key = hashlib.sha256("\n".join([*wanted, sys.version]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("GRADER_CACHE_DIR") or Path(tempfile.gettempdir()) / "dataeng-grader")
    folder = cache / f"wheelhouse-{key}"
    if not (folder / ".complete").is_file():
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(folder), *wanted],
                       check=True, timeout=1200)
        (folder / ".complete").write_text("\n".join(wanted), encoding="utf-8")
    return folder


def user_env(wheelhouse: Path, **extra: str) -> dict[str, str]:
    """The environment of someone using a bundle: no course variables of ours, pip pointed at the wheels
    and not compiling them (Python compiles what a grade imports, a fraction of botocore and moto)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_", "PYTEST", "PIP_"))}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_COMPILE="false",
               PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def copy_solutions(course: Path) -> None:
    for slug in SLUGS:
        for path in (ROOT / "solutions" / slug).iterdir():
            shutil.copy(path, course / "exercises" / slug / path.name)


def files_below(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def assert_no_answers(folder: Path) -> None:
    """No solutions/ folder, and no file holding a reference solution's text."""
    assert not (folder / "solutions").exists()
    answers = {p.read_text(encoding="utf-8").strip() for slug in SLUGS for p in (ROOT / "solutions" / slug).iterdir()}
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".sql", ".json", ".md", ".toml"):
            text = path.read_text(encoding="utf-8")
            assert not any(answer in text for answer in answers), f"{path} holds a reference solution"


# --- the learner bundle -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def learner_course(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = learner.build(plan, tmp_path_factory.mktemp("learner") / "course")
    learner.build_zip(folder)
    return folder


@pytest.fixture(scope="module")
def learner_venv(learner_course: Path, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the grader installed from the bundle: `pip install .`."""
    venv = tmp_path_factory.mktemp("venv") / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = run([str(venv / "bin" / "pip"), "install", "."], learner_course, user_env(wheelhouse))
    assert done.returncode == 0, done.stderr
    return venv


def test_learner_bundle_has_visible_checks_only(learner_course: Path, plan: Plan) -> None:
    assert_no_answers(learner_course)
    assert not (learner_course / "tests" / "hidden").exists()
    queries = (learner_course / "tests/visible/sql_joins/test_queries.py").read_text(encoding="utf-8")
    assert "def test_q1_short_films(" in queries and "_on_hidden" not in queries and "visibility" not in queries
    hidden_nodeids = [t.nodeid for t in plan.results["sql_joins"].tests if t.visibility != "visible"]
    assert hidden_nodeids and all(n.split("::")[1] not in queries for n in hidden_nodeids)
    values = json.loads((learner_course / "expected/sql_joins.json").read_text(encoding="utf-8"))["values"]
    from fixtures.rentio import HIDDEN, PUBLIC

    assert values and all(key.endswith("/" + PUBLIC.key) for key in values)  # rows of the public database only
    assert not any(instance.key in key for instance in HIDDEN for key in values)
    assert (learner_course / "fixtures/rentio/generate.py").is_file() and (learner_course / "fixtures/logs.py").is_file()
    assert not (learner_course / "fixtures/aws_data.py").exists()  # nothing these checks do not import
    archive = learner_course.with_name("course.zip")
    with zipfile.ZipFile(archive) as zipped:
        assert sorted(n.removeprefix("course/") for n in zipped.namelist()) == files_below(learner_course)


def test_a_learner_who_edits_before_the_first_grade_can_reset(learner_course: Path, learner_venv: Path,
                                                             wheelhouse: Path, tmp_path: Path) -> None:
    course = tmp_path / "mine"
    shutil.copytree(learner_course, course)
    query = course / "exercises/sql_joins/q1_short_films.sql"
    stub = query.read_text(encoding="utf-8")
    query.write_text("SELECT title FROM film;\n", encoding="utf-8")  # edited before grade ever ran
    done = run([str(learner_venv / "bin" / "grade"), "reset", "sql_joins", "q1_short_films.sql"], course,
               user_env(wheelhouse))
    assert done.returncode == 0, done.stdout + done.stderr
    assert query.read_text(encoding="utf-8") == stub
    (backup,) = query.parent.glob("q1_short_films.sql.*.bak")
    assert backup.read_text(encoding="utf-8") == "SELECT title FROM film;\n"


def test_learner_grades_the_stub_and_a_solution(learner_course: Path, learner_venv: Path, wheelhouse: Path,
                                                tmp_path: Path, plan: Plan) -> None:
    course = tmp_path / "mine"
    shutil.copytree(learner_course, course)
    grade, env = str(learner_venv / "bin" / "grade"), user_env(wheelhouse)
    listing = run([grade, "list"], course, env)
    assert listing.returncode == 0 and listing.stdout.split()[0] == "log_parsing"
    stub = run([grade, "run", "sql_joins"], course, env)
    assert stub.returncode == 1, stub.stdout + stub.stderr
    held = plan.results["sql_joins"].max_score - plan.visible_points(next(e for e in plan.exercises
                                                                          if e.slug == "sql_joins"))
    assert f"{held:g} more points are checked when you submit" in stub.stdout
    copy_solutions(course)
    done = run([grade, "run", "all", "--format", "json"], course, env)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    for result in report["exercises"]:
        exercise = next(e for e in plan.exercises if e.slug == result["exercise"])
        assert result["score"] == result["max_score"] == plan.visible_points(exercise)
    outside = run([grade, "list"], tmp_path, env)  # never another course: not this repository either
    assert outside.returncode == 2 and "no course here" in outside.stderr


# --- the Gradescope autograder ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def autograder(plan: Plan, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The zip unpacked as Gradescope does into <root>/source, and setup.sh run: <root> is /autograder.

    The root is not below /tmp, as /autograder is not: the namespace sandbox that run_autograder
    requires gives learner code a /tmp of its own, which would hide a Python installed below /tmp."""
    archive = gradescope.build(plan, tmp_path_factory.mktemp("zip") / "autograder.zip")
    outside = Path(tempfile.mkdtemp(prefix="grade-autograder-", dir="/var/tmp"))
    try:
        yield _install(archive, outside / "autograder", wheelhouse)
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def _install(archive: Path, root: Path, wheelhouse: Path) -> Path:
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert {"setup.sh", "run_autograder"} <= set(names)  # at the root of the archive
        for info in zipped.infolist():
            zipped.extract(info, root / "source")
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    assert os.access(root / "source" / "run_autograder", os.X_OK)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")  # where Gradescope puts it
    setup = run(["bash", str(root / "source" / "setup.sh"), str(root)], root, user_env(wheelhouse))
    assert setup.returncode == 0, setup.stdout + setup.stderr
    again = run(["bash", str(root / "source" / "setup.sh"), str(root)], root, user_env(wheelhouse))
    assert again.returncode == 0 and "installed in" in again.stdout  # cheap when the grader is there
    return root


def submit(root: Path, files: dict[str, bytes]) -> dict[str, Any]:
    """Put `files` in <root>/submission, run run_autograder, read results.json."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    (root / "submission").mkdir()
    for name, data in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(data)
    (root / "results" / "results.json").unlink(missing_ok=True)
    done = run([str(root / "run_autograder"), str(root)], root, user_env(Path("/nonexistent")))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
       "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
        "visibility", "extra_data"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def check_spec(results: dict[str, Any]) -> None:
    """results.json field by field against Gradescope's autograder specification."""
    assert set(results) <= TOP
    assert isinstance(results["score"], (int, float))
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert isinstance(results["output"], str)
    assert results["output_format"] == results["test_output_format"] == "md"
    assert results.get("test_name_format", "text") in FORMATS
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    assert isinstance(results["tests"], list)
    for test in results["tests"]:
        assert set(test) <= TEST
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test.get("status", "passed") in ("passed", "failed")
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["number"], str)
        assert isinstance(test["output"], str) and test["visibility"] in VISIBILITIES
        assert all(isinstance(tag, str) for tag in test["tags"])
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))


def test_autograder_bundle_holds_every_check_and_no_solution(autograder: Path) -> None:
    source = autograder / "source"
    assert_no_answers(source)
    queries = (source / "tests/hidden/sql_joins/test_queries.py").read_text(encoding="utf-8")
    assert "visibility(\"hidden\")" in queries
    from fixtures.rentio import HIDDEN

    values = json.loads((source / "expected/sql_joins.json").read_text(encoding="utf-8"))["values"]
    assert any(HIDDEN[0].key in key for key in values)


def test_autograder_grades_a_correct_submission(autograder: Path, plan: Plan) -> None:
    flat = {p.name: p.read_bytes() for slug in SLUGS for p in (ROOT / "solutions" / slug).iterdir()}
    results = submit(autograder, flat)
    check_spec(results)
    assert results["score"] == sum(plan.results[s].max_score for s in SLUGS)
    assert all(t.get("status") == "passed" for t in results["tests"])
    assert any(t["visibility"] == "hidden" for t in results["tests"])
    assert "**sql_joins**" in results["output"]


def test_autograder_grades_a_wrong_submission(autograder: Path, plan: Plan) -> None:
    folders = {f"exercises/{slug}/{p.name}": p.read_bytes() for slug in SLUGS for p in (ROOT / "solutions" / slug).iterdir()}
    folders["exercises/sql_joins/q1_short_films.sql"] = b"SELECT title, length FROM film WHERE length < 60;\n"
    results = submit(autograder, folders)
    check_spec(results)
    total = sum(plan.results[s].max_score for s in SLUGS)
    assert 0 < results["score"] < total
    failed = [t for t in results["tests"] if t.get("status") == "failed"]
    assert failed and all(t["name"].startswith("sql_joins: q1") for t in failed)
    assert all(t["output"].startswith("```") for t in failed)  # feedback in a code block


def test_autograder_grades_an_empty_submission(autograder: Path) -> None:
    results = submit(autograder, {})
    check_spec(results)
    assert results["score"] == 0
    assert "none of its files (q1_short_films.sql" in results["output"]


def test_autograder_writes_results_when_grading_fails(autograder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "autograder"  # setup.sh never ran here: no Python with the grader to run
    shutil.copytree(autograder / "source", broken / "source")
    shutil.copy2(autograder / "run_autograder", broken / "run_autograder")
    results = submit(broken, {"q1_short_films.sql": b"SELECT 1;\n"})
    check_spec(results)
    assert results["score"] == 0 and "could not run" in results["output"]
    assert gradescope.autograde(tmp_path / "nowhere")["score"] == 0  # the driver itself, on no course


# --- the GitHub Classroom template ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return classroom.build(plan, tmp_path_factory.mktemp("classroom") / "template")


def test_classroom_workflow_uses_the_autograding_actions(template: Path, plan: Plan) -> None:
    assert_no_answers(template)
    workflow = yaml.safe_load((template / ".github/workflows/classroom.yml").read_text(encoding="utf-8"))
    assert set(workflow["on"]) == {"push", "workflow_dispatch", "repository_dispatch"}
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    graders = [s for s in steps if s.get("uses") == "classroom-resources/autograding-command-grader@v1"]
    assert [s["id"] for s in graders] == list(SLUGS)
    for step, exercise in zip(graders, plan.exercises):
        assert set(step["with"]) == {"test-name", "command", "timeout", "max-score"}
        assert step["with"]["max-score"] == plan.visible_points(exercise)
        assert step["with"]["command"] == classroom.command(exercise.slug)
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"] == ",".join(SLUGS)
    assert reporter["env"] == {f"{s.upper()}_RESULTS": f"${{{{steps.{s}.outputs.result}}}}" for s in SLUGS}


def test_classroom_steps_run_locally(template: Path, learner_venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(template, repo)
    workflow = yaml.safe_load((repo / ".github/workflows/classroom.yml").read_text(encoding="utf-8"))
    steps = next(iter(workflow["jobs"].values()))["steps"]
    commands = [s["with"]["command"] for s in steps if "command" in s.get("with", {})]
    env = user_env(wheelhouse, PATH=f"{learner_venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    for command in commands:  # the command grader runs each in a shell; exit 0 earns max-score
        assert run(["sh", "-c", command], repo, env).returncode == 1
    copy_solutions(repo)
    for command in commands:
        done = run(["sh", "-c", command], repo, env)
        assert done.returncode == 0, done.stdout + done.stderr
    summary = tmp_path / "summary.md"
    step = next(s for s in steps if s.get("name") == "Step summary")
    done = run(["bash", "-c", step["run"]], repo, {**env, "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0
    text = summary.read_text(encoding="utf-8")
    assert "### log_parsing:" in text and "### sql_joins:" in text
