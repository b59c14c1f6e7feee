"""CIDR planning checks: AWS subnet sizes, usable addresses, and whether a subnet plan is sound.

Built on the standard `ipaddress` module; only the AWS rules (sizes /16 to /28, five reserved
addresses per subnet) are added here.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SMALLEST_PREFIX = 16  # the largest subnet AWS allows is a /16
LARGEST_PREFIX = 28  # the smallest subnet AWS allows is a /28
RESERVED_PER_SUBNET = 5  # network, VPC router, DNS, future use, broadcast


def usable_addresses(prefix: int) -> int:
    """Addresses of an IPv4 subnet of this prefix length that instances can use in AWS."""
    return 2 ** (32 - prefix) - RESERVED_PER_SUBNET


def subnet_size_problem(cidr: str) -> str | None:
    """Why AWS would refuse a subnet of this size, or None when the size is allowed."""
    prefix = ipaddress.ip_network(cidr, strict=False).prefixlen
    if SMALLEST_PREFIX <= prefix <= LARGEST_PREFIX:
        return None
    return f"{cidr} is a /{prefix}; AWS subnets must be between /{SMALLEST_PREFIX} and /{LARGEST_PREFIX}"


def _parse(cidr: Any) -> ipaddress.IPv4Network | str:
    """The network of `cidr`, or why it is not a valid IPv4 network address."""
    try:
        network = ipaddress.ip_network(str(cidr), strict=True)
    except ValueError as exc:
        return f"{cidr!r} is not a valid network address ({exc})"
    if not isinstance(network, ipaddress.IPv4Network):
        return f"{cidr!r} is not an IPv4 network"
    return network


def plan_problems(
    vpc_cidr: str,
    subnets: Sequence[Mapping[str, Any]],
    expected: Iterable[tuple[str, str, int]] = (),
    packed: bool = False,
) -> list[str]:
    """Everything wrong with a subnet plan, in words a learner reads; empty when it is sound.

    `subnets` are dicts with "name", "tier", "zone", "cidr" and "usable". `expected` lists the
    (tier, zone, prefix) each subnet should have, in order. With `packed`, every subnet must
    start at the lowest aligned address after the one before it (the first at the VPC's start).
    """
    vpc = ipaddress.ip_network(vpc_cidr)
    problems: list[str] = []
    wanted = list(expected)
    if wanted and len(subnets) != len(wanted):
        problems.append(f"expected {len(wanted)} subnets, got {len(subnets)}")
    parsed: list[tuple[str, ipaddress.IPv4Network]] = []
    for index, subnet in enumerate(subnets):
        label = str(subnet.get("name", f"subnet #{index + 1}"))
        network = _parse(subnet.get("cidr"))
        if isinstance(network, str):
            problems.append(f"{label}: {network}")
            continue
        parsed.append((label, network))
        if not network.subnet_of(vpc):  # type: ignore[arg-type]
            problems.append(f"{label}: {network} is not inside the VPC {vpc}")
        size = subnet_size_problem(str(network))
        if size:
            problems.append(f"{label}: {size}")
        if subnet.get("usable") != usable_addresses(network.prefixlen):
            problems.append(f"{label}: usable is {subnet.get('usable')!r}, but a /{network.prefixlen} has "
                            f"{usable_addresses(network.prefixlen)} usable addresses in AWS "
                            f"(2**(32-{network.prefixlen}) minus the {RESERVED_PER_SUBNET} AWS reserves)")
        if index < len(wanted):
            tier, zone, prefix = wanted[index]
            if subnet.get("tier") != tier or subnet.get("zone") != zone:
                problems.append(f"{label}: expected the {tier} subnet in {zone} at this position, got "
                                f"tier {subnet.get('tier')!r} in zone {subnet.get('zone')!r}")
            if network.prefixlen != prefix:
                problems.append(f"{label}: expected a /{prefix}, got a /{network.prefixlen}")
    for i, (label_a, a) in enumerate(parsed):
        for label_b, b in parsed[i + 1:]:
            if a.overlaps(b):
                problems.append(f"{label_a} ({a}) overlaps {label_b} ({b})")
    if packed and not problems:
        problems.extend(_packing_problems(vpc, parsed))
    return problems


def _packing_problems(vpc: Any, parsed: Sequence[tuple[str, ipaddress.IPv4Network]]) -> list[str]:
    """Where a plan leaves a gap it did not have to leave (lowest-address-first order)."""
    next_free = int(vpc.network_address)
    for label, network in parsed:
        size = network.num_addresses
        lowest = -(-next_free // size) * size  # round up to the subnet's own alignment
        if int(network.network_address) != lowest:
            start = ipaddress.IPv4Address(lowest)
            return [f"{label}: expected {start}/{network.prefixlen} (the lowest free address after the "
                    f"subnets before it), got {network}"]
        next_free = int(network.broadcast_address) + 1
    return []
