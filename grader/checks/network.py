"""A reachability evaluator for one AWS VPC, over the plain output of EC2's describe_* calls.

Written by hand: no maintained library evaluates VPC reachability offline (AWS's own Reachability
Analyzer is a paid cloud service, and moto does not route packets). What it models, for IPv4 TCP:

- route tables: the subnet's explicit association or else the VPC's main table; longest prefix
  match; the local route; internet gateway targets (must exist and be attached to the VPC) and NAT
  gateway targets (must exist, be available, and sit in a subnet routed to the internet gateway);
  blackhole routes and routes whose target is gone. Reply traffic is routed too.
- network ACLs: stateless, one per subnet (explicit or the VPC default), rules in ascending number,
  the first match decides, the implicit `*` deny last; checked on both sides of every subnet
  boundary in both directions, so replies need the ephemeral ports (1024-65535) open. Traffic inside
  one subnet crosses no ACL.
- security groups: stateful (replies always allowed), union of the groups on an endpoint, sources
  and destinations as CIDR ranges or group references.
- public addresses: the internet reaches only endpoints with a public IP; an instance without one
  reaches the internet only through a NAT gateway.

Not modelled: IPv6, UDP/ICMP, prefix lists, VPC peering, transit and virtual private gateways,
endpoints, instance or ENI route targets (reported as not forwarding), and the NAT gateway's
connection tracking limits. It also reports the AWS rules moto does not enforce (`aws_rule_problems`):
subnet sizes /16 to /28, ACL rule numbers 1 to 32766, and route targets that exist and are attached.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.checks.cidr import subnet_size_problem

EPHEMERAL = (1024, 65535)  # the client port range AWS recommends ACLs allow for replies
DEFAULT_RULE = 32767  # AWS shows the implicit "*" ACL rule with this number
INTERNET_IP = "203.0.113.10"  # a documentation address standing for "anywhere on the internet"
ANYWHERE = ipaddress.ip_network("0.0.0.0/0")
TCP = {"6", "tcp"}
ALL_PROTOCOLS = {"-1", "all"}


@dataclass(frozen=True)
class Endpoint:
    """One end of a path: an interface in a subnet, or (subnet_id None) a host on the internet."""

    name: str
    ip: str = INTERNET_IP
    subnet_id: str | None = None
    security_groups: tuple[str, ...] = ()
    public_ip: str | None = None

    @property
    def on_internet(self) -> bool:
        """True for a host outside the VPC."""
        return self.subnet_id is None


INTERNET = Endpoint("the internet")


@dataclass(frozen=True)
class Block:
    """One setting that stops a path (or, from aws_rule_problems, that AWS would refuse)."""

    kind: str  # route, network-acl, security-group, gateway, address, subnet
    resource: str  # id and name of the setting's owner, e.g. "sg-0abc (lab-db)"
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.resource}: {self.reason}"


@dataclass(frozen=True)
class Verdict:
    """Whether `source` reaches `destination` on a TCP port, and every setting in the way."""

    source: str
    destination: str
    port: int
    blocks: tuple[Block, ...] = ()
    hops: tuple[str, ...] = ()

    @property
    def reachable(self) -> bool:
        """True when nothing on the path blocks the traffic."""
        return not self.blocks

    @property
    def path(self) -> str:
        """The path in words, e.g. 'the internet -> alb:443'."""
        return f"{self.source} -> {self.destination}:{self.port}"

    def explain(self) -> str:
        """The verdict as lines a learner reads."""
        if self.reachable:
            return f"{self.path} is reachable (via {' -> '.join(self.hops)})"
        lines = [f"{self.path} is blocked by:"]
        lines.extend(f"  - {block}" for block in self.blocks)
        return "\n".join(lines)


def _tag(resource: Mapping[str, Any], key: str = "Name") -> str | None:
    """The value of a tag on a described resource."""
    for tag in resource.get("Tags") or ():
        if tag.get("Key") == key:
            return str(tag.get("Value"))
    return None


def _ports(rule: Mapping[str, Any]) -> tuple[int, int]:
    """The port range an SG permission or ACL entry covers (all ports when it names none)."""
    if "PortRange" in rule:
        return int(rule["PortRange"].get("From", 0)), int(rule["PortRange"].get("To", 65535))
    if "FromPort" in rule and str(rule.get("IpProtocol")) not in ALL_PROTOCOLS:
        return int(rule["FromPort"]), int(rule["ToPort"])
    return 0, 65535


def _protocol_matches(protocol: Any) -> bool:
    """True when a rule's protocol covers TCP."""
    return str(protocol).lower() in TCP | ALL_PROTOCOLS


