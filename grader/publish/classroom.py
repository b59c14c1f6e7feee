"""`grade publish classroom OUT`: a GitHub Classroom template repository.

The learner bundle, plus .github/workflows/classroom.yml: GitHub Classroom's autograding actions, one
step of the command grader per exercise (`grade run <slug>`, its max-score the points of the exercise's
visible checks: the command grader awards them when the command exits 0), then the grading reporter,
which sends the total to Classroom. Each step also writes its `--format github` report, and the job's
step summary collects them. Everything in the repository is the learner's to read, so hidden checks
never run here.
"""
from __future__ import annotations

import json
from pathlib import Path

from grader.errors import PublishError
from grader.publish import bundle, learner
from grader.publish.bundle import Plan

WORKFLOW = Path(".github") / "workflows" / "classroom.yml"
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
REPORTS = ".grade"  # where each step's --format github report goes, for the step summary
TIMEOUT_MINUTES = 10


def command(slug: str) -> str:
    """The command the grading step of `slug` runs: exit 0 when every visible check passes."""
    return f"grade run {slug} --format github --output {REPORTS}/{slug}.md"


def workflow(plan: Plan) -> str:
    """The text of .github/workflows/classroom.yml."""
    steps, env, runners = [], [], []
    for exercise in plan.exercises:
        points = plan.visible_points(exercise)
        if points <= 0:
            continue
        if points != int(points):
            raise PublishError(f"{exercise.slug}: GitHub Classroom awards whole points, and its visible checks "
                               f"add up to {points:g}")
        step_id = exercise.slug
        steps.append("\n".join([
            f"      - name: {json.dumps(exercise.slug + ': ' + exercise.title)}",
            f"        id: {step_id}",
            f"        uses: {COMMAND_GRADER}",
            "        with:",
            f"          test-name: {json.dumps(exercise.slug)}",
            f"          command: {json.dumps(command(exercise.slug))}",
            f"          timeout: {TIMEOUT_MINUTES}",
            f"          max-score: {int(points)}",
        ]))
        env.append(f"          {step_id.upper()}_RESULTS: \"${{{{steps.{step_id}.outputs.result}}}}\"")
        runners.append(step_id)
    return bundle.template("classroom.yml.tmpl").substitute(
        steps="\n".join(steps), env="\n".join(env), runners=",".join(runners))


def build(plan: Plan, out: Path) -> Path:
    """Write the template repository into the folder `out`; the folder."""
    text = workflow(plan)
    folder = learner.build(plan, out)
    (folder / WORKFLOW).parent.mkdir(parents=True, exist_ok=True)
    (folder / WORKFLOW).write_text(text, encoding="utf-8")
    return folder
