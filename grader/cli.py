"""The `grade` command: list exercises, grade a submission, validate the course."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click
from rich.markup import escape

from grader import catalog
from grader.errors import GraderError, PublishError, ServiceError, UsageError
from grader.report import REPORTERS, render
from grader.targets import display_path as _label
from grader.services import ServiceOptions

if TYPE_CHECKING:
    from grader.progress import Progress
    from grader.results import Run
    from grader.targets import Target

EXIT_FAILED, EXIT_USAGE, EXIT_UNGRADED = 1, 2, 3
EXIT_PIPE = 128 + 13  # the reader of our output went away (SIGPIPE), as `grade list | head -1` does


def course_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--course: the course root, when it is not the folder you stand in."""
    return click.option(
        "--course", "course", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="The course folder (with exercises/ and tests/). Default: the folder you stand in, or the "
             "nearest one above it (env GRADER_COURSE_ROOT).",
    )(fn)


def workspace_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--path: the folder with one <slug>/ folder per exercise."""
    return click.option(
        "--path", "path", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Folder holding one <slug>/ folder per exercise (default: the course's exercises/).",
    )(fn)


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--format and --output."""
    fn = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="Write the report to this file instead of standard output.")(fn)
    return click.option("--format", "fmt", type=click.Choice(list(REPORTERS)), default="text",
                        show_default=True, help="Report format.")(fn)


def service_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Where the sql and aws services run."""
    fn = click.option("--mysql-url", envvar="GRADER_MYSQL_URL", default=None,
                      help="Grade SQL on this MySQL/MariaDB server, e.g. mysql://root@127.0.0.1:3306 "
                           "(env GRADER_MYSQL_URL). Default: embedded SQLite.")(fn)
    fn = click.option("--aws-endpoint", envvar="GRADER_AWS_ENDPOINT", default=None,
                      help="Use this AWS-compatible endpoint (LocalStack, a moto container) "
                           "(env GRADER_AWS_ENDPOINT). Default: an embedded moto server.")(fn)
    return click.option("--services", "services_mode", type=click.Choice(["embedded", "docker"]),
                        default="embedded", show_default=True,
                        help="Where services run when no URL is given.")(fn)


def _options(mysql_url: str | None, aws_endpoint: str | None, services_mode: str) -> ServiceOptions:
    return ServiceOptions(mysql_url=mysql_url or None, aws_endpoint=aws_endpoint or None,
                          docker=services_mode == "docker")


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn grader errors into one-line messages and the documented exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            _debug_trace(ctx)
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_UNGRADED)
        except PublishError as exc:  # the course failed its checks, as `grade validate` fails
            _debug_trace(ctx)
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_FAILED)
        except GraderError as exc:
            _debug_trace(ctx)
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except BrokenPipeError:  # a closed pipe is not a failure of the grader
            _silence_stdout()
            ctx.exit(EXIT_PIPE)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a defect of the grader: never exit 1, which means "graded, failed"
            _debug_trace(ctx)
            hint = "" if ctx.find_root().params.get("debug") else " (run with --debug for the traceback)"
            click.echo(f"Error: the grader failed: {type(exc).__name__}: {exc}{hint}", err=True)
            ctx.exit(EXIT_UNGRADED)

    return wrapper


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that nothing left in its buffer fails again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _debug_trace(ctx: click.Context) -> None:
    if ctx.find_root().params.get("debug"):
        traceback.print_exc()


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomically(output, text)
        click.echo(f"Report written to {output}", err=True)


def write_atomically(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version: the grader's version and the sandbox learner code gets on this machine."""
    if not value or ctx.resilient_parsing:
        return
    from grader.runner import version
    from grader.sandbox import detect

    level = detect()
    click.echo(f"grade (dataeng-grader) {version()}\nsandbox: {level.name} ({level.reason})")
    ctx.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the grader's own tracebacks.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and the sandbox level, then exit.")
def cli(debug: bool) -> None:
    """Auto-graded data engineering exercises.

    \b
    grade list                      the exercises
    grade watch                     regrade on every save, exercise after exercise
    grade run log_parsing           grade your work in exercises/log_parsing/
    grade status                    where you stand
    grade hint log_parsing          a hint for a failing check, more on each call
    grade reset log_parsing         the stub back (your version kept as a .bak)
    grade validate                  (instructors) solutions full marks, stubs zero
    grade doctor                    what this machine gives the grader (sandbox, services)
    """