def _subtract(intervals: list[tuple[int, int]], lo: int, hi: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split port intervals into (the parts outside lo..hi, the parts inside)."""
    outside: list[tuple[int, int]] = []
    inside: list[tuple[int, int]] = []
    for a, b in intervals:
        if b < lo or a > hi:
            outside.append((a, b))
            continue
        if a < lo:
            outside.append((a, lo - 1))
        if b > hi:
            outside.append((hi + 1, b))
        inside.append((max(a, lo), min(b, hi)))
    return outside, inside


def _span(ports: Sequence[tuple[int, int]]) -> str:
    """Port intervals in words."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ports)


@dataclass
class Network:
    """One VPC as EC2 describes it; build with `Network.from_describe` or `snapshot`."""

    vpc: dict[str, Any]
    subnets: dict[str, dict[str, Any]] = field(default_factory=dict)
    route_tables: list[dict[str, Any]] = field(default_factory=list)
    network_acls: list[dict[str, Any]] = field(default_factory=list)
    security_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    internet_gateways: dict[str, dict[str, Any]] = field(default_factory=dict)
    nat_gateways: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_describe(cls, data: Mapping[str, Any]) -> Network:
        """A Network from describe_* output: keys Vpcs (one VPC), Subnets, RouteTables, NetworkAcls, ..."""
        vpcs = list(data.get("Vpcs") or ())
        if len(vpcs) != 1:
            raise ValueError(f"expected exactly one VPC in the description, got {len(vpcs)}")
        vpc = vpcs[0]
        vpc_id = vpc["VpcId"]

        def mine(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
            return [dict(item) for item in items if item.get("VpcId", vpc_id) == vpc_id]

        return cls(
            vpc=dict(vpc),
            subnets={s["SubnetId"]: s for s in mine(data.get("Subnets") or ())},
            route_tables=mine(data.get("RouteTables") or ()),
            network_acls=mine(data.get("NetworkAcls") or ()),
            security_groups={g["GroupId"]: g for g in mine(data.get("SecurityGroups") or ())},
            internet_gateways={g["InternetGatewayId"]: dict(g) for g in data.get("InternetGateways") or ()},
            nat_gateways={g["NatGatewayId"]: dict(g) for g in data.get("NatGateways") or ()},
        )

    # --- naming -------------------------------------------------------------------------------

    @property
    def vpc_id(self) -> str:
        """The VPC's id."""
        return str(self.vpc["VpcId"])

    def label(self, resource_id: str) -> str:
        """A resource's id with its Name tag (or group name), for feedback."""
        for table in (self.subnets, self.security_groups, self.internet_gateways, self.nat_gateways):
            if resource_id in table:
                item = table[resource_id]
                name = _tag(item) or item.get("GroupName")
                return f"{resource_id} ({name})" if name else resource_id
        for item in [*self.route_tables, *self.network_acls]:
            if resource_id in (item.get("RouteTableId"), item.get("NetworkAclId")):
                name = _tag(item)
                return f"{resource_id} ({name})" if name else resource_id
        return resource_id

    # --- lookups ------------------------------------------------------------------------------

    def route_table_of(self, subnet_id: str) -> dict[str, Any] | None:
        """The route table a subnet uses: its explicit association, else the main table."""
        main = None
        for table in self.route_tables:
            for assoc in table.get("Associations") or ():
                if assoc.get("SubnetId") == subnet_id:
                    return table
                if assoc.get("Main"):
                    main = table
        return main

    def network_acl_of(self, subnet_id: str) -> dict[str, Any] | None:
        """The network ACL a subnet uses: its association, else the VPC's default ACL."""
        default = None
        for acl in self.network_acls:
            if any(a.get("SubnetId") == subnet_id for a in acl.get("Associations") or ()):
                return acl
            if acl.get("IsDefault"):
                default = acl
        return default

    def igw_attached(self, igw_id: str) -> bool:
        """True when the internet gateway exists and is attached to this VPC."""
        igw = self.internet_gateways.get(igw_id)
        if igw is None:
            return False
        return any(a.get("VpcId") == self.vpc_id and a.get("State", "available") in ("available", "attached")
                   for a in igw.get("Attachments") or ())

    def attached_igw(self) -> str | None:
        """The internet gateway attached to this VPC, if any."""
        return next((igw for igw in sorted(self.internet_gateways) if self.igw_attached(igw)), None)

    def in_vpc(self, ip: str) -> bool:
        """True when an address lies in one of the VPC's IPv4 CIDR blocks."""
        address = ipaddress.ip_address(ip)
        blocks = [a["CidrBlock"] for a in self.vpc.get("CidrBlockAssociationSet") or () if "CidrBlock" in a]
        blocks = blocks or [self.vpc["CidrBlock"]]
        return any(address in ipaddress.ip_network(b) for b in blocks)

    # --- routing ------------------------------------------------------------------------------

    def route_for(self, subnet_id: str, ip: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the subnet's route table, the longest-prefix route that matches ip, or None)."""
        table = self.route_table_of(subnet_id)
        if table is None:
            return None, None
        address = ipaddress.ip_address(ip)
        best: dict[str, Any] | None = None
        best_len = -1
        for route in table.get("Routes") or ():
            cidr = route.get("DestinationCidrBlock")
            if not cidr:
                continue
            network = ipaddress.ip_network(cidr)
            if address in network and network.prefixlen > best_len:
                best, best_len = route, network.prefixlen
        return table, best

    def _route_problem(self, route: Mapping[str, Any]) -> str | None:
        """Why a route cannot forward traffic (target missing, detached, blackhole), or None."""
        if route.get("State") == "blackhole":
            return "the route is a blackhole (its target was deleted)"
        gateway = route.get("GatewayId")
        nat = route.get("NatGatewayId")
        if gateway == "local":
            return None
        if gateway and gateway.startswith("igw-"):
            if gateway not in self.internet_gateways:
                return f"its target {gateway} does not exist"
            if not self.igw_attached(gateway):
                return f"its target {self.label(gateway)} is not attached to {self.vpc_id}"
            return None
        if nat:
            gw = self.nat_gateways.get(nat)
            if gw is None:
                return f"its target {nat} does not exist"
            if gw.get("State") != "available":
                return f"its target {self.label(nat)} is {gw.get('State')}, not available"
            if gw.get("VpcId", self.vpc_id) != self.vpc_id:
                return f"its target {self.label(nat)} is in another VPC"
            return None
        targets = [k for k in route if k.endswith("Id") and k not in ("GatewayId", "NatGatewayId") and route[k]]
        if targets:
            return f"its target ({', '.join(f'{k}={route[k]}' for k in targets)}) is not modelled as forwarding"
        return "the route has no target"

    # --- filters --------------------------------------------------------------------------------

    def acl_check(self, subnet_id: str, egress: bool, peer_ip: str, ports: tuple[int, int], what: str) -> Block | None:
        """A Block when the subnet's ACL denies any of `ports` to/from peer_ip in one direction."""
        acl = self.network_acl_of(subnet_id)
        if acl is None:
            return None
        peer = ipaddress.ip_address(peer_ip)
        pending = [ports]
        denied: list[tuple[list[tuple[int, int]], str]] = []
        entries = sorted(
            (e for e in acl.get("Entries") or () if bool(e.get("Egress")) == egress and _valid_rule_number(e)),
            key=lambda e: int(e["RuleNumber"]),
        )
        for entry in entries:
            if not pending:
                break
            if not _protocol_matches(entry.get("Protocol")) or not entry.get("CidrBlock"):
                continue
            if peer not in ipaddress.ip_network(entry["CidrBlock"]):
                continue
            lo, hi = _ports(entry) if str(entry.get("Protocol")) not in ALL_PROTOCOLS else (0, 65535)
            pending, hit = _subtract(pending, lo, hi)
            if hit and entry.get("RuleAction") == "deny":
                number = int(entry["RuleNumber"])
                why = "no rule allows it, so the default rule * denies it" if number == DEFAULT_RULE else f"rule {number} denies it"
                denied.append((hit, why))
        if pending:
            denied.append((pending, "no rule allows it, so the default rule * denies it"))
        if not denied:
            return None
        direction = "outbound" if egress else "inbound"
        toward = "to" if egress else "from"
        reasons = "; ".join(f"tcp {_span(p)}: {why}" for p, why in denied)
        return Block("network-acl", self.label(acl["NetworkAclId"]),
                     f"{direction} {what} {toward} {peer_ip}, {reasons}")

    def sg_allowing(self, groups: Sequence[str], egress: bool, peer: Endpoint, port: int) -> list[str]:
        """The rules of the groups that let TCP `port` in from (or out to) `peer`, in words."""
        peer_ip = ipaddress.ip_address(peer.ip)
        found: list[str] = []
        for group_id in groups:
            group = self.security_groups.get(group_id)
            if group is None:
                continue
            for perm in group.get("IpPermissionsEgress" if egress else "IpPermissions") or ():
                if not _protocol_matches(perm.get("IpProtocol")):
                    continue
                lo, hi = _ports(perm)
                if not lo <= port <= hi:
                    continue
                sources = [r["CidrIp"] for r in perm.get("IpRanges") or () if peer_ip in ipaddress.ip_network(r["CidrIp"])]
                sources += [self.label(p["GroupId"]) for p in perm.get("UserIdGroupPairs") or ()
                            if p.get("GroupId") in peer.security_groups]
                direction = "outbound" if egress else "inbound"
                found.extend(f"{self.label(group_id)} {direction} {describe_permission(perm)} "
                             f"{'to' if egress else 'from'} {source}" for source in sources)
        return found

    def sg_allows(self, groups: Sequence[str], egress: bool, peer: Endpoint, port: int) -> bool:
        """True when any of the groups lets TCP `port` in from (or out to) `peer`."""
        return bool(self.sg_allowing(groups, egress, peer, port))

    def sg_check(self, endpoint: Endpoint, egress: bool, peer: Endpoint, port: int) -> Block | None:
        """A Block when the endpoint's security groups do not allow the traffic."""
        if endpoint.on_internet or self.sg_allows(endpoint.security_groups, egress, peer, port):
            return None
        groups = ", ".join(self.label(g) for g in endpoint.security_groups) or "no security group"
        direction = f"outbound tcp {port} to {peer.name}" if egress else f"inbound tcp {port} from {peer.name}"
        source = peer.ip if peer.on_internet else f"{peer.ip} or its groups"
        return Block("security-group", groups, f"no rule allows {direction} ({source})")

    # --- the evaluation -------------------------------------------------------------------------

    def reach(self, source: Endpoint, destination: Endpoint, port: int) -> Verdict:
        """Evaluate TCP from source to destination:port; list every blocking setting on the path."""
        blocks: list[Block] = []
        hops: list[str] = [source.name]
        if source.on_internet and destination.on_internet:
            raise ValueError("at least one end of a path must be inside the VPC")
        if source.on_internet:
            self._from_internet(source, destination, port, blocks, hops)
        elif destination.on_internet:
            self._to_internet(source, destination, port, blocks, hops)
        else:
            self._inside(source, destination, port, blocks, hops)
        hops.append(f"{destination.name}:{port}")
        return Verdict(source.name, destination.name, port, tuple(dict.fromkeys(blocks)), tuple(hops))

    def _boundary(self, a: str, b: str, a_ip: str, b_ip: str, port: int, blocks: list[Block]) -> None:
        """ACL checks for request a->b:port and its reply, when subnets a and b differ."""
        if a == b:
            return
        checks = [
            self.acl_check(a, True, b_ip, (port, port), "request"),
            self.acl_check(b, False, a_ip, (port, port), "request"),
            self.acl_check(b, True, a_ip, EPHEMERAL, "reply"),
            self.acl_check(a, False, b_ip, EPHEMERAL, "reply"),
        ]
        blocks.extend(c for c in checks if c)

    def _edge(self, subnet: str, outside_ip: str, port: int, outbound_request: bool, blocks: list[Block]) -> None:
        """ACL checks where traffic leaves the VPC from `subnet` (or enters it)."""
        if outbound_request:
            checks = [self.acl_check(subnet, True, outside_ip, (port, port), "request"),
                      self.acl_check(subnet, False, outside_ip, EPHEMERAL, "reply")]
        else:
            checks = [self.acl_check(subnet, False, outside_ip, (port, port), "request"),
                      self.acl_check(subnet, True, outside_ip, EPHEMERAL, "reply")]
        blocks.extend(c for c in checks if c)

    def _needs_route(self, subnet: str, ip: str, purpose: str, blocks: list[Block]) -> dict[str, Any] | None:
        """The usable route from subnet toward ip, else record why there is none."""
        table, route = self.route_for(subnet, ip)
        if table is None:
            blocks.append(Block("route", self.label(subnet), "the subnet has no route table and the VPC no main table"))
            return None
        if route is None:
            blocks.append(Block("route", self.label(table["RouteTableId"]),
                                f"no route matches {ip} ({purpose}); the subnet {self.label(subnet)} is routed nowhere"))
            return None
        problem = self._route_problem(route)
        if problem:
            blocks.append(Block("route", self.label(table["RouteTableId"]),
                                f"the route {route['DestinationCidrBlock']} used for {purpose} cannot forward: {problem}"))
            return None
        return route

    def _from_internet(self, source: Endpoint, destination: Endpoint, port: int, blocks: list[Block], hops: list[str]) -> None:
        """Internet -> an endpoint in the VPC."""
        subnet = str(destination.subnet_id)
        if destination.public_ip is None:
            blocks.append(Block("address", destination.name, "has no public IP address, so the internet cannot address it"))
        igw = self.attached_igw()
        if igw is None:
            blocks.append(Block("gateway", self.vpc_id, "no internet gateway is attached to the VPC"))
        else:
            hops.append(self.label(igw))
        route = self._needs_route(subnet, source.ip, f"replies to {source.name}", blocks)
        if route is not None and not str(route.get("GatewayId", "")).startswith("igw-"):
            table, _ = self.route_for(subnet, source.ip)
            assert table is not None
            blocks.append(Block("route", self.label(table["RouteTableId"]),
                                f"replies to {source.name} go to {_target(route)}, not to an internet gateway, "
                                f"so {self.label(subnet)} is not a public subnet"))
        self._edge(subnet, source.ip, port, False, blocks)
        hop = self.sg_check(destination, False, source, port)
        if hop:
            blocks.append(hop)
        hops.append(self.label(subnet))

    def _to_internet(self, source: Endpoint, destination: Endpoint, port: int, blocks: list[Block], hops: list[str]) -> None:
        """An endpoint in the VPC -> the internet, directly or through a NAT gateway."""
        subnet = str(source.subnet_id)
        hops.append(self.label(subnet))
        egress = self.sg_check(source, True, destination, port)
        if egress:
            blocks.append(egress)
        self._edge(subnet, destination.ip, port, True, blocks)
        route = self._needs_route(subnet, destination.ip, f"traffic to {destination.name}", blocks)
        if route is None:
            return
        table, _ = self.route_for(subnet, destination.ip)
        assert table is not None
        target = _target(route)
        if target.startswith("igw-"):
            hops.append(self.label(target))
            if source.public_ip is None:
                blocks.append(Block("address", source.name, f"has no public IP address, so traffic through "
                                    f"{self.label(target)} cannot return; private subnets use a NAT gateway"))
            return
        if target.startswith("nat-"):
            hops.append(self.label(target))
            nat_subnet = str(self.nat_gateways[target].get("SubnetId"))
            self._boundary(subnet, nat_subnet, source.ip, destination.ip, port, blocks)
            nat_route = self._needs_route(nat_subnet, destination.ip, f"the NAT gateway's traffic to {destination.name}", blocks)
            if nat_route is not None:
                nat_target = _target(nat_route)
                if nat_target.startswith("igw-"):
                    hops.append(self.label(nat_target))
                else:
                    nat_table, _ = self.route_for(nat_subnet, destination.ip)
                    assert nat_table is not None
                    blocks.append(Block("route", self.label(nat_table["RouteTableId"]),
                                        f"the NAT gateway's subnet {self.label(nat_subnet)} sends {destination.name} "
                                        f"traffic to {nat_target}, not to an internet gateway"))
            self._edge(nat_subnet, destination.ip, port, True, blocks)
            return
        blocks.append(Block("route", self.label(table["RouteTableId"]),
                            f"traffic to {destination.name} goes to {target}, which does not lead to the internet"))

    def _inside(self, source: Endpoint, destination: Endpoint, port: int, blocks: list[Block], hops: list[str]) -> None:
        """Between two endpoints inside the VPC."""
        a, b = str(source.subnet_id), str(destination.subnet_id)
        hops.append(self.label(a))
        for subnet, ip, purpose in ((a, destination.ip, f"traffic to {destination.name}"),
                                    (b, source.ip, f"replies to {source.name}")):
            route = self._needs_route(subnet, ip, purpose, blocks)
            if route is not None and _target(route) != "local":
                table, _ = self.route_for(subnet, ip)
                assert table is not None
                blocks.append(Block("route", self.label(table["RouteTableId"]),
                                    f"{purpose} goes to {_target(route)} instead of the local route"))
        if not self.in_vpc(destination.ip):
            blocks.append(Block("address", destination.name, f"{destination.ip} is outside the VPC's CIDR"))
        self._boundary(a, b, source.ip, destination.ip, port, blocks)
        for check in (self.sg_check(source, True, destination, port), self.sg_check(destination, False, source, port)):
            if check:
                blocks.append(check)
        if a != b:
            hops.append(self.label(b))


def _target(route: Mapping[str, Any]) -> str:
    """The id a route points at."""
    for key in ("GatewayId", "NatGatewayId", "NetworkInterfaceId", "InstanceId", "TransitGatewayId",
                "VpcPeeringConnectionId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId"):
        if route.get(key):
            return str(route[key])
    return "nothing"


def _valid_rule_number(entry: Mapping[str, Any]) -> bool:
    """True for rule numbers AWS accepts (1..32766) and its own default rule."""
    number = int(entry.get("RuleNumber", 0))
    if number == DEFAULT_RULE:
        return entry.get("RuleAction") == "deny"
    return 1 <= number <= DEFAULT_RULE - 1


def reach(network: Network, source: Endpoint, destination: Endpoint, port: int) -> Verdict:
    """Evaluate TCP from source to destination:port in the network."""
    return network.reach(source, destination, port)


def aws_rule_problems(network: Network) -> list[Block]:
    """Settings AWS would refuse but moto accepts: subnet sizes, ACL rule numbers, route targets."""
    problems: list[Block] = []
    for subnet_id, subnet in sorted(network.subnets.items()):
        size = subnet_size_problem(subnet["CidrBlock"])
        if size:
            problems.append(Block("subnet", network.label(subnet_id), size))
    for acl in network.network_acls:
        for entry in acl.get("Entries") or ():
            if not _valid_rule_number(entry):
                direction = "outbound" if entry.get("Egress") else "inbound"
                problems.append(Block("network-acl", network.label(acl["NetworkAclId"]),
                                      f"{direction} rule number {entry.get('RuleNumber')} is outside 1..32766; "
                                      "AWS refuses it, so it is ignored here"))
    for table in network.route_tables:
        for route in table.get("Routes") or ():
            problem = network._route_problem(route)
            if problem and route.get("State") != "blackhole":
                problems.append(Block("route", network.label(table["RouteTableId"]),
                                      f"route {route.get('DestinationCidrBlock')}: {problem}"))
    return problems


def world_open_rules(network: Network, group_id: str) -> list[Block]:
    """Inbound rules of a security group open to every address (0.0.0.0/0 or ::/0)."""
    group = network.security_groups[group_id]
    found: list[Block] = []
    for perm in group.get("IpPermissions") or ():
        ranges = [r["CidrIp"] for r in perm.get("IpRanges") or () if r.get("CidrIp") == "0.0.0.0/0"]
        ranges += [r["CidrIpv6"] for r in perm.get("Ipv6Ranges") or () if r.get("CidrIpv6") == "::/0"]
        for cidr in ranges:
            found.append(Block("security-group", network.label(group_id),
                               f"allows {describe_permission(perm)} from {cidr} (the whole internet)"))
    return found


def all_traffic_rules(network: Network, subnet_ids: Iterable[str] | None = None,
                      group_ids: Iterable[str] | None = None) -> list[Block]:
    """Inbound security group rules and ACL allow entries that admit every port (or every protocol).

    Looks at the given groups and the ACLs the given subnets use (default: all of them).
    """
    found: list[Block] = []
    groups = set(group_ids) if group_ids is not None else set(network.security_groups)
    for group_id, group in sorted(network.security_groups.items()):
        if group_id not in groups:
            continue
        for perm in group.get("IpPermissions") or ():
            if str(perm.get("IpProtocol")) in ALL_PROTOCOLS or _ports(perm) == (0, 65535):
                found.append(Block("security-group", network.label(group_id),
                                   f"inbound rule allows {describe_permission(perm)} from {_sources(perm)}"))
    wanted = set(subnet_ids) if subnet_ids is not None else set(network.subnets)
    acls = {acl["NetworkAclId"]: acl for s in sorted(wanted) if (acl := network.network_acl_of(s)) is not None}
    for acl_id, acl in sorted(acls.items()):
        for entry in acl.get("Entries") or ():
            if entry.get("RuleAction") != "allow" or not _valid_rule_number(entry):
                continue
            if str(entry.get("Protocol")) in ALL_PROTOCOLS or _ports(entry) == (0, 65535):
                direction = "outbound" if entry.get("Egress") else "inbound"
                found.append(Block("network-acl", network.label(acl_id),
                                   f"{direction} rule {entry.get('RuleNumber')} allows all traffic "
                                   f"{'to' if entry.get('Egress') else 'from'} {entry.get('CidrBlock')}"))
    return found


def ingress_rules(network: Network, group_id: str) -> set[tuple[str, int, int, str]]:
    """A security group's inbound rules flattened to (protocol, from port, to port, source) tuples."""
    group = network.security_groups[group_id]
    rules: set[tuple[str, int, int, str]] = set()
    for perm in group.get("IpPermissions") or ():
        protocol = "all" if str(perm.get("IpProtocol")) in ALL_PROTOCOLS else str(perm.get("IpProtocol")).lower()
        protocol = "tcp" if protocol == "6" else protocol
        lo, hi = _ports(perm)
        for source in _source_ids(perm):
            rules.add((protocol, lo, hi, source))
    return rules


def describe_permission(perm: Mapping[str, Any]) -> str:
    """A security group permission's protocol and ports in words."""
    if str(perm.get("IpProtocol")) in ALL_PROTOCOLS:
        return "all traffic"
    lo, hi = _ports(perm)
    return f"{perm.get('IpProtocol')} {lo if lo == hi else f'{lo}-{hi}'}"


def _source_ids(perm: Mapping[str, Any]) -> list[str]:
    """The CIDR ranges and group ids a permission names."""
    return ([r["CidrIp"] for r in perm.get("IpRanges") or ()]
            + [r["CidrIpv6"] for r in perm.get("Ipv6Ranges") or ()]
            + [p["GroupId"] for p in perm.get("UserIdGroupPairs") or ()])


def _sources(perm: Mapping[str, Any]) -> str:
    """A permission's sources in words."""
    return ", ".join(_source_ids(perm)) or "nowhere"


def snapshot(ec2: Any, vpc_id: str) -> dict[str, Any]:
    """The describe_* output of one VPC, as plain data for `Network.from_describe`."""
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    data = {
        "Vpcs": ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"],
        "Subnets": ec2.describe_subnets(Filters=by_vpc)["Subnets"],
        "RouteTables": ec2.describe_route_tables(Filters=by_vpc)["RouteTables"],
        "NetworkAcls": ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"],
        "SecurityGroups": ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"],
        "InternetGateways": ec2.describe_internet_gateways()["InternetGateways"],
        "NatGateways": ec2.describe_nat_gateways(Filters=by_vpc)["NatGateways"],
    }
    return data


def load(ec2: Any, vpc_id: str) -> Network:
    """The Network of a VPC as an EC2 endpoint describes it now."""
    return Network.from_describe(snapshot(ec2, vpc_id))
