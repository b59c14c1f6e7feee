"""CIDR planning checks: AWS subnet sizes, usable addresses, and the problems of a plan."""
from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from grader.checks.cidr import plan_problems, subnet_size_problem, usable_addresses


def _subnet(name: str, tier: str, zone: str, cidr: str) -> dict[str, Any]:
    prefix = ipaddress.ip_network(cidr).prefixlen
    return {"name": name, "tier": tier, "zone": zone, "cidr": cidr, "usable": 2 ** (32 - prefix) - 5}


GOOD = [
    _subnet("public-1", "public", "a", "10.0.0.0/24"),
    _subnet("public-2", "public", "b", "10.0.1.0/24"),
    _subnet("private-1", "private", "a", "10.0.16.0/20"),
    _subnet("private-2", "private", "b", "10.0.32.0/20"),
]
EXPECTED = [("public", "a", 24), ("public", "b", 24), ("private", "a", 20), ("private", "b", 20)]


@pytest.mark.parametrize(("prefix", "usable"), [(16, 65531), (24, 251), (28, 11)])
def test_usable_addresses_subtract_the_five_aws_reserves(prefix: int, usable: int) -> None:
    assert usable_addresses(prefix) == usable == ipaddress.ip_network(f"10.0.0.0/{prefix}").num_addresses - 5


def test_subnet_sizes_outside_16_to_28_are_refused() -> None:
    assert subnet_size_problem("10.0.0.0/16") is None and subnet_size_problem("10.0.0.0/28") is None
    assert subnet_size_problem("10.0.0.0/29") == "10.0.0.0/29 is a /29; AWS subnets must be between /16 and /28"
    assert "/15" in str(subnet_size_problem("10.0.0.0/15"))


def test_a_sound_packed_plan_has_no_problems() -> None:
    assert plan_problems("10.0.0.0/16", GOOD, EXPECTED, packed=True) == []


def test_overlap_outside_vpc_and_wrong_usable_are_each_reported() -> None:
    plan = [dict(s) for s in GOOD]
    plan[1]["cidr"] = "10.0.0.128/25"
    plan[1]["usable"] = 128
    plan[3]["cidr"] = "10.1.0.0/20"
    problems = plan_problems("10.0.0.0/16", plan, EXPECTED)
    assert problems == [
        "public-2: usable is 128, but a /25 has 123 usable addresses in AWS (2**(32-25) minus the 5 AWS reserves)",
        "public-2: expected a /24, got a /25",
        "private-2: 10.1.0.0/20 is not inside the VPC 10.0.0.0/16",
        "public-1 (10.0.0.0/24) overlaps public-2 (10.0.0.128/25)",
    ]


def test_order_tier_and_zone_follow_the_expected_layout() -> None:
    plan = [GOOD[2], GOOD[3], GOOD[0], GOOD[1]]
    problems = plan_problems("10.0.0.0/16", plan, EXPECTED)
    assert problems[0] == ("private-1: expected the public subnet in a at this position, got tier 'private' in zone 'a'")
    assert len(plan_problems("10.0.0.0/16", GOOD[:3], EXPECTED)) == 1


def test_packing_names_the_first_gap() -> None:
    plan = [dict(s) for s in GOOD]
    plan[1]["cidr"] = "10.0.2.0/24"
    assert plan_problems("10.0.0.0/16", plan, EXPECTED, packed=True) == [
        "public-2: expected 10.0.1.0/24 (the lowest free address after the subnets before it), got 10.0.2.0/24"]
    assert plan_problems("10.0.0.0/16", plan, EXPECTED) == []


def test_invalid_addresses_are_reported_not_raised() -> None:
    plan = [dict(GOOD[0], cidr="10.0.0.1/24"), dict(GOOD[1], cidr="not an address")]
    problems = plan_problems("10.0.0.0/16", plan)
    assert problems[0].startswith("public-1: '10.0.0.1/24' is not a valid network address")
    assert problems[1].startswith("public-2: 'not an address' is not a valid network address")
