"""`grade new SLUG`: a new exercise from the template, ready for `grade validate` (solution full, stub zero)."""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from string import Template

from grader import catalog
from grader.errors import UsageError

SLUG = re.compile(r"[a-z][a-z0-9_]*\Z")
#: template file -> where it goes, relative to the course root
FILES = {
    "exercise.toml.tmpl": "exercises/{slug}/exercise.toml",
    "README.md.tmpl": "exercises/{slug}/README.md",
    "stub.py.tmpl": "exercises/{slug}/{slug}.py",
    "solution.py.tmpl": "solutions/{slug}/{slug}.py",
    "test.py.tmpl": "tests/hidden/{slug}/test_{slug}.py",
}


def new_exercise(root: Path, slug: str, *, title: str | None = None) -> list[Path]:
    """Write the five files of exercise `slug` into the course at `root`; the paths written."""
    if not SLUG.match(slug):
        raise UsageError(f"{slug!r} cannot be an exercise's name: use lower-case letters, digits and _, "
                         "starting with a letter (it is also the name of its Python module)")
    targets = {name: root / path.format(slug=slug) for name, path in FILES.items()}
    taken = [t for t in (root / "exercises" / slug, root / "solutions" / slug, root / "tests" / "hidden" / slug)
             if t.exists()]
    if taken:
        raise UsageError(f"exercise {slug!r} exists already: {', '.join(str(t.relative_to(root)) for t in taken)}")
    existing = catalog.load_all(root) if catalog.is_course_root(root) else []
    values = {
        "slug": slug,
        "module": slug,
        "title": title or slug.replace("_", " ").capitalize(),
        "title_toml": json.dumps(title or slug.replace("_", " ").capitalize(), ensure_ascii=False),
        "order": max((e.order for e in existing if e.order < 1000), default=0) + 10,
    }
    templates = resources.files("grader.publish") / "templates" / "exercise"
    for name, target in targets.items():
        text = Template(templates.joinpath(name).read_text(encoding="utf-8")).substitute(values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return list(targets.values())
