"""The runner's ServicePool: services started on first need, checked, and started afresh after dying."""
from __future__ import annotations

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
