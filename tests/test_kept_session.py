"""A kept pytest session (runner.KeptSession): a process that grades one exercise again and again
collects its hidden tests once and grades each submission as a round, with the results a grade of its
own gives."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from grader import catalog
from grader.results import Result
from grader.runner import ServicePool, grade
from tests.conftest import HIDDEN, SOLUTION

WRONG = SOLUTION.replace("return text", "return text.upper()")
STUB = "def double(x):\n    raise NotImplementedError\n\n\ndef echo(t):\n    raise NotImplementedError\n"


def demo(root: Path):
    return catalog.load(root, "demo")


def write_submission(folder: Path, text: str) -> Path:
    (folder / "demo").mkdir(parents=True, exist_ok=True)
    (folder / "demo" / "demo.py").write_text(text)
    return folder / "demo"


def seen(result: Result) -> tuple:
    return (tuple((t.name, t.status.value, t.score, t.max_score, t.output, t.hints) for t in result.tests),
            result.error, result.ungraded, result.score)


def test_rounds_of_one_session_grade_as_sessions_of_their_own(make_course, tmp_path: Path) -> None:
    root = make_course()
    exercise = demo(root)
    submissions = [write_submission(tmp_path / name, text)
                   for name, text in (("right", SOLUTION), ("wrong", WRONG), ("stub", STUB), ("again", SOLUTION))]
    with ServicePool() as pool:
        plain = [seen(grade(exercise, folder, pool)) for folder in submissions]
    with ServicePool(spare_workers=True) as pool:
        kept = [seen(grade(exercise, folder, pool, kept=True)) for folder in submissions]
        session = pool.kept_session(exercise)
        assert session.usable() and pool.kept_session(exercise) is session  # one session for every round
    assert kept == plain
    assert [result[3] for result in kept] == [4.0, 3.0, 0.0, 4.0]


MODULE_SCOPED = '''
import pytest


@pytest.fixture(scope="module")
def module_state():
    return []


@pytest.fixture(scope="session")
def session_state():
    return []


def test_scoped_fixtures_start_empty(submission, module_state, session_state):
    """the module's and the session's fixtures start empty"""
    assert module_state == session_state == [], f"a fixture kept {module_state} {session_state}"
    module_state.append(submission.echo("a"))
    session_state.append(submission.echo("b"))
    assert submission.echo("c") == "c", "echo changes the text"
'''


def test_every_fixture_is_set_up_anew_for_each_round(make_course, tmp_path: Path) -> None:
    """Module- and session-scoped fixtures of the hidden tests end with each round: the next submission
    never sees what they made of the one before."""
    root = make_course(hidden=MODULE_SCOPED, points=1)
    exercise = demo(root)
    with ServicePool(spare_workers=True) as pool:
        results = [grade(exercise, write_submission(tmp_path / name, text), pool, kept=True)
                   for name, text in (("right", SOLUTION), ("wrong", WRONG), ("right2", SOLUTION))]
    assert [r.score for r in results] == [1.0, 0.0, 1.0]
    assert results[1].tests[0].output == "echo changes the text"  # not what the first round's fixtures kept


STASHED = '''
import pytest

OUTCOME = pytest.StashKey[str]()


@pytest.mark.parametrize("where", ["session", "config", "node", "module"])
def test_an_outcome_kept_in_a_stash_is_this_submissions(where, submission, request):
    """what a check keeps in a stash belongs to this grade"""
    node = {"session": request.session, "config": request.config, "node": request.node,
            "module": request.node.parent}[where]
    echoed = node.stash.setdefault(OUTCOME, submission.echo("x"))
    assert echoed == "x", f"echo('x') returned {echoed!r}"
'''


def test_what_checks_keep_in_a_stash_is_gone_in_the_next_round(make_course, tmp_path: Path) -> None:
    """Hidden tests may keep a grade's outcomes in a stash (vpc_networking keeps each network's in the
    session's): each round starts with what the stashes held before the first one."""
    root = make_course(hidden=STASHED)
    exercise = demo(root)
    with ServicePool(spare_workers=True) as pool:
        results = [grade(exercise, write_submission(tmp_path / name, text), pool, kept=True)
                   for name, text in (("right", SOLUTION), ("wrong", WRONG), ("right2", SOLUTION))]
    assert [r.score for r in results] == [4.0, 0.0, 4.0]
    assert {t.output for t in results[1].tests} == {"echo('x') returned 'X'"}


TEMPORARY = '''
import os


def test_writes_a_temporary_file(submission, tmp_path):
    """a check that writes in its tmp_path"""
    (tmp_path / "made.txt").write_text(submission.echo("x"))
    with open(os.environ["GRADER_TEST_SEEN"], "a") as seen:
        seen.write(f"{tmp_path}\\n")
'''


