"""JSON mutants of a reference IAM policy: the over-broad and the broken grants people write.

Operators: an Action widened to "*" or to its service ("s3:*"), a Resource widened to "*" or by one
level (the last path segment or name turned into a wildcard), a Condition or one of its keys dropped,
an Allow turned into a Deny, a statement dropped. A mutant is the document written back as JSON with
two-space indents, and so is the solution it is compared with (`normalize`).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Callable, Iterator

from grader.mutants.base import Change

Document = dict[str, Any]


def normalize(text: str) -> str:
    """The policy as the mutants are written: JSON with two-space indents."""
    return json.dumps(json.loads(text), indent=2) + "\n"


def check(text: str) -> str | None:
    """Why a mutant's text is not JSON, or None."""
    try:
        json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    return None


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _statements(document: Document) -> list[Any]:
    statements = document.get("Statement")
    return statements if isinstance(statements, list) else [statements] if isinstance(statements, dict) else []


def _label(statement: dict[str, Any], at: int) -> str:
    return f"statement {statement.get('Sid') or at + 1}"


def widened_arn(arn: str) -> str | None:
    """The ARN one level broader: its last path segment (or its name) turned into a wildcard."""
    if arn == "*":
        return None
    head, slash, tail = arn.rpartition("/")
    if slash:
        return f"{head}/*" if tail != "*" else (f"{head.rpartition('/')[0]}/*" if "/" in head else f"{head}*")
    return None if arn.endswith("*") else f"{arn}*"


def wider_arns(arn: str) -> list[str]:
    """Broader ARNs: one level up (`widened_arn`), and any Region and account."""
    out = [w for w in (widened_arn(arn),) if w]
    parts = arn.split(":", 5)
    if len(parts) == 6 and (parts[3] or parts[4]) and (parts[3], parts[4]) != ("*", "*"):
        out.append(":".join([*parts[:3], "*" if parts[3] else "", "*" if parts[4] else "", parts[5]]))
    return out


def _edits(statement: dict[str, Any]) -> Iterator[tuple[str, str, Callable[[dict[str, Any]], None]]]:
    """(operator, description, change) for one statement."""
    for field in ("Action", "Resource"):
        if field not in statement:
            continue
        values = _listed(statement[field])
        if values != ["*"]:
            yield (field.lower(), f"{field} -> \"*\"", lambda s, field=field: s.__setitem__(field, "*"))
        for at, value in enumerate(values):
            if not isinstance(value, str):
                continue
            if field == "Action":
                wider = [value.split(":", 1)[0] + ":*"] if ":" in value and not value.endswith(":*") else []
            else:
                wider = wider_arns(value)
            for new in wider:
                if new in values:
                    continue

                def widen(s: dict[str, Any], field: str = field, at: int = at, new: str = new) -> None:
                    listed = _listed(s[field])
                    listed[at] = new
                    s[field] = listed if isinstance(s[field], list) else new
                yield (field.lower(), f"{field} {value} -> {new}", widen)
    condition = statement.get("Condition")
    if isinstance(condition, dict):
        yield ("condition", "Condition dropped", lambda s: s.pop("Condition"))
        for operator, keys in condition.items():
            for key in keys if isinstance(keys, dict) and len(condition) + len(keys) > 2 else ():
                def drop(s: dict[str, Any], operator: str = operator, key: str = key) -> None:
                    del s["Condition"][operator][key]
                    if not s["Condition"][operator]:
                        del s["Condition"][operator]
                yield ("condition", f"Condition {operator} {key} dropped", drop)
    if statement.get("Effect") == "Allow":
        yield ("effect", "Allow -> Deny", lambda s: s.__setitem__("Effect", "Deny"))


def mutants(text: str) -> Iterator[Change]:
    """Every mutant of a policy document: one change each."""
    document = json.loads(text)
    if not isinstance(document, dict):
        return
    seen = {normalize(text)}
    statements = _statements(document)
    for at, statement in enumerate(statements):
        if not isinstance(statement, dict):
            continue
        label = _label(statement, at)
        changes = list(_edits(statement))
        if len(statements) > 1:
            changes.append(("statement", "statement dropped", lambda s: None))
        for operator, description, change in changes:
            mutated = copy.deepcopy(document)
            listed = _statements(mutated)
            if operator == "statement":
                listed.pop(at)
                mutated["Statement"] = listed
            else:
                change(listed[at])
            rendered = json.dumps(mutated, indent=2) + "\n"
            if rendered in seen:
                continue
            seen.add(rendered)
            yield Change(operator, f"{label}: {description}", rendered)
