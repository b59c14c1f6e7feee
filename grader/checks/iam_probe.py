"""Least-privilege checks of an identity policy: does it do the job, and nothing more?

`denials` says why a request the job needs is not allowed; `probe` expands every action the
policy can grant (AWS's catalogue) and tries each on the exercise's resources and decoys,
reporting each request allowed beyond the need; `broad_patterns` names the shortcuts
("Action": "*", "Resource": "*", Allow with NotAction / NotResource).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.checks import iam_catalogue as catalogue
from grader.checks.iam import (
    Decision,
    Evaluation,
    Policy,
    Request,
    Statement,
    action_matches,
    evaluate,
    resource_matches,
)


@dataclass(frozen=True)
class Grant:
    """Part of the need: these actions on these resource patterns."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def permits(self, action: str, resource: str) -> bool:
        """Whether this grant covers `action` on `resource`."""
        return any(action_matches(a, action) for a in self.actions) and any(
            resource_matches(r, resource) for r in self.resources
        )


@dataclass(frozen=True)
class Target:
    """A concrete resource the probe tries actions on; `note` says what it is, for feedback."""

    arn: str
    service: str
    resource_type: str
    note: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)  # extra request context for this resource


@dataclass(frozen=True)
class Requirement:
    """A need of the job, in words, and the requests that prove the policy meets it."""

    description: str
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class OverGrant:
    """A request the policy allows and the need does not contain."""

    action: str
    target: Target
    evaluation: Evaluation

    @property
    def statement(self) -> Statement:
        """The Allow statement that grants the request."""
        assert self.evaluation.statement is not None
        return self.evaluation.statement


def needed(envelope: Sequence[Grant], action: str, resource: str) -> bool:
    """Whether the need contains `action` on `resource`."""
    return any(g.permits(action, resource) for g in envelope)


# --------------------------------------------------------------------------- required requests


def explain_denial(policy: Policy, request: Request) -> str:
    """Why `policy` does not allow `request`, naming the statements involved."""
    evaluation = evaluate(policy, request)
    if evaluation.decision is Decision.EXPLICIT_DENY:
        assert evaluation.statement is not None
        return f"{evaluation.statement.label} denies it, and an explicit Deny overrides every Allow"
    covering = [s for s in policy.statements if s.effect == "Allow" and s.action_match(request.action)]
    if not covering:
        return f"no Allow statement has the action {request.action}"
    reasons = []
    for statement in covering:
        if statement.resource_match(request.resource, request.context) is None:
            if statement.resources is None:
                reasons.append(f"{statement.label} excludes {request.resource} with NotResource")
                continue
            why = catalogue.explain_resource_mismatch(request.action, statement.resources)
            listed = ", ".join(statement.resources)
            if not why and any(resource_matches(p.lower(), request.resource.lower()) for p in statement.resources):
                why = "ARNs are case-sensitive"
            reasons.append(f"{statement.label} has {request.action} only on {listed}, which does not match "
                           f"{request.resource}" + (f": {why}" if why else ""))
            continue
        failing = statement.failing_conditions(request.context)
        lookup = {k.casefold(): v for k, v in request.context.items()}
        described = "; ".join(
            f'{c.operator} {{"{c.key}": {list(c.values)}}} while the request has '
            + (f"{c.key} = {lookup[c.key.casefold()]!r}" if c.key.casefold() in lookup else f"no {c.key}")
            for c in failing
        )
        reasons.append(f"{statement.label} covers it, but its Condition does not hold: {described}")
    return "; ".join(reasons)


def denials(policy: Policy, requirement: Requirement) -> list[str]:
    """One line per action of `requirement` that `policy` denies somewhere: the resources and the reason."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for request in requirement.requests:
        if not evaluate(policy, request).allowed:
            # The same reason for several resources is told once: the resource becomes a placeholder.
            reason = explain_denial(policy, request).replace(request.resource, "\0")
            resources = grouped.setdefault((request.action, reason), [])
            if request.resource not in resources:
                resources.append(request.resource)
    lines = []
    for (action, reason), resources in grouped.items():
        them = resources[0] if len(resources) == 1 else "any of them"
        lines.append(f"{action} on {', '.join(resources)} is denied: {reason.replace(chr(0), them)}")
    return lines


# --------------------------------------------------------------------------- probing


def granted_actions(policy: Policy) -> tuple[str, ...]:
    """Every catalogue action some Allow statement's Action or NotAction lets through."""
    found: set[str] = set()
    for statement in policy.statements:
        if statement.effect != "Allow":
            continue
        if statement.actions is not None:
            for pattern in statement.actions:
                found.update(catalogue.expand_action(pattern))
        else:
            excluded = {a for p in statement.not_actions or () for a in catalogue.expand_action(p)}
            found.update(a for a in catalogue.all_actions() if a not in excluded)
    return tuple(sorted(found))


