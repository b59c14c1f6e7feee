"""An evaluator of AWS IAM identity policies, written by hand.

No maintained Python library evaluates identity policies against AWS's documented evaluation
logic (policy_sentry writes policies, parliament lints them; neither decides a request), so this
module does it, following the IAM User Guide: "Policy evaluation logic", "IAM JSON policy
elements" (Version, Statement, Sid, Effect, Action, NotAction, Resource, NotResource, Condition),
"Condition operators" and "Policy variables".

Covered, for identity-based policies of one account:
- implicit deny; an explicit Deny in any statement overrides every Allow;
- Action / NotAction and Resource / NotResource with the wildcards `*` and `?`; actions match
  case-insensitively, resource ARNs case-sensitively;
- policy variables `${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}` in Resource and in
  String/Arn condition values (an unresolved variable matches nothing);
- condition operators String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress / NotIpAddress,
  Arn*, Null, each with ...IfExists, and the set qualifiers ForAnyValue: / ForAllValues:, with
  request context keys supplied by the caller (key names case-insensitive);
- a structural check of the document (JSON position of syntax errors, known keys, Effect,
  Version 2012-10-17, action and ARN shapes, known condition operators).

A policy is a learner's text parsed in the grader's own process, so it is bounded before it is
parsed: AWS's own size limits (a managed policy holds 6,144 characters without whitespace, refused
with AWS's message; a policy document 131,072 characters), a JSON nesting depth, UTF-8; wildcards
match in time linear in the value; and every check can run under a `deadline`, after which it
stops with PolicyTimeout (a failed check, like a failed assert).

Not covered: resource-based policies, permissions boundaries, SCPs, session policies, Principal.
"""
from __future__ import annotations

import contextlib
import datetime
import difflib
import enum
import ipaddress
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

POLICY_VERSION = "2012-10-17"
TOP_LEVEL_KEYS = ("Version", "Id", "Statement")
STATEMENT_KEYS = (
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition",
)
SET_QUALIFIERS = ("ForAnyValue", "ForAllValues")

_ACTION_SHAPE = re.compile(r"^[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+$")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")

# AWS's limits (IAM and AWS STS quotas): a managed policy's characters, whitespace not counted, and
# the PolicyDocument parameter of CreatePolicy, whitespace counted (also the most bytes read from a file).
MAX_POLICY_CHARS = 6_144
MAX_DOCUMENT_CHARS = 131_072
# A policy nests 6 levels (document, Statement, statement, Condition, operator, key's values).
MAX_JSON_DEPTH = 16
_JSON_WHITESPACE = " \t\n\r"
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class PolicyError(ValueError):
    """A document that is not valid JSON or not a valid IAM identity policy."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class PolicyTimeout(AssertionError):
    """A policy check went past its deadline; it fails the check as a failed assert does (like SubmissionError)."""


_DEADLINE = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Policy checks run in this block, in this thread, stop with PolicyTimeout after `seconds` of CPU time.

    CPU time of the checking thread, not wall-clock time: the same policy stops at the same point on
    an idle machine and on a busy one, and a check is never cut short because other work shares the cores.
    """
    previous = getattr(_DEADLINE, "value", None)
    at = time.thread_time() + seconds
    _DEADLINE.value = min((at, seconds), previous) if previous else (at, seconds)
    try:
        yield
    finally:
        _DEADLINE.value = previous


def check_deadline() -> None:
    """Raise PolicyTimeout when the current deadline has passed; do nothing outside a `deadline` block."""
    current = getattr(_DEADLINE, "value", None)
    if current is not None and time.thread_time() > current[0]:
        raise PolicyTimeout(
            f"Checking the policy took longer than {current[1]:g} s and was stopped. The policy this job needs "
            "is checked in well under a second: write fewer statements, and name actions and resources "
            "instead of piling up wildcards."
        )


