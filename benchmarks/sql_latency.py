"""Time to grade sql_joins on SQLite and on MySQL beside the floor `python -c "import grader.cli"`.

Run: .venv/bin/python benchmarks/sql_latency.py [--repeat N]  (MySQL when GRADER_MYSQL_URL is set)
"Cold" grades start with an empty database cache (every instance generated and loaded) and, on MySQL,
with no template databases on the server (every grader_tpl_* database is dropped first, so other
graders using the same server rebuild theirs); "warm" grades reuse the cache a learner has after their
first grade and the templates the server keeps.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

from timing import GRADE, report, wall

from grader.services.sql import drop_templates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    floor = report('floor: python -c "import grader.cli"',
                   wall([sys.executable, "-c", "import grader.cli"], args.repeat)[0])
    url = os.environ.pop("GRADER_MYSQL_URL", None)  # the SQLite rows must not pick it up
    backends = [("sqlite", [])]
    if url:
        backends.append(("mysql", ["--mysql-url", url]))
    else:
        print("mysql: skipped (set GRADER_MYSQL_URL)")
    command = [GRADE, "run", "sql_joins", "--path", "solutions"]
    for name, extra in backends:
        cold = []
        for _ in range(args.repeat):
            if url and name == "mysql":
                drop_templates(url)
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "GRADER_CACHE_DIR": cache}
                times, code = wall([*command, *extra], 1, env=env, warm_up=False)
                cold += times
        report(f"grade run sql_joins on {name}, cold cache", cold, floor, code)
        times, code = wall([*command, *extra], args.repeat, env=dict(os.environ))
        report(f"grade run sql_joins on {name}, warm cache", times, floor, code)


if __name__ == "__main__":
    main()
