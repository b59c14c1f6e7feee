"""What hidden tests may import from `grader`, and that importing it stays light."""
from __future__ import annotations

import subprocess
import sys

import grader


def test_every_exported_name_resolves() -> None:
    for name in grader.__all__:
        assert getattr(grader, name) is not None, name


def test_exports() -> None:
    assert {"SubmissionError", "SubmissionTimeout", "check_query", "compare", "evaluate",
            "check_lossless"} <= set(grader.__all__)


def test_import_grader_loads_no_heavy_module() -> None:
    code = ("import sys, grader, grader.cli\n"
            "heavy = [m for m in ('sqlglot', 'boto3', 'moto', 'pymysql', 'policy_sentry', 'parliament', "
            "'docker') if m in sys.modules]\nprint(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