class _Interrupted(BaseException):
    """Raised into library code at the deadline; a BaseException, so that `except Exception` there lets it by."""


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Let the current deadline stop pure-Python library code we cannot change, at its next function call.

    A trace function (this thread only, calls only) checks the deadline; the libraries' own
    `except Exception` cannot swallow the interruption, which becomes PolicyTimeout here.
    """
    if getattr(_DEADLINE, "value", None) is None:
        yield
        return

    def trace(frame: Any, event: str, arg: Any) -> None:
        try:
            check_deadline()
        except PolicyTimeout as exc:
            raise _Interrupted(str(exc)) from None
        return None

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield
    except _Interrupted as exc:
        raise PolicyTimeout(str(exc)) from None
    finally:
        sys.settrace(previous)


class Decision(str, enum.Enum):
    """The outcome of evaluating one request."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Request:
    """One API request: an action on a resource ARN with its request context."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    """One (operator, key, values) triple of a Condition block."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One statement of a policy, as written (lists normalised, values as strings)."""

    index: int  # 1-based position in the Statement list
    effect: str
    sid: str | None = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        """How feedback names the statement: `statement 2 (Sid "ReadRaw")`."""
        return f'statement {self.index} (Sid "{self.sid}")' if self.sid else f"statement {self.index}"

    def action_match(self, action: str) -> str | None:
        """The Action pattern that matches `action`, "NotAction" when NotAction lets it through, or None."""
        if self.actions is not None:
            return next((p for p in self.actions if action_matches(p, action)), None)
        assert self.not_actions is not None
        return None if any(action_matches(p, action) for p in self.not_actions) else "NotAction"

    def resource_match(self, resource: str, context: Mapping[str, Any]) -> str | None:
        """The Resource pattern that matches `resource`, "NotResource" when NotResource lets it through, or None."""
        if self.resources is not None:
            return next((p for p in self.resources if resource_matches(p, resource, context)), None)
        assert self.not_resources is not None
        if any(resource_matches(p, resource, context) for p in self.not_resources):
            return None
        return "NotResource"

    def conditions_hold(self, context: Mapping[str, Any]) -> bool:
        """Whether every condition holds (operators, keys: AND; values of one key: OR)."""
        if not self.conditions:
            return True
        lookup = _casefold_context(context)
        return all(condition_holds(c, lookup) for c in self.conditions)

    def failing_conditions(self, context: Mapping[str, Any]) -> list[Condition]:
        """The conditions that do not hold for `context`."""
        lookup = _casefold_context(context)
        return [c for c in self.conditions if not condition_holds(c, lookup)]


@dataclass(frozen=True)
class Policy:
    """A parsed identity policy."""

    statements: tuple[Statement, ...]
    version: str = POLICY_VERSION
    id: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """The decision for one request, and the statement and patterns that decided it."""

    decision: Decision
    statement: Statement | None = None
    action_pattern: str | None = None
    resource_pattern: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the request is allowed."""
        return self.decision is Decision.ALLOW


# --------------------------------------------------------------------------- wildcards


class _Wildcard:
    """A wildcard token of a pattern: STAR (`*`, any run of characters) or ONE (`?`, any one character)."""

    def __init__(self, char: str) -> None:
        self.char = char

    def __repr__(self) -> str:
        return self.char


STAR, ONE = _Wildcard("*"), _Wildcard("?")


def _wild_tokens(text: str, wildcards: bool) -> list[Any]:
    """`text` as tokens: literal strings, STAR for `*` and ONE for `?` (one literal when wildcards are off)."""
    if not wildcards:
        return [text] if text else []
    marks = {"*": STAR, "?": ONE}
    return [marks.get(piece, piece) for piece in re.split(r"([*?])", text) if piece]


def _glob_source(tokens: Sequence[Any]) -> str:
    """A regex that matches what the wildcard tokens match, in time linear in the value's length.

    Between the first and the last `*`, each run of literals and `?` is matched at its leftmost
    occurrence inside an atomic lookahead (the backreference consumes it), so the engine never
    tries other splits of the value among the `*`s: a pattern like `*a*a*a*b` cannot backtrack
    through every way of cutting the value.
    """
    segments: list[list[Any]] = [[]]
    for token in tokens:
        if token is STAR:
            segments.append([])
        else:
            segments[-1].append(token)

    def run(segment: list[Any]) -> str:
        return "".join("." if t is ONE else re.escape(t) for t in segment)

    if len(segments) == 1:
        return run(segments[0])
    parts = [run(segments[0])]
    for number, segment in enumerate(segments[1:-1], 1):
        if segment:
            parts.append(f"(?=(?P<s{number}>.*?{run(segment)}))(?P=s{number})")
    parts.append(".*" + run(segments[-1]))
    return "".join(parts)


def _flags(ignore_case: bool) -> int:
    return re.DOTALL | (re.IGNORECASE if ignore_case else 0)


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(_glob_source(_wild_tokens(pattern, True)), _flags(ignore_case))


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action pattern (`s3:Get*`, `*`) matches an action; case-insensitive."""
    return _glob_regex(pattern, True).fullmatch(action) is not None