def probe_targets(action: str, targets: Sequence[Target], account: str, region: str) -> list[Target]:
    """The resources to try `action` on: the targets of its resource types, else one made from AWS's ARN template."""
    info = catalogue.action_info(action)
    if info is None:
        return []
    if not info.resource_types:
        return [Target("*", action.split(":", 1)[0], "*", "every resource (the action takes no ARN)")]
    service = info.name.split(":", 1)[0].lower()
    chosen: list[Target] = []
    for rtype in info.resource_types:
        of_type = [t for t in targets if t.service == service and t.resource_type == rtype.name]
        if of_type:
            chosen.extend(of_type)
        else:
            arn = catalogue.fill_template(rtype.arn, {"Partition": "aws", "Region": region, "Account": account})
            chosen.append(Target(arn, service, rtype.name, f"a {rtype.name} of {service}"))
    return chosen


def probe(policy: Policy, envelope: Sequence[Grant], targets: Sequence[Target],
          context: Mapping[str, Any], account: str, region: str) -> list[OverGrant]:
    """Every (action, target) the policy allows beyond the need, most telling first.

    Order: by granting statement, the exercise's own services first, then access level (permissions management, write, tagging,
    read, list), then action name, then the targets' order.
    """
    found: list[tuple[tuple[int, int, int, str, int], OverGrant]] = []
    order = {t.arn: i for i, t in enumerate(targets)}
    own_services = {t.service for t in targets}
    for action in granted_actions(policy):
        grants = [g for g in envelope if any(action_matches(a, action) for a in g.actions)]
        for target in probe_targets(action, targets, account, region):
            if any(resource_matches(r, target.arn) for g in grants for r in g.resources):
                continue  # needed
            request = Request(action, target.arn, {**context, **target.context})
            evaluation = evaluate(policy, request)
            if evaluation.allowed and evaluation.statement is not None:
                key = (evaluation.statement.index, target.service not in own_services,
                       catalogue.access_rank(action), action,
                       order.get(target.arn, len(order)))
                found.append((key, OverGrant(action, target, evaluation)))
    return [g for _, g in sorted(found, key=lambda pair: pair[0])]


def _needs_of(envelope: Sequence[Grant], action: str) -> list[str]:
    return [r for g in envelope if any(action_matches(a, action) for a in g.actions) for r in g.resources]


def describe_over_grants(over: Sequence[OverGrant], envelope: Sequence[Grant]) -> str:
    """Feedback: the first over-broad grant explained, then a count per statement."""
    first = over[0]
    ev = first.evaluation
    via_action = (f'the action pattern "{ev.action_pattern}"' if ev.action_pattern not in (first.action, "NotAction")
                  else "NotAction" if ev.action_pattern == "NotAction" else f'the action "{first.action}"')
    via_resource = (f'the resource pattern "{ev.resource_pattern}"' if ev.resource_pattern != "NotResource"
                    else "NotResource")
    note = f" ({first.target.note})" if first.target.note else ""
    lines = [f"{first.statement.label} allows {first.action} on {first.target.arn}{note}, "
             f"through {via_action} and {via_resource}."]
    needs = _needs_of(envelope, first.action)
    if needs:
        lines.append(f"The job needs {first.action} only on {', '.join(needs)}.")
    else:
        lines.append(f"The job never calls {first.action}.")
    per_statement = Counter(g.statement.label for g in over)
    actions = Counter(g.action for g in over)
    lines.append(
        f"In all, the policy allows {len(over)} request(s) beyond the need, with {len(actions)} "
        f"action(s): " + ", ".join(f"{label}: {n}" for label, n in per_statement.items()) + "."
    )
    examples = [a for a, _ in actions.most_common()][:6]
    if len(actions) > 1:
        more = ", and more" if len(actions) > len(examples) else ""
        lines.append(f"Actions allowed beyond the need include {', '.join(examples)}{more}.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- shortcuts


def broad_patterns(policy: Policy) -> list[str]:
    """Feedback for every Allow with "Action": "*", "Resource": "*", NotAction or NotResource."""
    problems: list[str] = []
    for s in policy.statements:
        if s.effect != "Allow":
            continue
        if s.actions is not None and any(a in ("*", "*:*") for a in s.actions):
            problems.append(f'{s.label} allows "Action": "*", every action of every AWS service')
        if s.resources is not None and "*" in s.resources:
            problems.append(f'{s.label} allows on "Resource": "*", every resource the account can reach; '
                            "name the ARNs the job uses")
        if s.not_actions is not None:
            problems.append(f"{s.label} is an Allow with NotAction: it allows every action except those listed, "
                            "including actions AWS adds later; list the actions the job needs in Action")
        if s.not_resources is not None:
            problems.append(f"{s.label} is an Allow with NotResource: it allows every resource except those "
                            "listed; list the resources the job uses in Resource")
    return problems