@cli.command("list")
@course_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def list_command(course: Path | None, fmt: str) -> None:
    """List the exercises in order, with title and points; a broken exercise says what is wrong.

    Example: grade list --format json
    """
    root = catalog.find_root(course=course)
    exercises = catalog.load_all(root)
    if fmt == "json":
        rows = [{"slug": e.slug, "title": e.title, "max_score": e.points, "order": e.order,
                 "services": list(e.services), "summary": e.summary, **({"error": e.error} if e.error else {})}
                for e in exercises]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(e.slug) for e in exercises), default=4)
    for e in exercises:
        if e.error:
            click.echo(f"{e.slug:<{width}}     - pts  cannot be loaded: {e.error}")
        else:
            click.echo(f"{e.slug:<{width}}  {e.points:>4g} pts  {e.title}")


def _workspace(root: Path, path: Path | None) -> Path:
    workspace = path if path is not None else root / "exercises"
    if not workspace.is_dir():
        raise click.UsageError(f"--path {workspace}: no such folder")
    return workspace


def _record(run: Run, targets: list[Target], exercises: list[catalog.Exercise]) -> Progress | None:
    """Save the run in the learner's progress; the progress of the first workspace graded, or None."""
    from grader.progress import record_grades

    try:
        saved = record_grades(run, {t.exercise.slug: t.learner_dir for t in targets}, exercises)
    except OSError as exc:  # a read-only folder: the grade stands, only history is lost
        click.echo(f"Warning: progress not saved: {exc}", err=True)
        return None
    return next(iter(saved.values()), None)