def _substitute(pattern: str, context: Mapping[str, Any] | None, wildcards: bool) -> list[Any] | None:
    """`pattern` as wildcard tokens with policy variables resolved to literal text; None if one cannot be resolved."""
    out: list[Any] = []
    pos = 0
    lookup = _casefold_context(context or {})
    for m in _VARIABLE.finditer(pattern):
        out.extend(_wild_tokens(pattern[pos:m.start()], wildcards))
        inner = m.group(1).strip()
        if inner in ("*", "?", "$"):
            out.append(inner)
        else:
            key, _, default = inner.partition(",")
            value = lookup.get(key.strip().casefold())
            if isinstance(value, (list, tuple)):
                value = None  # multivalued keys cannot be policy variables
            if value is None:
                default = default.strip()
                if len(default) >= 2 and default[0] == default[-1] == "'":
                    value = default[1:-1].replace("''", "'")
                else:
                    return None
            out.append(_as_text(value))
        pos = m.end()
    out.extend(_wild_tokens(pattern[pos:], wildcards))
    return out


def value_matches(pattern: str, value: str, context: Mapping[str, Any] | None = None,
                  *, wildcards: bool = True, ignore_case: bool = False) -> bool:
    """Whether a policy value (with variables, and wildcards if asked) matches a request value.

    Matching takes time linear in the value for a given pattern, whatever its wildcards.
    """
    if "${" not in pattern:
        if not wildcards:
            return value.casefold() == pattern.casefold() if ignore_case else value == pattern
        return _glob_regex(pattern, ignore_case).fullmatch(value) is not None
    tokens = _substitute(pattern, context, wildcards)
    if tokens is None:
        return False
    return re.fullmatch(_glob_source(tokens), value, _flags(ignore_case)) is not None


def resource_matches(pattern: str, resource: str, context: Mapping[str, Any] | None = None) -> bool:
    """Whether a Resource pattern matches a resource ARN; case-sensitive, `*` crosses `:` and `/`."""
    return value_matches(pattern, resource, context)


# --------------------------------------------------------------------------- conditions


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _casefold_context(context: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).casefold(): v for k, v in context.items()}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime.datetime | None:
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.datetime.fromtimestamp(float(text), tz=datetime.timezone.utc)
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _compare(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(request_value: str, policy_value: str, context: Mapping[str, Any]) -> bool:
        left, right = parse(request_value), parse(policy_value)
        return left is not None and right is not None and test(left, right)
    return compare


def _ip_in(request_value: str, policy_value: str, context: Mapping[str, Any]) -> bool:
    try:
        return ipaddress.ip_address(request_value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _arn_like(request_value: str, policy_value: str, context: Mapping[str, Any]) -> bool:
    left, right = request_value.split(":", 5), policy_value.split(":", 5)
    if len(left) != 6 or len(right) != 6:
        return False
    return all(value_matches(p, r, context) for p, r in zip(right, left))


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


# Positive comparators: (request value, policy value, context) -> match.
COMPARATORS: dict[str, Callable[[str, str, Mapping[str, Any]], bool]] = {
    "StringEquals": lambda r, p, c: value_matches(p, r, c, wildcards=False),
    "StringEqualsIgnoreCase": lambda r, p, c: value_matches(p, r, c, wildcards=False, ignore_case=True),
    "StringLike": lambda r, p, c: value_matches(p, r, c),
    "NumericEquals": _compare(_number, _eq),
    "NumericLessThan": _compare(_number, lambda a, b: a < b),
    "NumericLessThanEquals": _compare(_number, lambda a, b: a <= b),
    "NumericGreaterThan": _compare(_number, lambda a, b: a > b),
    "NumericGreaterThanEquals": _compare(_number, lambda a, b: a >= b),
    "DateEquals": _compare(_date, _eq),
    "DateLessThan": _compare(_date, lambda a, b: a < b),
    "DateLessThanEquals": _compare(_date, lambda a, b: a <= b),
    "DateGreaterThan": _compare(_date, lambda a, b: a > b),
    "DateGreaterThanEquals": _compare(_date, lambda a, b: a >= b),
    "Bool": lambda r, p, c: r.casefold() == p.casefold(),
    "BinaryEquals": lambda r, p, c: r == p,
    "IpAddress": _ip_in,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}

# Negated operators and the positive operator they negate.
NEGATIONS: dict[str, str] = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}

BASE_OPERATORS = (*COMPARATORS, *NEGATIONS, "Null")

# How a policy value of each family must look, for the structural check.
_VALUE_CHECKS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "Numeric": ("a number", lambda v: _number(v) is not None),
    "Date": ("a date (ISO 8601 or epoch seconds)", lambda v: _date(v) is not None),
    "Bool": ("true or false", lambda v: v.casefold() in ("true", "false")),
    "Null": ("true or false", lambda v: v.casefold() in ("true", "false")),
}


