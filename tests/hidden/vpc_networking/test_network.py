"""Hidden tests of vpc_networking.

Part 1: subnet plans are judged by their properties (grader.checks.cidr), with the layout the
README documents derived from the call's own arguments. Part 2: networks come from the seeded
scenarios in fixtures/network_scenarios.py; after the learner's fix the VPC is read back through
the grader's own client and judged by the reachability evaluator (grader.checks.network).
"""
from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass
from typing import Any

import pytest

from fixtures import network_scenarios as scenarios
from grader import SubmissionError
from grader.checks import cidr, network

ZONES = ["us-east-1a", "us-east-1b"]
PLAN_SEED = 808


# --- part 1: plan_subnets ---------------------------------------------------------------------

def layout(zones: list[str], public_count: int, public_prefix: int, private_count: int,
           private_prefix: int) -> list[tuple[str, str, int]]:
    """(tier, zone, prefix) of each subnet in the README's order."""
    return ([("public", zones[i % len(zones)], public_prefix) for i in range(public_count)]
            + [("private", zones[i % len(zones)], private_prefix) for i in range(private_count)])


def check_plan(submission: Any, vpc: str, zones: list[str], *counts: int) -> None:
    """Call plan_subnets and fail with every problem of its answer."""
    args = (vpc, zones, *counts)
    call = f"plan_subnets{tuple(args)!r}"
    got = submission.plan_subnets(*args)
    if not isinstance(got, list) or not all(isinstance(s, dict) for s in got):
        pytest.fail(f"{call} returned {json.dumps(got)[:200]}; expected a list of dicts")
    problems = cidr.plan_problems(vpc, got, layout(zones, *counts), packed=True)
    names = [s.get("name") for s in got]
    want_names = [f"public-{i + 1}" for i in range(counts[0])] + [f"private-{i + 1}" for i in range(counts[2])]
    if not problems and names != want_names:
        problems.append(f"the names are {names}, expected {want_names}")
    shown = problems[:6] + ([f"... and {len(problems) - 6} more"] if len(problems) > 6 else [])
    assert not problems, f"{call}:\n" + "\n".join(f"  - {p}" for p in shown)


def expect_rejection(submission: Any, args: tuple[Any, ...], why: str) -> None:
    """plan_subnets(*args) must raise ValueError."""
    call = f"plan_subnets{args!r}"
    try:
        got = submission.plan_subnets(*args)
    except SubmissionError as exc:
        if exc.error_type == "ValueError":
            return
        if not exc.error_type:
            raise
        pytest.fail(f"{call} raised {exc.error_type}; it must raise ValueError because {why}.\n\n{exc}")
    pytest.fail(f"{call} returned {json.dumps(got)[:200]}; it must raise ValueError because {why}")


@pytest.mark.points(3)
def test_plan_readme_example(submission):
    """plan_subnets: the README's example"""
    check_plan(submission, "10.0.0.0/16", ZONES, 2, 24, 2, 20)


@pytest.mark.points(4)
@pytest.mark.hint("Round each subnet's start up to a multiple of its own size; usable = 2 ** (32 - prefix) - 5.")
def test_plan_generated_requests(submission):
    """plan_subnets: generated VPCs, zones and sizes"""
    rng = random.Random(PLAN_SEED)
    for _ in range(8):
        vpc_prefix = rng.randrange(16, 23)
        vpc = ipaddress.ip_network(f"{rng.choice((10, 172, 192))}.{rng.randrange(256)}.0.0/{vpc_prefix}", strict=False)
        zones = sorted(rng.sample(["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"], rng.choice((2, 2, 3))))
        public_prefix = rng.randrange(vpc_prefix + 4, 29)
        private_prefix = rng.randrange(vpc_prefix + 3, public_prefix + 1)
        check_plan(submission, str(vpc), zones, len(zones), public_prefix, rng.choice((1, 2)) * len(zones), private_prefix)
    # more subnets of a tier than zones, and not a multiple of them: each tier counts its own subnets
    check_plan(submission, "10.8.0.0/20", ["us-east-1a", "us-east-1b"], 3, 24, 3, 23)


@pytest.mark.points(2)
@pytest.mark.hint("A request that fills the VPC exactly is possible: compare the last address, not the next one.")
def test_plan_fills_the_vpc_exactly(submission):
    """plan_subnets: subnets that fill the whole VPC fit"""
    check_plan(submission, "192.168.4.0/24", ZONES, 2, 26, 2, 26)
    check_plan(submission, "10.20.0.0/16", ["us-east-1c"], 1, 17, 1, 17)


