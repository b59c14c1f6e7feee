"""The runner's ServicePool: services started on first need, checked, and started afresh after dying."""
from __future__ import annotations

import threading

import pytest

from grader.errors import ServiceError
from grader.runner import ServicePool


def test_a_service_that_stopped_answering_is_reported_and_started_again() -> None:
    with ServicePool() as pool:
        aws = pool.get("aws")
        pool.check()  # answers: nothing to say
        aws.stop()  # the embedded server's thread ends, as if it had died
        with pytest.raises(ServiceError, match="the embedded moto server stopped"):
            pool.check()
        again = pool.get("aws")
        assert again is not aws and again.running
        pool.check()


def test_a_service_without_a_check_is_taken_as_answering() -> None:
    with ServicePool() as pool:
        pool.get("sql")  # embedded SQLite always answers
        pool.check()


def test_a_warm_worker_grades_each_submission_on_its_own_state() -> None:
    """Hidden test modules stay imported between grades (a batch worker's warm state): nothing a check
    kept for one grade may reach the next one (vpc_networking builds each lab network once per grade)."""
    from pathlib import Path

    from grader import catalog
    from grader.runner import grade

    root = Path(__file__).resolve().parent.parent
    exercise = next(e for e in catalog.load_all(root) if e.slug == "vpc_networking")
    with ServicePool() as pool:
        scores = [grade(exercise, root / folder / "vpc_networking", pool, keep_tests=True).score
                  for folder in ("solutions", "exercises", "solutions")]
    assert scores == [exercise.points, 0, exercise.points]


def test_collections_held_at_a_commands_start_resume_when_the_first_grades_checks_begin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`grade run` and `grade watch` hold garbage collection while a grade loads its modules; the first
    grade freezes what was loaded and collects again before its checks run, whatever they make."""
    import gc
    from pathlib import Path

    from grader import catalog, runner

    monkeypatch.setattr(runner, "_loaded_frozen", False)  # as in a new process

    root = Path(__file__).resolve().parent.parent
    exercise = next(e for e in catalog.load_all(root) if e.slug == "log_parsing")
    seen: list[bool] = []
    frozen = gc.get_freeze_count()
    runner.hold_collections()
    try:
        assert not gc.isenabled()
        with ServicePool() as pool:
            gc.callbacks.append(lambda phase, info: seen.append(gc.isenabled()))
            threshold = gc.get_threshold()
            gc.set_threshold(50, *threshold[1:])  # however little the checks allocate, collections come due
            try:
                first = runner.grade(exercise, root / "solutions" / "log_parsing", pool)
            finally:
                gc.set_threshold(*threshold)
                gc.callbacks.pop()
            assert gc.isenabled() and gc.get_freeze_count() > frozen
            assert first.score == first.max_score
            frozen = gc.get_freeze_count()
            runner.hold_collections()  # a second command in the same process holds them again
            assert not gc.isenabled()
            runner.grade(exercise, root / "exercises" / "log_parsing", pool)
            assert gc.isenabled() and gc.get_freeze_count() == frozen  # frozen once: no garbage kept for good
    finally:
        gc.unfreeze()
        gc.enable()
    assert seen, "no collection ran during the first grade's checks"


def test_collections_held_from_several_threads_resume_with_the_last_release() -> None:
    """Holds are counted: collection resumes when the last one is released, and only if it was on when
    the first began."""
    import gc

    from grader import collecting

    assert gc.isenabled()
    collecting.hold()
    held, done = threading.Event(), threading.Event()
    loader = threading.Thread(target=lambda: (collecting.hold(), held.set(), done.wait(), collecting.release()))
    loader.start()
    try:
        held.wait()
        collecting.release()
        assert not gc.isenabled()  # the loader still holds them
    finally:
        done.set()
        loader.join()
    assert gc.isenabled()
    collecting.release()  # one release too many changes nothing
    assert gc.isenabled()
    gc.disable()
    try:
        collecting.hold()
        collecting.release()
        assert not gc.isenabled()  # off before the hold: left off
    finally:
        gc.enable()


def test_a_run_that_ends_before_any_grade_collects_again(course_root) -> None:
    import gc

    from click.testing import CliRunner

    from grader.cli import cli

    assert gc.isenabled()
    result = CliRunner().invoke(cli, ["run", "no_such_exercise"])
    assert result.exit_code == 2 and "no_such_exercise" in result.output
    assert gc.isenabled()


def test_a_runs_last_grade_holds_collections_once_its_checks_have_run(course_root) -> None:
    """`grade run` ends with its last grade: collections run during its checks, then are held (what they
    would free dies with the process) until the command ends, which collects again."""
    import gc

    from click.testing import CliRunner

    from grader import runner
    from grader.cli import cli

    during: list[bool] = []
    grade = runner.grade

    def watched(*args, **kwargs):
        result = grade(*args, **kwargs)
        during.append(gc.isenabled())
        return result

    assert gc.isenabled()
    runner.grade = watched
    try:
        result = CliRunner().invoke(cli, ["run", "log_parsing", "--path", str(course_root / "solutions")])
    finally:
        runner.grade = grade
    assert result.exit_code == 0, result.output
    assert during == [False]
    assert gc.isenabled()