@dataclass(frozen=True)
class _Operator:
    qualifier: str | None
    base: str
    if_exists: bool


def parse_operator(operator: str) -> _Operator | None:
    """Split `ForAnyValue:StringLikeIfExists` into its parts; None when the operator is unknown."""
    qualifier, _, rest = operator.rpartition(":")
    if qualifier and qualifier not in SET_QUALIFIERS:
        return None
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    if base not in BASE_OPERATORS or (base == "Null" and if_exists):
        return None
    return _Operator(qualifier or None, base, if_exists)


def condition_holds(condition: Condition, lookup: Mapping[str, Any]) -> bool:
    """Whether one condition holds, `lookup` being the request context keyed by casefolded name."""
    op = parse_operator(condition.operator)
    if op is None:
        return False
    raw = lookup.get(condition.key.casefold())
    present = raw is not None and raw != [] and raw != ()
    if op.base == "Null":
        return any((v.casefold() == "true") == (not present) for v in condition.values)
    if not present:
        if op.if_exists or op.qualifier == "ForAllValues":
            return True
        if op.qualifier == "ForAnyValue":
            return False
        return op.base in NEGATIONS
    request_values = [_as_text(v) for v in raw] if isinstance(raw, (list, tuple)) else [_as_text(raw)]
    negated = op.base in NEGATIONS
    compare = COMPARATORS[NEGATIONS.get(op.base, op.base)]

    def one(request_value: str) -> bool:
        hit = any(compare(request_value, pv, lookup) for pv in condition.values)
        return not hit if negated else hit

    if op.qualifier == "ForAllValues":
        return all(one(v) for v in request_values)
    if op.qualifier == "ForAnyValue":
        return any(one(v) for v in request_values)
    return all(one(v) for v in request_values) if negated else any(one(v) for v in request_values)


# --------------------------------------------------------------------------- evaluation


def evaluate(policy: Policy | Sequence[Policy], request: Request) -> Evaluation:
    """Decide one request: an explicit Deny wins, else an Allow, else the implicit deny."""
    check_deadline()
    policies = [policy] if isinstance(policy, Policy) else list(policy)
    first_allow: Evaluation | None = None
    for pol in policies:
        for statement in pol.statements:
            action_pattern = statement.action_match(request.action)
            if action_pattern is None:
                continue
            resource_pattern = statement.resource_match(request.resource, request.context)
            if resource_pattern is None or not statement.conditions_hold(request.context):
                continue
            if statement.effect == "Deny":
                return Evaluation(Decision.EXPLICIT_DENY, statement, action_pattern, resource_pattern)
            if first_allow is None:
                first_allow = Evaluation(Decision.ALLOW, statement, action_pattern, resource_pattern)
    return first_allow or Evaluation(Decision.IMPLICIT_DENY)


def is_allowed(policy: Policy | Sequence[Policy], action: str, resource: str,
               context: Mapping[str, Any] | None = None) -> bool:
    """Shorthand: whether `policy` allows `action` on `resource`."""
    return evaluate(policy, Request(action, resource, context or {})).allowed


# --------------------------------------------------------------------------- parsing


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise PolicyError([f'the key "{key}" appears twice in the same object'])
        seen[key] = value
    return seen