def sandbox_options(default: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--require-sandbox / --no-require-sandbox, with the command's own default."""
    return click.option(
        "--require-sandbox/--no-require-sandbox", default=default, show_default=True,
        help="Refuse to grade (exit 3) unless learner code runs in the namespace sandbox.")


@cli.command("run")
@click.argument("targets", nargs=-1)
@click.option("-k", "keyword", metavar="EXPRESSION", default=None,
              help="Grade only the checks whose names match, as pytest's -k: q2, 'parse_line and not README'. "
                   "The others are reported as not run.")
@click.option("-v", "--verbose", is_flag=True, help="Every check on its own row, every feedback in full.")
@click.option("--hints", is_flag=True, help="Show the first hint of each failing check.")
@workspace_options
@course_options
@report_options
@service_options
@sandbox_options(default=False)
@handle_errors
def run_command(targets: tuple[str, ...], keyword: str | None, verbose: bool, hints: bool, path: Path | None,
                course: Path | None, fmt: str, output: Path | None, mysql_url: str | None,
                aws_endpoint: str | None, services_mode: str, require_sandbox: bool) -> None:
    """Grade exercises: TARGET is an exercise slug, `all`, an exercise folder or a learner file.

    \b
    Examples:
      grade run log_parsing                     your work in exercises/log_parsing/
      grade run .                               the exercise folder you stand in (or no target)
      grade run sql_joins -k q2                 only the checks whose names match q2
      grade run sql_joins/q2_short_film_categories.sql   only the checks that read that file
      grade run log_parsing --path solutions    the reference solution
      grade run all --format gradescope -o results.json
    """
    from grader.sandbox.jail import detect_soon

    detect_soon()  # probes the sandbox while the imports below run
    from grader.runner import ServicePool, check_keyword, grade_targets, hold_collections, matching, release_collections

    hold_collections()
    click.get_current_context().call_on_close(release_collections)  # a run that ends before any grade
    from grader.report import text
    from grader.targets import resolve

    root = catalog.find_root(course=course)
    workspace = _workspace(root, path)
    chosen = resolve(root, targets, workspace)
    if keyword:
        check_keyword(keyword)
    announce = text.Announcer(len(chosen), text.console(stderr=True)) if len(chosen) > 1 else None
    try:
        with ServicePool(_options(mysql_url, aws_endpoint, services_mode)) as pool:
            run = grade_targets(chosen, pool, keyword=keyword, on_start=announce,
                                require_sandbox=require_sandbox, final=True)
    finally:
        if announce is not None:
            announce.close()
    if keyword:
        run = matching(run, keyword)
    exercises = catalog.load_all(root)
    progress = _record(run, chosen, exercises)
    if fmt == "text" and output is None:
        from grader.progress import Progress, next_step, status_rows

        console = text.console()
        progress = progress or Progress(Path(), {})
        graded = chosen[0].learner_dir.parent if chosen else workspace
        step = next_step(run, exercises, progress, graded)
        text.write(run, console, verbose=verbose, hints=hints, next_step="" if len(chosen) > 1 else step)
        if len(chosen) > 1:
            console.print()
            text.write_status(status_rows(exercises, progress, graded), console)
            console.print(f"[bold]{escape(step)}[/]", highlight=False, soft_wrap=True)
    else:
        _emit(render(run, fmt), output)
    ctx = click.get_current_context()
    ctx.call_on_close(_leave_when_done)
    if run.ungraded or run.errored:  # a check the grader could not grade is never the learner's failure
        ctx.exit(EXIT_UNGRADED)
    ctx.exit(0 if run.passed else EXIT_FAILED)


@cli.command("status")
@workspace_options
@course_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def status_command(path: Path | None, course: Path | None, fmt: str) -> None:
    """Where you stand: each exercise's best and last score, and what to do next.

    Progress is kept in .grade/progress.json in your workspace (exercises/ by default).

    Example: grade status
    """
    from grader.progress import Progress, next_exercise, status_rows
    from grader.report import text

    root = catalog.find_root(course=course)
    workspace = _workspace(root, path)
    exercises = catalog.load_all(root)
    progress = Progress.load(workspace)
    rows = status_rows(exercises, progress, workspace)
    if fmt == "json":
        click.echo(json.dumps([{"slug": r.exercise.slug, "state": r.progress.state, "best": r.progress.best,
                                "last": r.progress.last, "max_score": r.progress.max_score or r.exercise.points,
                                "runs": r.progress.runs, "graded_at": r.progress.graded_at, "next": r.next}
                               for r in rows], indent=2))
        return
    console = text.console()
    text.write_status(rows, console)
    following = next_exercise(exercises, progress)
    if following is None:
        console.print("[bold]Next: every exercise is at full marks. Well done: hand in your work.[/]", soft_wrap=True)
    else:
        row = next(r for r in rows if r.exercise.slug == following.slug)
        console.print(f"[bold]Next: {escape(row.next)}[/]", highlight=False, soft_wrap=True)


@cli.command("hint")
@click.argument("slug")
@click.argument("check", required=False)
@workspace_options
@course_options
@handle_errors
def hint_command(slug: str, check: str | None, path: Path | None, course: Path | None) -> None:
    """A hint for a failing check; each call shows one more (a nudge first, then more).

    CHECK is part of a check's name (default: the first failing check of your last grade).

    \b
    Examples:
      grade hint log_parsing
      grade hint sql_joins q3
    """
    from grader.progress import Progress, choose_hint
    from grader.runner import collect

    root = catalog.find_root(course=course)
    workspace = _workspace(root, path)
    (exercise,) = catalog.select(root, [slug])
    progress = Progress.load(workspace)
    entry = progress.get(slug)
    if not check and not entry.runs:
        raise UsageError(f"grade {slug} first (grade run {slug}): hints are for checks that fail")
    checks = collect(exercise)
    candidates = choose_hint(checks, entry, check)
    if check and not candidates:
        raise UsageError(f"no check of {slug} is named like {check!r}; its checks are: "
                         + "; ".join(c.name for c in checks))
    if not candidates:
        click.echo(f"No check of {slug} failed in your last grade: nothing to hint at.")
        return
    chosen = candidates[0]
    if not chosen.hints:
        from grader.progress import readme

        click.echo(f"\"{chosen.name}\" has no hint: its feedback is what there is. "
                   f"Read {readme(exercise, workspace)} again.")
        return
    shown = progress.reveal(slug, chosen.name, len(chosen.hints))
    try:
        progress.save()
    except OSError as exc:
        click.echo(f"Warning: progress not saved: {exc}", err=True)
    from grader.report.text import hint_text

    click.echo(hint_text(chosen, shown, slug))


@cli.command("reset")
@click.argument("slug")
@click.argument("file", required=False)
@workspace_options
@course_options
@handle_errors
def reset_command(slug: str, file: str | None, path: Path | None, course: Path | None) -> None:
    """Put an exercise's stub back; your version is kept as <file>.<time>.bak next to it.

    \b
    Examples:
      grade reset log_parsing
      grade reset sql_joins q3_films_per_category.sql
    """
    from grader.reset import reset

    root = catalog.find_root(course=course)
    workspace = _workspace(root, path)
    (exercise,) = catalog.select(root, [slug])
    names = (Path(file).name,) if file else ()
    for done in reset(exercise, workspace / slug, names):
        shown = _label(done.path)
        if not done.changed:
            click.echo(f"{shown}: already the stub ({done.source}); nothing changed")
        else:
            click.echo(f"{shown}: restored from {done.source}"
                       + (f"; your version is in {_label(done.backup)}" if done.backup else ""))
    click.echo(f"Next: grade run {slug}")


@cli.command("watch")
@click.argument("slug", required=False)
@workspace_options
@course_options
@service_options
@handle_errors
def watch_command(slug: str | None, path: Path | None, course: Path | None, mysql_url: str | None,
                  aws_endpoint: str | None, services_mode: str) -> None:
    """Regrade on every save: start on the first exercise not done, go on when one is at full marks.

    Keys (on a terminal): h hint, r re-run, n next, l list, q quit.

    Example: grade watch
    """
    from grader.report import text
    from grader.runner import hold_collections, release_collections
    from grader.watch import watch

    hold_collections()
    click.get_current_context().call_on_close(release_collections)  # a watch that ends before any grade
    root = catalog.find_root(course=course)
    workspace = _workspace(root, path)
    if slug:
        catalog.select(root, [slug])  # an unknown slug is a usage error
    exercises = catalog.load_all(root)
    ctx = click.get_current_context()
    ctx.exit(watch(exercises, workspace, _options(mysql_url, aws_endpoint, services_mode), text.console(),
                   start=slug))


@cli.command("validate")
@click.argument("slugs", nargs=-1)
@course_options
@service_options
@click.option("--mutants", "mutants", is_flag=True,
              help="Grade mutants of each reference solution instead: each must lose points.")
@click.option("--threshold", type=click.FloatRange(0, 100), default=95.0, show_default=True,
              help="With --mutants: the least share (%) of non-equivalent mutants an exercise must kill.")
@click.option("--max-mutants", "cap", type=click.IntRange(min=0), default=None,
              help="With --mutants: grade at most N mutants per exercise, sampled by --seed (0: all). "
                   "[default: 20]")
@click.option("--seed", type=int, default=None, help="With --mutants: the sampling seed. [default: 2024]")
@click.option("--json", "as_json", is_flag=True, help="With --mutants: print the results as JSON (for CI).")
@click.option("--repeat", type=click.IntRange(min=1), default=None,
              help="With --mutants: grade the solution and each sampled mutant whole N times; a check whose "
                   "status, score or feedback changes between them fails the exercise (unsteady). "
                   "[default: 1, no repeat]")
@handle_errors
def validate_command(slugs: tuple[str, ...], course: Path | None, mysql_url: str | None, aws_endpoint: str | None,
                     services_mode: str, mutants: bool, threshold: float, cap: int | None, seed: int | None,
                     as_json: bool, repeat: int | None) -> None:
    """Check every exercise: the solution scores full marks, the untouched stub scores 0.

    \b
    Examples:
      grade validate log_parsing
      grade validate --mutants sql_joins        mutants of the solution must lose points
      grade validate --mutants --repeat 2 sql_joins   ... and each gets the same result twice
    """
    if mutants:
        _validate_mutants(slugs, course, _options(mysql_url, aws_endpoint, services_mode), threshold, cap, seed,
                          as_json, repeat or 1)
        return
    if as_json or cap is not None or seed is not None or repeat is not None:
        raise click.UsageError("--json, --max-mutants, --seed and --repeat go with --mutants")
    from rich.console import Console
    from rich.table import Table

    from grader.runner import ServicePool
    from grader.validate import validate

    root = catalog.find_root(course=course)
    exercises = catalog.select(root, slugs)
    console = Console(highlight=False)
    table = Table("Exercise", "Solution", "Stub", "Verdict", title="grade validate", title_justify="left")
    failures = []
    with ServicePool(_options(mysql_url, aws_endpoint, services_mode)) as pool:
        for exercise in exercises:
            verdict = validate(exercise, pool)
            sol = f"{verdict.solution.score:g}/{verdict.solution.max_score:g}" if verdict.solution else "-"
            stub = f"{verdict.stub.score:g}/{verdict.stub.max_score:g}" if verdict.stub else "-"
            table.add_row(exercise.slug, sol, stub, "[green]ok[/]" if verdict.ok else "[red]FAIL[/]")
            if not verdict.ok:
                failures.append(verdict)
    console.print(table)
    for verdict in failures:
        console.print(f"[bold red]{verdict.exercise.slug}[/]")
        for problem in verdict.problems:
            console.print(f"  - {problem}", markup=False, soft_wrap=True)
    click.get_current_context().exit(1 if failures else 0)


def _validate_mutants(slugs: tuple[str, ...], course: Path | None, options: ServiceOptions, threshold: float,
                      cap: int | None, seed: int | None, as_json: bool, repeat: int = 1) -> None:
    """`grade validate --mutants`: the mutation table (or JSON); exit 1 when an exercise is under the threshold
    (or, with `repeat`, unsteady)."""
    import time

    from rich.console import Console

    from grader.mutants import engine, report
    from grader.runner import ServicePool

    cap = engine.DEFAULT_CAP if cap is None else cap
    seed = engine.DEFAULT_SEED if seed is None else seed
    exercises = catalog.select(catalog.find_root(course=course), slugs)
    started = time.monotonic()
    reports = []
    with ServicePool(options) as pool:
        for exercise in exercises:
            done = engine.validate_mutants(exercise, pool, cap=cap, seed=seed, repeat=repeat)
            reports.append(done)
            click.echo(f"{exercise.slug}: graded {done.sampled} of {done.made} mutants in {done.duration:g} s",
                       err=True)
    duration = round(time.monotonic() - started, 1)
    passed = all(r.passed(threshold) for r in reports)
    if as_json:
        click.echo(json.dumps(report.as_json(reports, threshold=threshold, cap=cap, seed=seed,
                                             duration=duration), indent=2))
    else:
        console = Console(highlight=False, width=max(Console().width, 120))  # a CI log is no terminal
        for done in reports:
            shown = [v for v in done.verdicts if v.status == engine.SURVIVED]
            for verdict in shown:
                console.print(f"[bold red]survived[/] {done.exercise} {verdict.mutant.ident}", markup=True)
                console.print(f"  {verdict.why}", markup=False)
                console.print(verdict.mutant.diff, markup=False)
            for unsteady in done.unsteady:
                console.print(f"[bold red]unsteady[/] {done.exercise} {escape(unsteady.what)}: graded {repeat} "
                              f"times, these checks did not end alike: {escape(', '.join(unsteady.checks))}")
                if unsteady.diff:
                    console.print(unsteady.diff, markup=False)
            if done.problem:
                console.print(f"[bold red]{done.exercise}[/]: {done.problem}")
        console.print(report.table(reports, threshold))
        sampled = sum(r.sampled for r in reports)
        made = sum(r.made for r in reports)
        cap_text = "all" if cap == 0 else f"at most {cap} per exercise, seed {seed}"
        again = f", each graded whole {repeat} times" if repeat > 1 else ""
        console.print(f"{sampled} of {made} mutants graded ({cap_text}{again}) in {duration:g} s", markup=False)
    click.get_current_context().exit(0 if passed else EXIT_FAILED)


@cli.command("doctor")
@handle_errors
def doctor_command() -> None:
    """Say what this machine gives the grader: the sandbox level and why, its limits, the services.

    Exits 1 when learner code would run without the namespace sandbox.

    Example: grade doctor
    """
    from grader.doctor import diagnose

    findings = diagnose()
    width = max(len(name) for name, _, _ in findings)
    for name, ok, text in findings:
        click.echo(f"{name:<{width}}  {'ok ' if ok else 'no '} {text}")
    sandboxed = findings[0][1]
    click.get_current_context().exit(0 if sandboxed else 1)


@cli.command("new")
@click.argument("slug")
@click.option("--title", default=None, help="The exercise's title (default: from the slug).")
@course_options
@handle_errors
def new_command(slug: str, title: str | None, course: Path | None) -> None:
    """(instructors) Scaffold exercise SLUG: exercise.toml, README, stub, solution and a hidden test.

    The new exercise validates as it is (solution full marks, stub zero); edit the five files from there.
    With --course DIR, DIR becomes a course if it is not one yet.

    Example: grade new word_counts && grade validate word_counts
    """
    from grader.publish.scaffold import new_exercise

    root = course.resolve() if course is not None else catalog.find_root()
    for written in new_exercise(root, slug, title=title):
        click.echo(f"wrote {written.relative_to(root)}")
    click.echo(f"Next: edit them, then `grade validate {slug}`.")


def gradebook_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--gradebook: the SQLite file of a class's results."""
    return click.option("--gradebook", "gradebook_path", type=click.Path(dir_okay=False, path_type=Path),
                        default=Path("gradebook.db"), show_default=True,
                        help="The gradebook (an SQLite file) results go into and exports read.")(fn)


EXIT_INTERRUPTED = 130


@cli.command("batch")
@click.argument("submissions", type=click.Path(file_okay=False, path_type=Path))
@click.argument("slugs", nargs=-1)
@gradebook_option
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local cluster (default: the number of cores).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Grade on a running Dask cluster instead of a local one; its workers need the course.")
@click.option("--regrade", is_flag=True, help="Grade again what the gradebook already holds.")
@service_options
@sandbox_options(default=True)
@course_options
@handle_errors
def batch_command(submissions: Path, slugs: tuple[str, ...], gradebook_path: Path, jobs: int | None,
                  scheduler: str | None, regrade: bool, mysql_url: str | None, aws_endpoint: str | None,
                  services_mode: str, require_sandbox: bool, course: Path | None) -> None:
    """Grade a class: SUBMISSIONS holds one folder per student; SLUGS are the exercises (default all).

    \b
    A student's folder holds <slug>/ folders, or the files of exercises loose (matched by name).
    Gradescope exports (submission_metadata.yml) and GitHub Classroom clones are recognised.
    Results go into the gradebook; what it already holds is not graded again.
    Examples:
      grade batch submissions/                         every exercise, every student
      grade batch submissions/ log_parsing sql_joins --jobs 4
      grade batch submissions/ --scheduler tcp://10.0.0.5:8786
    """
    from rich.console import Console

    from grader import batch
    from grader.gradebook import Gradebook
    from grader.report.live import BatchProgress

    if jobs is not None and scheduler:
        raise click.UsageError("--jobs sizes the local cluster; with --scheduler the cluster's workers decide")
    root = catalog.find_root(course=course)
    exercises = catalog.select(root, slugs)
    found = batch.plan(submissions, exercises, catalog.load_all(root))
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for problem in found.problems:
        err.print(f"Not graded: {problem}", markup=False)
    click.echo(f"{len(found.submissions)} submission(s) of {found.students} student(s) in {submissions} "
               f"({found.layout} layout).", err=True)
    with Gradebook(gradebook_path) as book:
        summary = batch.grade_batch(found.submissions, exercises, book,
                                    options=_options(mysql_url, aws_endpoint, services_mode), jobs=jobs,
                                    scheduler=scheduler, regrade=regrade, require_sandbox=require_sandbox,
                                    listener=BatchProgress(err))
    ctx = click.get_current_context()
    if summary.interrupted:
        ctx.exit(EXIT_UNGRADED if summary.lost else EXIT_INTERRUPTED)
    ctx.exit(EXIT_UNGRADED if summary.ungraded else 0)


@cli.group("gradebook")
def gradebook_group() -> None:
    """Export or picture the gradebook `grade batch` wrote."""


@gradebook_group.command("export")
@gradebook_option
@click.option("--format", "fmt", type=click.Choice(["csv", "gradescope", "json", "junit"]), default="csv",
              show_default=True, help="csv: student x exercise with totals; the others: one report per student.")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="csv: the file (default: standard output); the others: the folder to write into.")
