"""The seeded broken networks: plans without a server, and builds in the embedded moto server."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fixtures import network_scenarios as scenarios
from fixtures.network_scenarios import Fault
from grader.checks import cidr, network
from grader.services import ServiceOptions
from grader.services.aws import make_service

SEED = 5


def test_plans_are_deterministic_and_sound() -> None:
    for seed in range(60):
        plan = scenarios.plan(seed)
        assert plan == scenarios.plan(seed)
        subnets = [{"name": f"s{i}", "cidr": c, "usable": cidr.usable_addresses(int(c.split("/")[1]))}
                   for i, c in enumerate(plan.public_cidrs + plan.private_cidrs)]
        assert cidr.plan_problems(plan.vpc_cidr, subnets, packed=True) == [], seed
        assert plan.zones[0] < plan.zones[1]
    assert len({scenarios.plan(seed).vpc_cidr for seed in range(60)}) > 40


def test_every_seed_breaks_a_path_and_faults_are_distinct() -> None:
    for seed in range(300):
        kinds = [f.kind for f in scenarios.plan(seed).faults]
        assert 1 <= len(kinds) <= 3 and len(set(kinds)) == len(kinds), seed
        assert set(kinds) & set(scenarios.BREAKING), seed
        assert all(f.detail in scenarios.VARIANTS[f.kind] for f in scenarios.plan(seed).faults)


def test_grading_seeds_cover_every_fault() -> None:
    kinds = {f.kind for seed in scenarios.GRADING_SEEDS for f in scenarios.plan(seed).faults}
    assert kinds == set(scenarios.FAULTS)


def test_grading_seeds_show_each_way_the_readme_names() -> None:
    """A deleted ACL rule and one turned into a deny; a lost NAT route and a move to an empty table;
    the database opened to each wrong group."""
    details = [f.detail for seed in scenarios.GRADING_SEEDS for f in scenarios.plan(seed).faults]
    for words in ("rule deleted", "set to deny", "lost its NAT route", "moved to an empty route table",
                  "from lab-alb instead", "from default instead"):
        assert any(words in d for d in details), words


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    service = make_service(ServiceOptions())
    service.start()
    yield service
    service.stop()


def _judge(aws: Any, scenario: scenarios.Scenario) -> tuple[set[str], set[str], network.Network]:
    """(intended paths blocked, forbidden paths open, the network) of a built scenario."""
    state = network.load(aws.client("ec2"), scenario.vpc_id)
    ends = scenario.endpoints(aws.client)
    blocked = {v.path for v in (state.reach(*p) for p in scenario.intended_paths(ends)) if not v.reachable}
    opened = {v.path for v in (state.reach(*p) for p in scenario.forbidden_paths(ends)) if v.reachable}
    return blocked, opened, state


def test_the_design_works_before_anything_breaks(aws: Any) -> None:
    aws.reset()
    scenario = scenarios.build(aws.client, SEED, faults=())
    blocked, opened, state = _judge(aws, scenario)
    assert (blocked, opened) == (set(), set())
    assert network.aws_rule_problems(state) == []
    assert network.all_traffic_rules(state, scenario.public_subnets + scenario.private_subnets,
                                     [scenario.groups[g] for g in ("lab-alb", "lab-app", "lab-db")]) == []
    for name, group_id in scenario.groups.items():
        assert network.ingress_rules(state, group_id) == scenario.intended_ingress[name]
    assert scenario.intended_ingress["lab-db"] == {("tcp", 3306, 3306, scenario.groups["lab-app"])}
    ends = scenario.endpoints(aws.client)
    assert ends["app"].security_groups == (scenario.groups["lab-app"],) and ends["app"].public_ip
    assert ends["db"].security_groups == (scenario.groups["lab-db"],) and ends["db"].public_ip is None
    assert ends["alb-1"].security_groups == (scenario.groups["lab-alb"],)
    assert [t["Value"] for s in state.subnets.values() for t in s["Tags"] if t["Key"] == "Tier"].count("private") == 2


ZONE_NAMES = scenarios.plan(SEED).zones
ALB = [f"the internet -> alb ({zone}):{port}" for zone in ZONE_NAMES for port in (443, 80)]
PRIVATE = [f"a host in private subnet {zone} -> the internet:443" for zone in ZONE_NAMES]
ALB_TO_APP = [f"alb ({zone}) -> app:80" for zone in ZONE_NAMES]
ALB_TO_DB = {f"alb ({zone}) -> db:3306" for zone in ZONE_NAMES}
APP_ZONE = scenarios.plan(SEED).app_zone


@pytest.mark.parametrize(("detail", "blocked", "opened"), [
    ("the public route table lost its 0.0.0.0/0 route", {*ALB, *PRIVATE}, set()),
    ("lab-db allows 3306 from lab-alb instead of lab-app", {"app -> db:3306"}, ALB_TO_DB),
    ("lab-db allows 3306 from default instead of lab-app", {"app -> db:3306"}, set()),
    ("private ACL outbound ephemeral rule deleted", {"app -> db:3306"}, set()),
    ("private ACL inbound ephemeral rule set to deny", set(PRIVATE), set()),
    # a deny of 1024-65535 numbered before the 3306 allow (130) also stops the app's requests to the database
    ("public ACL outbound ephemeral rule set to deny", {*ALB, *PRIVATE, ALB_TO_APP[1 - APP_ZONE], "app -> db:3306"},
     set()),
    ("public ACL outbound ephemeral rule deleted", {*ALB, *PRIVATE, ALB_TO_APP[1 - APP_ZONE]}, set()),
    ("public ACL inbound ephemeral rule deleted", {*PRIVATE, "app -> db:3306", ALB_TO_APP[1 - APP_ZONE]}, set()),
    ("the second private subnet lost its NAT route", {PRIVATE[1]}, set()),
    ("the first private subnet moved to an empty route table", {PRIVATE[0]}, set()),
    ("lab-db also allows 3306 from 0.0.0.0/0", set(), ALB_TO_DB),
])
def test_each_fault_alone_cuts_or_opens_exactly_its_paths(aws: Any, detail: str, blocked: set[str], opened: set[str]) -> None:
    kind = next(k for k, variants in scenarios.VARIANTS.items() if detail in variants)
    aws.reset()
    scenario = scenarios.build(aws.client, SEED, faults=[Fault(kind, detail)])
    assert _judge(aws, scenario)[:2] == (blocked, opened)


def test_seeded_faults_combine_and_endpoints_follow_the_live_state(aws: Any) -> None:
    aws.reset()
    scenario = scenarios.build(aws.client, 24)
    assert [f.kind for f in scenario.faults] == ["db_wrong_source", "nacl_no_return", "private_unrouted"]
    blocked, opened, state = _judge(aws, scenario)
    assert "app -> db:3306" in blocked and opened == {f"alb ({z}) -> db:3306" for z in scenario.plan.zones}
    assert any("lab-isolated-rt" in str(b) for v in (state.reach(*p) for p in
               scenario.intended_paths(scenario.endpoints(aws.client))) for b in v.blocks)
    ec2 = aws.client("ec2")
    ec2.modify_instance_attribute(InstanceId=scenario.instance_id, Groups=[scenario.groups["default"]])
    assert scenario.endpoints(aws.client)["app"].security_groups == (scenario.groups["default"],)