def json_depth(text: str) -> tuple[int, int]:
    """How deep JSON text nests objects and arrays, and the line where it first gets that deep; linear time."""
    depth = deepest = where = 0
    outside = _JSON_STRING.sub('""', text)
    for match in _JSON_BRACKET.finditer(outside):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest, where = depth, match.start()
    return deepest, outside.count("\n", 0, where) + 1


def load_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text nested at most `max_depth` deep; a syntax error becomes a PolicyError naming the line and column."""
    depth, line = json_depth(text)
    if depth > max_depth:
        raise PolicyError([f"the JSON nests objects and lists {depth} levels deep (line {line}); a policy needs 6 "
                           f"(document, Statement, statement, Condition, operator, values) and the grader reads at "
                           f"most {max_depth}"])
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        before = exc.doc[: exc.pos].rstrip()
        if before.endswith(",") and exc.doc[exc.pos: exc.pos + 1] in ("}", "]"):
            message += ": a comma before } or ] has nothing after it"
        raise PolicyError([message]) from None
    except RecursionError:  # deeper than the interpreter allows despite the limit (a tiny thread stack)
        raise PolicyError(["the JSON nests objects and lists too deeply to be read"]) from None


def policy_size(text: str) -> int:
    """A policy's size as AWS counts it against its quota: characters, whitespace not counted."""
    return len(text) - sum(text.count(c) for c in _JSON_WHITESPACE)


def check_size(text: str) -> None:
    """Refuse a policy over AWS's size limits, with AWS's own message; raises PolicyError."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise PolicyError([f"the policy is {len(text):,} characters long; AWS accepts a policy document of at most "
                           f"{MAX_DOCUMENT_CHARS:,} (and a managed policy of {MAX_POLICY_CHARS:,} without whitespace)"])
    size = policy_size(text)
    if size > MAX_POLICY_CHARS:
        raise PolicyError([f"Cannot exceed quota for PolicySize: {MAX_POLICY_CHARS} (AWS's message: a managed policy "
                           f"holds at most {MAX_POLICY_CHARS:,} characters, whitespace not counted; this one has "
                           f"{size:,}). The policy this job needs is a few hundred characters."])


def read_policy(path: Path) -> str:
    """A learner's policy file as text: at most MAX_DOCUMENT_CHARS bytes of UTF-8; raises PolicyError."""
    from grader.learner_files import LearnerFileError, read_learner_text

    try:
        return read_learner_text(path, max_bytes=MAX_DOCUMENT_CHARS)
    except LearnerFileError as exc:
        raise PolicyError([str(exc)]) from None


def parse_policy(text: str) -> Policy:
    """Parse and check the text of an identity policy; raises PolicyError listing every problem.

    The text is refused before it is parsed when it is over AWS's size limits or nested too deeply.
    """
    check_size(text)
    return policy_from_document(load_json(text))


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _string_list(value: Any, where: str, problems: list[str]) -> tuple[str, ...] | None:
    items = value if isinstance(value, list) else [value]
    if not items:
        problems.append(f"{where} is an empty list")
        return None
    if not all(isinstance(v, str) for v in items):
        problems.append(f"{where} must be a string or a list of strings")
        return None
    return tuple(items)


def _check_actions(values: tuple[str, ...], where: str, problems: list[str]) -> None:
    for value in values:
        if value != "*" and not _ACTION_SHAPE.match(value):
            problems.append(f'{where}: "{value}" is not an action; write service:Action, e.g. "s3:GetObject"')


def _check_resources(values: tuple[str, ...], where: str, problems: list[str]) -> None:
    for value in values:
        if value == "*":
            continue
        parts = value.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn" or not parts[2]:
            problems.append(
                f'{where}: "{value}" is not an ARN; an ARN has six parts, '
                "arn:partition:service:region:account:resource (e.g. arn:aws:s3:::my-bucket)"
            )


