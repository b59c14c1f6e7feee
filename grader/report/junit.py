"""JUnit XML: a testsuite per exercise, a testcase per check, as CI systems render it."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.results import Run, Status


def render(run: Run) -> str:
    root = ET.Element("testsuites", name="grade", tests=str(sum(len(r.tests) for r in run.results)),
                      time=f"{run.duration:.3f}")
    for result in run.results:
        counts = {status: sum(t.status is status for t in result.tests) for status in Status}
        suite = ET.SubElement(
            root, "testsuite", name=result.exercise, tests=str(len(result.tests)),
            failures=str(counts[Status.FAILED]), errors=str(counts[Status.ERROR] + bool(result.error)),
            skipped=str(counts[Status.SKIPPED] + counts[Status.NOT_RUN]), time=f"{result.duration:.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", result.score), ("max_score", result.max_score),
                            ("backend", result.backend), ("submission", result.submission),
                            ("sandbox", result.sandbox)):
            ET.SubElement(properties, "property", name=name, value=str(value))
        if result.error:
            case = ET.SubElement(suite, "testcase", classname=result.exercise, name="grading")
            ET.SubElement(case, "error", message=result.error.splitlines()[0]).text = result.error
        for test in result.tests:
            case = ET.SubElement(suite, "testcase", classname=result.exercise, name=test.name,
                                 time=f"{test.execution_time:.3f}")
            message = test.output.splitlines()[0] if test.output else test.status.value.replace("_", " ")
            tag = {Status.FAILED: "failure", Status.ERROR: "error", Status.SKIPPED: "skipped",
                   Status.NOT_RUN: "skipped"}.get(test.status)
            if tag:
                body = test.output + (f"\nHint: {test.hint}" if test.hint else "")
                ET.SubElement(case, tag, message=message).text = body
            ET.SubElement(case, "system-out").text = f"score {test.score:g}/{test.max_score:g}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