@course_options
@handle_errors
def gradebook_export(gradebook_path: Path, fmt: str, output: Path | None, course: Path | None) -> None:
    """Export the latest result of every student and exercise.

    \b
    Examples:
      grade gradebook export --format csv -o grades.csv
      grade gradebook export --format gradescope -o results/   results/<student>/results.json
    """
    from grader import gradebook

    with gradebook.Gradebook(gradebook_path, create=False) as book:
        if fmt == "csv":
            _emit(gradebook.export_csv(book, [e.slug for e in _course_exercises(course)]), output)
            return
        if output is None:
            raise click.UsageError(f"--format {fmt} writes one file per student: give the folder with --output")
        written = gradebook.export_per_student(book, fmt, output)
    click.echo(f"{len(written)} report(s) written to {output}", err=True)


def _course_exercises(course: Path | None) -> list[Any]:
    """The course's exercises in order, or none when no course is found (the gradebook's order then)."""
    try:
        return catalog.load_all(catalog.find_root(course=course))
    except GraderError:
        return []


@gradebook_group.command("report")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@gradebook_option
@course_options
@handle_errors
def gradebook_report(out: Path, gradebook_path: Path, course: Path | None) -> None:
    """Write a self-contained HTML page of what the class got right and wrong.

    Example: grade gradebook report class.html
    """
    from grader.gradebook import Gradebook
    from grader.report import html

    with Gradebook(gradebook_path, create=False) as book:
        page = html.render(book.attempts(latest=True), [e.slug for e in _course_exercises(course)])
    _emit(page, out)


