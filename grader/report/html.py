"""The class report: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched).

Per exercise: the distribution of scores (a histogram), the pass rate of every check with the
hardest first, and the feedback learners got most often from each check that some failed. Every
text that came from a submission is escaped.
"""
from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from typing import Iterable, Sequence

from grader.gradebook import FAILED, Attempt
from grader.results import Status

BINS = 10
TOP_FEEDBACK = 3
FEEDBACK_CHARS = 240

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1.5rem; color: #1f2328; background: #ffffff; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 2px solid #d0d7de; padding-bottom: .3rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.muted { color: #59636e; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { text-align: left; padding: .3rem .8rem .3rem 0; vertical-align: top; border-bottom: 1px solid #eaeef2; }
td.num, th.num { text-align: right; }
.feedback { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 13px; white-space: pre-wrap;
            word-break: break-word; }
.count { font-weight: 600; color: #cf222e; white-space: nowrap; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
.grid { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
"""


@dataclass
class CheckStats:
    """How one check went across the class."""

    name: str
    total: int = 0
    passed: int = 0
    feedback: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass
class ExerciseStats:
    """One exercise across the class: scores and checks."""

    slug: str
    title: str
    max_score: float = 0.0
    scores: list[float] = field(default_factory=list)
    failed: int = 0  # submissions that could not be graded (their worker died)
    checks: dict[str, CheckStats] = field(default_factory=dict)


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= FEEDBACK_CHARS else line[: FEEDBACK_CHARS - 3] + "..."


def collect(attempts: Iterable[Attempt], order: Sequence[str] = ()) -> list[ExerciseStats]:
    """Statistics per exercise from the latest attempts, in course order (`order`), then by slug."""
    stats: dict[str, ExerciseStats] = {}
    for attempt in attempts:
        result = attempt.result
        exercise = stats.setdefault(attempt.exercise, ExerciseStats(attempt.exercise, result.title))
        exercise.max_score = max(exercise.max_score, result.max_score)
        exercise.scores.append(result.score)
        if attempt.status == FAILED:
            exercise.failed += 1
            continue
        for test in result.tests:
            if test.status in (Status.SKIPPED, Status.NOT_RUN):
                continue
            check = exercise.checks.setdefault(test.name, CheckStats(test.name))
            check.total += 1
            if test.status is Status.PASSED:
                check.passed += 1
            else:
                check.feedback[_first_line(test.output) or f"({test.status.value}, no message)"] += 1
    rank = {slug: i for i, slug in enumerate(order)}
    return sorted(stats.values(), key=lambda e: (rank.get(e.slug, len(rank)), e.slug))


def histogram(scores: Sequence[float], max_score: float) -> list[int]:
    """Counts of scores in BINS equal slices of 0..max_score (full marks in the last)."""
    counts = [0] * BINS
    for score in scores:
        share = score / max_score if max_score else 0.0
        counts[min(BINS - 1, max(0, int(share * BINS)))] += 1
    return counts


def _histogram_svg(exercise: ExerciseStats) -> str:
    counts = histogram(exercise.scores, exercise.max_score)
    width, height, left, bottom, top = 460, 220, 40, 40, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(counts) or 1
    bar = plot_w / BINS
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="score distribution of {escape(exercise.slug)}">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#8c959f"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#8c959f"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end">0</text>']
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + i * bar
        lo, hi = exercise.max_score * i / BINS, exercise.max_score * (i + 1) / BINS
        label = f"{lo:g}-{hi:g} points: {count} submission(s)"
        parts.append(f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" '
                     f'fill="#0969da"><title>{escape(label)}</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                         f'text-anchor="middle">{count}</text>')
    for i in range(0, BINS + 1, 2):
        x = left + i * bar
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f'{exercise.max_score * i / BINS:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">score (points)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rates_svg(checks: Sequence[CheckStats]) -> str:
    row, label_w, bar_w = 24, 380, 260
    width, height = label_w + bar_w + 60, row * len(checks) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             'aria-label="pass rate per check, hardest first">']
    for i, check in enumerate(checks):
        y = 5 + i * row
        name = check.name if len(check.name) <= 60 else check.name[:57] + "..."
        colour = "#cf222e" if check.rate < 0.5 else "#bf8700" if check.rate < 0.8 else "#1a7f37"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row - 8}" fill="#eaeef2"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * check.rate:.1f}" height="{row - 8}" '
                     f'fill="{colour}"><title>{escape(check.name)}: {check.passed} of {check.total} passed'
                     '</title></rect>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{check.rate:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _exercise_section(exercise: ExerciseStats) -> str:
    n = len(exercise.scores)
    mean = sum(exercise.scores) / n if n else 0.0
    full = sum(1 for s in exercise.scores if exercise.max_score and s >= exercise.max_score)
    checks = sorted(exercise.checks.values(), key=lambda c: (c.rate, c.name))
    out = [f'<section id="{escape(exercise.slug)}"><h2>{escape(exercise.slug)}: {escape(exercise.title)}</h2>',
           f'<p class="muted">{n} submission(s); mean {mean:.1f} of {exercise.max_score:g} points; '
           f'{full} with full marks'
           + (f"; {exercise.failed} could not be graded (their worker died)" if exercise.failed else "")
           + "</p>",
           '<div class="grid"><div><h3>Scores</h3>', _histogram_svg(exercise), "</div>"]
    if checks:
        out += ["<div><h3>Pass rate per check, hardest first</h3>", _rates_svg(checks), "</div>"]
    out.append("</div>")
    troubled = [c for c in checks if c.feedback]
    if troubled:
        out.append('<h3>Most frequent feedback</h3><table><tr><th>check</th><th class="num">passed</th>'
                   "<th>what learners were told</th></tr>")
        for check in troubled:
            lines = "".join(f'<div><span class="count">{count}&times;</span> '
                            f'<span class="feedback">{escape(text)}</span></div>'
                            for text, count in check.feedback.most_common(TOP_FEEDBACK))
            out.append(f"<tr><td>{escape(check.name)}</td><td class=\"num\">{check.passed}/{check.total}</td>"
                       f"<td>{lines}</td></tr>")
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


def render(attempts: Iterable[Attempt], order: Sequence[str] = (), title: str = "Class report") -> str:
    """The whole page for the latest attempts of a gradebook."""
    attempts = list(attempts)
    exercises = collect(attempts, order)
    students = len({a.student for a in attempts})
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    summary = ['<table><tr><th>exercise</th><th class="num">submissions</th><th class="num">mean</th>'
               '<th class="num">max</th><th>hardest check</th></tr>']
    for e in exercises:
        mean = sum(e.scores) / len(e.scores) if e.scores else 0.0
        hardest = min(e.checks.values(), key=lambda c: (c.rate, c.name), default=None)
        shown = f"{escape(hardest.name)} ({hardest.rate:.0%})" if hardest else "-"
        summary.append(f'<tr><td><a href="#{escape(e.slug)}">{escape(e.slug)}</a></td>'
                       f'<td class="num">{len(e.scores)}</td><td class="num">{mean:.1f}</td>'
                       f'<td class="num">{e.max_score:g}</td><td>{shown}</td></tr>')
    summary.append("</table>")
    body = "".join(_exercise_section(e) for e in exercises) or "<p>The gradebook holds no results yet.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<link rel=\"icon\" href=\"data:,\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class=\"muted\">{students} student(s), {len(attempts)} graded submission(s); "
        f"the latest result of each student and exercise; written {when}.</p>"
        + "".join(summary) + body + "</body></html>\n"
    )
