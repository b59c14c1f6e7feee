"""`grade gradebook export` and `grade gradebook report`: the views over a class's gradebook, and the HTML
report as headless Chromium renders it."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.gradebook import FAILED, GRADED, Gradebook
from grader.results import Result, Status, TestResult

CHECKS = ("parse_line reads the README's example", "parse_log numbers malformed lines", "failures_per_user ranks")


def graded(passed: tuple[bool, ...], feedback: str = "parse_line('x') returned None, expected a record") -> Result:
    tests = tuple(TestResult(name=name, status=Status.PASSED if ok else Status.FAILED, score=2.0 if ok else 0.0,
                             max_score=2.0, output="" if ok else feedback)
                  for name, ok in zip(CHECKS, passed))
    return Result(exercise="log_parsing", title="Parsing application logs", submission="", backend="python",
                  tests=tests, duration=0.4, version="1", points=6.0)


@pytest.fixture
def gradebook(tmp_path: Path) -> Path:
    """A class of five: one full marks, one who printed HTML into the feedback, one whose worker died."""
    path = tmp_path / "gradebook.db"
    with Gradebook(path) as book:
        book.record("ann", "log_parsing", GRADED, graded((True, True, True)), content_hash="a")
        book.record("bob", "log_parsing", GRADED, graded((True, False, False)), content_hash="b")
        book.record("cat", "log_parsing", GRADED, graded((True, True, False)), content_hash="c")
        book.record("dan", "log_parsing", GRADED,
                    graded((False, False, True), feedback="<script>alert('pwned')</script> printed"), content_hash="d")
        book.record("eve", "log_parsing", FAILED, graded(()), content_hash="e", reason="its worker died")
        book.record("ann", "sql_joins", GRADED, Result(
            exercise="sql_joins", title="SQL joins", submission="", backend="sqlite", points=4.0,
            tests=(TestResult("q1", Status.PASSED, 2.0, 2.0), TestResult("q2", Status.FAILED, 0.0, 2.0, "3 rows"))),
            content_hash="f")
    return path


def test_export_csv(gradebook: Path, course_root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["gradebook", "export", "--gradebook", str(gradebook)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "student,log_parsing,sql_joins,total,max\n"
        "ann,6,2,8,10\n"
        "bob,2,,2,10\n"
        "cat,4,,4,10\n"
        "dan,2,,2,10\n"
        "eve,0,,0,10\n"
        "(max),6,4,10,10\n"
    )
    out = tmp_path / "grades.csv"
    result = CliRunner().invoke(cli, ["gradebook", "export", "--gradebook", str(gradebook), "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text().splitlines()[1] == "ann,6,2,8,10"


def test_export_per_student_reports(gradebook: Path, course_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["gradebook", "export", "--gradebook", str(gradebook),
                                      "--format", "gradescope", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"5 report(s) written to {out}" in result.output
    ann = json.loads((out / "ann" / "results.json").read_text())
    assert ann["score"] == 8.0 and len(ann["tests"]) == 5
    eve = json.loads((out / "eve" / "results.json").read_text())
    assert "```\nlog_parsing: its worker died\n```" in eve["output"]  # Markdown: the reason in a code block
    assert eve["tests"][-1]["name"] == "log_parsing: could not be graded" and eve["tests"][-1]["score"] == 0
    missing = CliRunner().invoke(cli, ["gradebook", "export", "--gradebook", str(gradebook), "--format", "junit"])
    assert missing.exit_code == 2
    assert "--format junit writes one file per student: give the folder with --output" in missing.output


def test_export_without_a_gradebook(tmp_path: Path, course_root: Path) -> None:
    result = CliRunner().invoke(cli, ["gradebook", "export", "--gradebook", str(tmp_path / "none.db")])
    assert result.exit_code == 2
    assert f"Error: {tmp_path / 'none.db'}: no gradebook here" in result.output
    assert not (tmp_path / "none.db").exists()


def test_report_is_self_contained_and_escapes_what_learners_wrote(gradebook: Path, course_root: Path,
                                                                  tmp_path: Path) -> None:
    page = tmp_path / "class.html"
    result = CliRunner().invoke(cli, ["gradebook", "report", str(page), "--gradebook", str(gradebook)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<script" not in html and "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; printed" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "5 student(s), 6 graded submission(s)" in html
    assert "1 could not be graded (their worker died)" in html
    # hardest first: failures_per_user passed by 2 of 4, parse_log by 2 of 4, parse_line by 3 of 4
    order = [html.index(f">{name}</text>") for name in
             ("failures_per_user ranks", "parse_log numbers malformed lines", "parse_line reads the README&#x27;s example")]
    assert order == sorted(order)
    assert "<span class=\"count\">2&times;</span>" in html  # bob's and dan's shared feedback on parse_log


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB pixels of an 8-bit non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + size]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + size
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = previous[x], previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(b"".join(bytes(line[i:i + 3]) for i in range(0, stride, bpp)))
        previous = line
    return width, height, rows


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (apt-get install -y chromium): the HTML report was not "
                "rendered in a browser")


def test_report_renders_in_headless_chromium(gradebook: Path, course_root: Path, tmp_path: Path) -> None:
    browser = chromium()
    page = tmp_path / "class.html"
    assert CliRunner().invoke(cli, ["gradebook", "report", str(page), "--gradebook", str(gradebook)]).exit_code == 0
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--window-size=1000,900",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert shot.is_file(), done.stderr
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "the page logged to the console:\n" + "\n".join(console)
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1000, 900)
    pixels = [row[i:i + 3] for row in rows for i in range(0, len(row), 3)]
    background = max(set(pixels[:2000]), key=pixels[:2000].count)
    assert sum(p != background for p in pixels) > 0.02 * len(pixels), "the screenshot is blank"
    blue = bytes.fromhex("0969da")  # the histogram's bars
    assert any(p == blue for p in pixels), "the histogram is not on the screen"