@cli.group("publish")
def publish_group() -> None:
    """(instructors) Build what learners and autograders receive, from the one course.

    \b
    grade publish learner OUT [SLUG...]         a folder (and OUT.zip) learners work in
    grade publish gradescope OUT.zip [SLUG...]  Gradescope's autograder
    grade publish classroom OUT [SLUG...]       a GitHub Classroom template repository

    The course is validated first, as `grade validate` does, and nothing is published when it fails.
    Visible checks travel to learners; hidden ones (and after_due_date, after_published) only to the
    autograder. No bundle holds solutions/: what checks need of it is computed when publishing.
    """


def _publish(kind: str, out: Path, slugs: tuple[str, ...], course: Path | None, mysql_url: str | None,
             aws_endpoint: str | None, services_mode: str) -> None:
    from grader.publish import PUBLISHERS, make_plan
    from grader.runner import ServicePool

    root = catalog.find_root(course=course)
    click.echo(f"Validating {_label(root)} ...", err=True)
    with ServicePool(_options(mysql_url, aws_endpoint, services_mode)) as pool:
        plan = make_plan(root, slugs, pool)
    for written in PUBLISHERS[kind](plan, out):
        click.echo(f"wrote {_label(written)}")


def _publish_command(kind: str, out_help: str, example: str) -> None:
    @publish_group.command(kind, help=f"{out_help}\n\nExample: {example}")
    @click.argument("out", type=click.Path(path_type=Path))
    @click.argument("slugs", nargs=-1)
    @course_options
    @service_options
    @handle_errors
    def command(out: Path, slugs: tuple[str, ...], course: Path | None, mysql_url: str | None,
                aws_endpoint: str | None, services_mode: str) -> None:
        _publish(kind, out, slugs, course, mysql_url, aws_endpoint, services_mode)


