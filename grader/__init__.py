"""dataeng-grader: auto-graded exercises for the source systems of data engineering.

What hidden tests use is exported here; markers are `pytest.mark.points`, `.visibility`, `.hint`.
Checkers are imported on first use, so `import grader` stays light.
"""
from __future__ import annotations

from grader.lazy import exports
from grader.sandbox import SubmissionError, SubmissionTimeout

_LAZY = {
    "QueryCheck": "grader.checks.sql",
    "check_query": "grader.checks.sql",
    "compare": "grader.checks.sql",
    "Entity": "grader.checks.schema",
    "check_primary_keys": "grader.checks.schema",
    "check_foreign_key": "grader.checks.schema",
    "check_redundancy": "grader.checks.schema",
    "check_lossless": "grader.checks.schema",
    "SqlError": "grader.services.sql",
    "evaluate": "grader.checks.iam",
    "parse_policy": "grader.checks.iam",
    "Request": "grader.checks.iam",
    "Decision": "grader.checks.iam",
    "PolicyError": "grader.checks.iam",
    "Network": "grader.checks.network",
    "Endpoint": "grader.checks.network",
    "Verdict": "grader.checks.network",
    "Block": "grader.checks.network",
    "INTERNET": "grader.checks.network",
    "reach": "grader.checks.network",
    "load": "grader.checks.network",
    "aws_rule_problems": "grader.checks.network",
    "plan_problems": "grader.checks.cidr",
    "usable_addresses": "grader.checks.cidr",
    "ExplainedSubmission": "grader.checks.aws",
    "items_problem": "grader.checks.aws",
    "records_problem": "grader.checks.aws",
    "strings_problem": "grader.checks.aws",
    "value_problem": "grader.checks.aws",
    "engine_problem": "grader.checks.schema",
    "returned": "grader.checks.aws",
    "learner_traceback": "grader.checks.aws",
    "explain_client_error": "grader.checks.aws",
    "differing_columns": "grader.checks.sql",
}

__all__ = ["SubmissionError", "SubmissionTimeout", *_LAZY]


__getattr__ = exports(__name__, _LAZY, globals())