@pytest.mark.points(1)
def test_plan_rejects_subnets_smaller_than_28(submission):
    """plan_subnets rejects a prefix longer than /28"""
    expect_rejection(submission, ("10.0.0.0/16", ZONES, 2, 29, 2, 24), "AWS's smallest subnet is a /28")


@pytest.mark.points(1)
def test_plan_rejects_subnets_larger_than_the_vpc(submission):
    """plan_subnets rejects a subnet larger than the VPC"""
    expect_rejection(submission, ("10.0.0.0/20", ZONES, 2, 24, 2, 19), "a /19 is larger than the /20 VPC")


@pytest.mark.points(1)
def test_plan_rejects_too_many_subnets(submission):
    """plan_subnets rejects more subnets than fit"""
    expect_rejection(submission, ("10.0.0.0/24", ZONES, 4, 26, 2, 26), "six /26 subnets do not fit in a /24")


# --- part 2: fix_connectivity ---------------------------------------------------------------

@dataclass
class Outcome:
    """One network after the learner's fix: the scenario, the state read back, and any error."""

    scenario: scenarios.Scenario
    state: network.Network
    ends: dict[str, network.Endpoint]
    error: SubmissionError | None
    returned: Any = None  # what fix_connectivity returned


# kept in the grading session's stash: a warm worker that grades submission after submission with
# these modules loaded starts every session with none (a module-level cache would hand the next
# submission an outcome of the last one, and grow with every grade)
OUTCOMES = pytest.StashKey[dict[int, Outcome]]()


def _outcomes(request: pytest.FixtureRequest) -> dict[int, Outcome]:
    return request.session.stash.setdefault(OUTCOMES, {})


def outcome(seed: int, aws: Any, submission: Any, request: pytest.FixtureRequest) -> Outcome:
    """Build network `seed`, run the learner's fix once, and keep what it left (per grading session)."""
    outcomes = _outcomes(request)
    if seed not in outcomes:
        try:
            # built once a machine (kept in the grader's cache while scenarios' code is the same), then
            # restored after each reset (a grade run, a watch's regrades, a batch worker)
            scenario = aws.kept(("lab network", seed), lambda: scenarios.build(aws.client, seed),
                                sources=(scenarios.__file__,))
        except Exception as exc:
            if aws.backend == "moto":
                raise
            pytest.skip(f"the AWS endpoint {aws.endpoint_url} cannot build the lab network "
                        f"(it needs EC2, ELBv2 and RDS): {exc}")
        error, returned = None, None
        try:
            returned = submission.fix_connectivity(scenario.vpc_id)
        except SubmissionError as exc:
            error = exc
        outcomes[seed] = Outcome(scenario, network.load(aws.client("ec2"), scenario.vpc_id),
                                 scenario.endpoints(aws.client), error, returned)
    result = outcomes[seed]
    if result.error is not None:
        raise result.error
    return result


def path_problems(result: Outcome) -> list[str]:
    """The intended paths still blocked and the forbidden paths open, each with its settings."""
    state, scenario, ends = result.state, result.scenario, result.ends
    lines: list[str] = []
    for source, destination, port in scenario.intended_paths(ends):
        verdict = state.reach(source, destination, port)
        if not verdict.reachable:
            lines.append(f"still blocked: {verdict.explain()}")
    for source, destination, port in scenario.forbidden_paths(ends):
        verdict = state.reach(source, destination, port)
        if verdict.reachable:
            allowing = state.sg_allowing(destination.security_groups, False, source, port)
            why = "; ".join(allowing) if allowing else "nothing on the path stops it"
            lines.append(f"newly open (must stay closed): {verdict.path}, let in by {why}")
    return lines


def describe_network(seed: int, result: Outcome) -> str:
    """'network 2 (VPC vpc-..., 10.1.0.0/16)' for feedback."""
    index = scenarios.GRADING_SEEDS.index(seed) + 1
    return f"network {index} (VPC {result.scenario.vpc_id}, {result.scenario.plan.vpc_cidr})"


SEED_IDS = [f"network {i + 1}" for i in range(len(scenarios.GRADING_SEEDS))]


@pytest.mark.points(5)
@pytest.mark.parametrize("seed", scenarios.GRADING_SEEDS, ids=SEED_IDS)
@pytest.mark.hint("Compare each route table, network ACL and security group with the design in the README; "
                  "ACLs are stateless, so replies need the ephemeral ports 1024-65535.")
