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

Not covered: resource-based policies, permissions boundaries, SCPs, session policies, Principal.
"""
from __future__ import annotations

import datetime
import difflib
import enum
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
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


class PolicyError(ValueError):
    """A document that is not valid JSON or not a valid IAM identity policy."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


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


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action pattern (`s3:Get*`, `*`) matches an action; case-insensitive."""
    return _glob_regex(pattern, True).fullmatch(action) is not None


def _substitute(pattern: str, context: Mapping[str, Any] | None, wildcards: bool) -> str | None:
    """`pattern` as a regex source with policy variables resolved; None if one cannot be resolved."""
    out: list[str] = []
    pos = 0
    lookup = _casefold_context(context or {})
    for m in _VARIABLE.finditer(pattern):
        out.append(_literal_regex(pattern[pos:m.start()], wildcards))
        inner = m.group(1).strip()
        if inner in ("*", "?", "$"):
            out.append(re.escape(inner))
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
            out.append(re.escape(_as_text(value)))
        pos = m.end()
    out.append(_literal_regex(pattern[pos:], wildcards))
    return "".join(out)


def _literal_regex(text: str, wildcards: bool) -> str:
    if not wildcards:
        return re.escape(text)
    return _glob_regex(text, False).pattern


def value_matches(pattern: str, value: str, context: Mapping[str, Any] | None = None,
                  *, wildcards: bool = True, ignore_case: bool = False) -> bool:
    """Whether a policy value (with variables, and wildcards if asked) matches a request value."""
    if "${" not in pattern:
        if not wildcards:
            return value.casefold() == pattern.casefold() if ignore_case else value == pattern
        return _glob_regex(pattern, ignore_case).fullmatch(value) is not None
    source = _substitute(pattern, context, wildcards)
    if source is None:
        return False
    return re.fullmatch(source, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


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


def load_json(text: str) -> Any:
    """Parse JSON text; a syntax error becomes a PolicyError naming the line and column."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        before = exc.doc[: exc.pos].rstrip()
        if before.endswith(",") and exc.doc[exc.pos: exc.pos + 1] in ("}", "]"):
            message += ": a comma before } or ] has nothing after it"
        raise PolicyError([message]) from None


def parse_policy(text: str) -> Policy:
    """Parse and check the text of an identity policy; raises PolicyError listing every problem."""
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
    statements = [_parse_statement(s, i, problems) for i, s in enumerate(raw_statements, start=1)]
    sids = [s.sid for s in statements if s and s.sid]
    for sid in sorted({s for s in sids if sids.count(s) > 1}):
        problems.append(f'the Sid "{sid}" is used by more than one statement')
    if problems:
        raise PolicyError(problems)
    return Policy(statements=tuple(s for s in statements if s), version=str(version),
                  id=document.get("Id"))
