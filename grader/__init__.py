"""dataeng-grader: auto-graded exercises for the source systems of data engineering.

What hidden tests use is exported here; markers are `pytest.mark.points`, `.visibility`, `.hint`.
"""
from __future__ import annotations

from grader.sandbox import SubmissionError, SubmissionTimeout

__all__ = ["SubmissionError", "SubmissionTimeout"]