def test_the_temporary_folders_of_a_round_go_with_it(make_course, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_course(hidden=TEMPORARY, points=1)
    exercise = demo(root)
    seen = tmp_path / "seen.txt"
    monkeypatch.setenv("GRADER_TEST_SEEN", str(seen))
    with ServicePool(spare_workers=True) as pool:
        for round_ in range(3):
            assert grade(exercise, write_submission(tmp_path / f"s{round_}", SOLUTION), pool, kept=True).score == 1.0
    folders = [Path(line) for line in seen.read_text().splitlines()]
    assert len(folders) == 3 and not any(folder.exists() for folder in folders)


def test_a_changed_hidden_test_starts_a_new_session(make_course, tmp_path: Path) -> None:
    root = make_course()
    exercise = demo(root)
    folder = write_submission(tmp_path / "right", SOLUTION)
    with ServicePool(spare_workers=True) as pool:
        assert grade(exercise, folder, pool, kept=True).score == 4.0
        first = pool.kept_session(exercise)
        test_file = root / "tests/hidden/demo/test_demo.py"
        test_file.write_text(HIDDEN.replace("double(21) == 42", "double(21) == 43"))
        stat = test_file.stat()
        os.utime(test_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # however coarse the clock
        result = grade(exercise, folder, pool, kept=True)
        assert pool.kept_session(exercise) is not first and first.ended
    assert result.score == 2.0 and result.tests[0].status.value == "failed"


def test_hidden_tests_that_cannot_be_collected_are_reported_as_a_grade_of_its_own_does(
        make_course, tmp_path: Path) -> None:
    root = make_course(hidden=HIDDEN + "\nimport no_such_module_anywhere\n")
    exercise = demo(root)
    folder = write_submission(tmp_path / "right", SOLUTION)
    with ServicePool() as pool:
        plain = grade(exercise, folder, pool)
    with ServicePool(spare_workers=True) as pool:
        kept = grade(exercise, folder, pool, kept=True)
        assert not pool.kept_session(exercise).usable()
    assert kept.ungraded and "no_such_module_anywhere" in kept.error
    assert seen(kept) == seen(plain)


INTERRUPTING = HIDDEN + '''

def test_interrupts(submission, workspace):
    """a check that interrupts the run"""
    if "upper" in (workspace / "demo.py").read_text():
        raise KeyboardInterrupt
'''


def test_a_round_that_stops_is_not_graded_and_the_next_grade_gets_a_new_session(
        make_course, tmp_path: Path) -> None:
    root = make_course(hidden=INTERRUPTING, points=5)
    exercise = demo(root)
    with ServicePool(spare_workers=True) as pool:
        first = pool.kept_session(exercise)
        stopped = grade(exercise, write_submission(tmp_path / "wrong", WRONG), pool, kept=True)
        assert first.ended  # its fixtures torn down before the grade returned
        after = grade(exercise, write_submission(tmp_path / "right", SOLUTION), pool, kept=True)
        assert pool.kept_session(exercise) is not first
    assert stopped.ungraded and "KeyboardInterrupt" in stopped.error
    assert not after.ungraded and after.score == 5.0


def test_a_grade_with_a_keyword_or_a_file_runs_a_session_of_its_own(make_course, tmp_path: Path) -> None:
    root = make_course()
    exercise = demo(root)
    folder = write_submission(tmp_path / "right", SOLUTION)
    with ServicePool(spare_workers=True) as pool:
        whole = grade(exercise, folder, pool, kept=True)
        some = grade(exercise, folder, pool, kept=True, keyword="echo")
    assert whole.score == 4.0
    assert [t.status.value for t in some.tests] == ["not_run", "passed", "not_run"]


@pytest.mark.parametrize("slug", ["log_parsing", "sql_joins", "vpc_networking"])
def test_rounds_of_a_real_exercise_match_its_plain_grades(slug: str, course_root: Path, tmp_path: Path) -> None:
    """The reference solution and the stub of a course exercise, graded twice each in rounds
    (vpc_networking keeps each network's outcome in the session's stash)."""
    exercise = catalog.load(course_root, slug)
    folders = []
    for kind, source in (("solution", exercise.solution_dir), ("stub", exercise.stub_dir)):
        target = tmp_path / kind / slug
        target.mkdir(parents=True)
        for path in source.iterdir():
            if path.is_file() and path.suffix in (".py", ".sql", ".json"):
                (target / path.name).write_bytes(path.read_bytes())
        folders.append(target)
    with ServicePool() as pool:
        plain = [seen(grade(exercise, folder, pool)) for folder in folders]
    with ServicePool(spare_workers=True) as pool:
        kept = [seen(grade(exercise, folder, pool, kept=True)) for folder in folders * 2]
    assert kept == plain * 2
    assert plain[0][3] == exercise.points and plain[1][3] < exercise.points


def test_the_kept_session_leaves_stdin_to_the_process_between_rounds(make_course, tmp_path: Path) -> None:
    """pytest's capture gives stdin back only when a session ends; a kept one gives it back after each
    round (`grade watch` reads its keys meanwhile)."""
    root = make_course()
    exercise = demo(root)
    before = sys.stdin
    with ServicePool(spare_workers=True) as pool:
        grade(exercise, write_submission(tmp_path / "right", SOLUTION), pool, kept=True)
        assert sys.stdin is before