def test_network_is_repaired(seed, aws, submission, request):
    """fix_connectivity: every intended path works and every forbidden one stays closed"""
    result = outcome(seed, aws, submission, request)
    lines = path_problems(result)
    refused = network.aws_rule_problems(result.state)
    if lines and refused:
        lines.append("AWS would refuse these settings (the mocked EC2 accepted them, the evaluator ignores them):\n"
                     + "\n".join(f"  - {block}" for block in refused))
    assert not lines, f"after fix_connectivity on {describe_network(seed, result)}:\n" + "\n".join(lines)
    changes = result.returned
    assert isinstance(changes, list) and all(isinstance(c, str) for c in changes), (
        f"fix_connectivity repaired {describe_network(seed, result)} but returned {json.dumps(changes)[:120]}; "
        "return the list of changes you made, in words (a list of strings, empty when nothing needed fixing)"
    )


def extra_rules(result: Outcome) -> list[str]:
    """Inbound rules and all-traffic entries the design does not need."""
    state, scenario = result.state, result.scenario
    names = {group_id: name for name, group_id in scenario.groups.items()}
    found: list[str] = []
    for name, group_id in scenario.groups.items():
        for protocol, low, high, source in sorted(network.ingress_rules(state, group_id) - scenario.intended_ingress[name]):
            ports = "all ports" if (low, high) == (0, 65535) else (str(low) if low == high else f"{low}-{high}")
            shown = names.get(source, source)
            found.append(f"{name} allows {protocol} {ports} from {shown}, which the design does not need")
    subnets = scenario.public_subnets + scenario.private_subnets
    lab_groups = [scenario.groups[n] for n in ("lab-alb", "lab-app", "lab-db")]
    for block in network.all_traffic_rules(state, subnets, lab_groups):
        found.append(f"{block} (an all-traffic rule)")
    found += acl_differences(result)
    return list(dict.fromkeys(found))


def acl_differences(result: Outcome) -> list[str]:
    """Rules of the lab's ACLs that are not the README's table, rule number for rule number."""
    state, scenario = result.state, result.scenario
    designs = (("public", scenario.public_subnets, scenario.plan.public_acl()),
               ("private", scenario.private_subnets, scenario.plan.private_acl()))
    found = []
    for tier, subnets, design in designs:
        want = {(number, egress): (low, high, cidr) for number, egress, low, high, cidr in design}
        for acl in {id(a): a for s in subnets if (a := state.network_acl_of(s)) is not None}.values():
            label = state.label(acl["NetworkAclId"])
            for entry in acl.get("Entries") or ():
                number, egress = int(entry.get("RuleNumber", 0)), bool(entry.get("Egress"))
                if number >= 32767:
                    continue  # the default deny every ACL ends with
                direction = "outbound" if egress else "inbound"
                ports = entry.get("PortRange") or {}
                got = (ports.get("From"), ports.get("To"), entry.get("CidrBlock"))
                if (number, egress) not in want:
                    found.append(f"{label} has {direction} rule {number}, which the {tier} ACL's table does not list")
                elif (got != want[(number, egress)] or entry.get("RuleAction") != "allow"
                      or str(entry.get("Protocol")) != "6"):
                    low, high, cidr = want[(number, egress)]
                    found.append(f"{label} {direction} rule {number} is not the table's: allow TCP {low}-{high} "
                                 f"{'to' if egress else 'from'} {cidr}")
    return found


@pytest.mark.points(3)
@pytest.mark.parametrize("seed", scenarios.GRADING_SEEDS, ids=SEED_IDS)
@pytest.mark.hint("Revoke what the design does not list (describe_security_groups shows every rule); "
                  "never fix a path by opening 0.0.0.0/0 or all traffic.")
def test_changes_are_minimal(seed, submission, request):
    """fix_connectivity opens nothing beyond the design"""
    # the network is built once per grade (by the matching check above when it ran first): the `aws`
    # fixture, which wipes the endpoint, is asked for only when it is not built yet
    built = seed in _outcomes(request)
    result = outcome(seed, None if built else request.getfixturevalue("aws"), submission, request)
    if path_problems(result):
        pytest.fail(f"minimality is judged once {describe_network(seed, result)} works: "
                    "first make the matching 'every intended path works' check pass")
    extra = extra_rules(result)
    assert not extra, f"after fix_connectivity on {describe_network(seed, result)}:\n" + "\n".join(f"  - {e}" for e in extra)
