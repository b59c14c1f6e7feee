"""VPC networking: plan subnets, then find and fix what stops the lab's traffic.

Read README.md in this folder for the layout, the design of the lab network and what each
function must return. Run `grade run vpc_networking` to check your work.
"""
from __future__ import annotations

import ipaddress  # noqa: F401  (use it for part 1)

import boto3  # noqa: F401  (use it for part 2: boto3.client("ec2") reaches the lab's endpoint)


def plan_subnets(vpc_cidr: str, zones: list[str], public_count: int, public_prefix: int,
                 private_count: int, private_prefix: int) -> list[dict]:
    """Non-overlapping subnets inside the VPC, public first, then private, lowest addresses first.

    Each subnet is {"name", "tier", "zone", "cidr", "usable"}; raise ValueError for impossible requests.
    """
    raise NotImplementedError("plan_subnets is not written yet")


def fix_connectivity(vpc_id: str) -> list[str]:
    """Find and repair what breaks the lab network in VPC `vpc_id`; return what you changed, in words."""
    raise NotImplementedError("fix_connectivity is not written yet")