def _parse_conditions(block: Any, where: str, problems: list[str]) -> tuple[Condition, ...]:
    if not isinstance(block, dict):
        problems.append(f"{where}: Condition must be an object of operator -> {{key: values}}")
        return ()
    conditions: list[Condition] = []
    for operator, keys in block.items():
        op = parse_operator(operator)
        if op is None:
            problems.append(f'{where}: unknown condition operator "{operator}"'
                            + _suggest(operator.rpartition(":")[2], BASE_OPERATORS))
            continue
        if not isinstance(keys, dict) or not keys:
            problems.append(f'{where}: "{operator}" must map condition keys to values')
            continue
        for key, raw in keys.items():
            items = raw if isinstance(raw, list) else [raw]
            if not items or not all(isinstance(v, (str, bool, int, float)) for v in items):
                problems.append(f'{where}: {operator} "{key}" needs a value or a list of values')
                continue
            values = tuple(_as_text(v) for v in items)
            family = next((f for f in _VALUE_CHECKS if op.base.startswith(f)), None)
            if family:
                kind, ok = _VALUE_CHECKS[family]
                bad = [v for v in values if not ok(v)]
                if bad:
                    problems.append(f'{where}: {operator} "{key}" expects {kind}, not "{bad[0]}"')
                    continue
            conditions.append(Condition(operator, key, values))
    return tuple(conditions)


def _parse_statement(raw: Any, index: int, problems: list[str]) -> Statement | None:
    where = f"statement {index}"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be an object")
        return None
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            problems.append(f"{where}: Sid must be a string")
            sid = None
        else:
            where = f'statement {index} (Sid "{sid}")'
            if not re.fullmatch(r"[A-Za-z0-9]*", sid):
                problems.append(f"{where}: a Sid may hold only letters A-Z, a-z and digits 0-9")
    before = len(problems)
    for key in raw:
        if key not in STATEMENT_KEYS:
            problems.append(f'{where}: unknown key "{key}"' + _suggest(key, STATEMENT_KEYS))
    if "Principal" in raw or "NotPrincipal" in raw:
        problems.append(f"{where}: an identity policy has no Principal; the principal is whoever the policy is attached to")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        problems.append(f'{where}: "Effect" must be "Allow" or "Deny", not {json.dumps(effect)}'
                        if effect is not None else f'{where}: "Effect" is missing ("Allow" or "Deny")')
    lists: dict[str, tuple[str, ...] | None] = {}
    for one, other in (("Action", "NotAction"), ("Resource", "NotResource")):
        if one in raw and other in raw:
            problems.append(f'{where}: use either "{one}" or "{other}", not both')
        elif one not in raw and other not in raw:
            problems.append(f'{where}: "{one}" is missing')
        for key in (one, other):
            if key in raw:
                lists[key] = _string_list(raw[key], f"{where}: {key}", problems)
    for key in ("Action", "NotAction"):
        if lists.get(key):
            _check_actions(lists[key] or (), where, problems)
    for key in ("Resource", "NotResource"):
        if lists.get(key):
            _check_resources(lists[key] or (), where, problems)
    conditions = _parse_conditions(raw["Condition"], where, problems) if "Condition" in raw else ()
    if len(problems) > before:
        return None
    return Statement(
        index=index, effect=str(effect), sid=sid,
        actions=lists.get("Action"), not_actions=lists.get("NotAction"),
        resources=lists.get("Resource"), not_resources=lists.get("NotResource"),
        conditions=conditions,
    )


def policy_from_document(document: Any) -> Policy:
    """Check a decoded policy document and build a Policy; raises PolicyError listing every problem."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise PolicyError(["a policy is a JSON object with \"Version\" and \"Statement\""])
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f'unknown top-level key "{key}"' + _suggest(key, TOP_LEVEL_KEYS))
    version = document.get("Version")
    if version != POLICY_VERSION:
        problems.append(
            f'"Version" must be "{POLICY_VERSION}", not {json.dumps(version)}' if version is not None
            else f'"Version" is missing: write "Version": "{POLICY_VERSION}" (without it, policy variables do not work)'
        )
    raw_statements = document.get("Statement")
    if raw_statements is None:
        problems.append('"Statement" is missing')
        raw_statements = []
    elif isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    elif not isinstance(raw_statements, list):
        problems.append('"Statement" must be a list of statements')
        raw_statements = []
    statements = []
    for index, raw in enumerate(raw_statements, start=1):
        check_deadline()
        statements.append(_parse_statement(raw, index, problems))
    sids = [s.sid for s in statements if s and s.sid]
    for sid in sorted({s for s in sids if sids.count(s) > 1}):
        problems.append(f'the Sid "{sid}" is used by more than one statement')
    if problems:
        raise PolicyError(problems)
    return Policy(statements=tuple(s for s in statements if s), version=str(version),
                  id=document.get("Id"))