_publish_command("learner", "The folder OUT (and OUT.zip) a learner works in: the exercises, the visible checks "
                 "and what they need, the grader and a pyproject.toml that installs it (`pip install .`).",
                 "grade publish learner dist/course")
_publish_command("gradescope", "Gradescope's autograder OUT.zip: setup.sh and run_autograder at its root, every "
                 "check; a submission may be the exercise folders or their files side by side.",
                 "grade publish gradescope dist/sql_joins.zip sql_joins")
_publish_command("classroom", "A GitHub Classroom template repository in OUT: the learner bundle and "
                 ".github/workflows/classroom.yml, one command-grader step per exercise.",
                 "grade publish classroom dist/classroom")


# Set by a command that has closed everything it started (sandboxes, services, files) and written its
# output: the console script then ends the process at once (os._exit), without tearing down what it holds.
# The interpreter's teardown frees every object one by one and collects garbage twice: 0.2 s after a
# vpc_networking grade (a moto state of four networks), 30 ms after a dynamodb_crud one.
_finished = False


def _leave_when_done() -> None:
    global _finished
    _finished = True


def main() -> None:
    """Console script entry point."""
    code: Any = 0
    try:
        cli(prog_name="grade")
    except SystemExit as exc:
        code = exc.code
        raise
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(EXIT_PIPE)
        if _finished:
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 0 if code is None else 1)
