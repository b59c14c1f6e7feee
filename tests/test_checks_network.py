"""The reachability evaluator on hand-built networks: a correct one, each fault alone, faults combined."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from grader.checks.network import (
    INTERNET,
    Block,
    Endpoint,
    Network,
    all_traffic_rules,
    aws_rule_problems,
    ingress_rules,
    reach,
    world_open_rules,
)

VPC = "vpc-1"


def _tags(name: str) -> list[dict[str, str]]:
    return [{"Key": "Name", "Value": name}]


def _acl_entry(number: int, egress: bool, cidr: str, ports: tuple[int, int] | None, action: str = "allow") -> dict[str, Any]:
    entry: dict[str, Any] = {"RuleNumber": number, "Egress": egress, "CidrBlock": cidr, "RuleAction": action,
                             "Protocol": "6" if ports else "-1"}
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    return entry


def _sg(group_id: str, name: str, ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return {"GroupId": group_id, "GroupName": name, "VpcId": VPC, "IpPermissions": ingress,
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "UserIdGroupPairs": []}]}


def _tcp(port: int, cidr: str | None = None, group: str | None = None) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "IpRanges": [{"CidrIp": cidr}] if cidr else [],
            "UserIdGroupPairs": [{"GroupId": group}] if group else []}


def course_network() -> dict[str, Any]:
    """The course's working design, written out as EC2 describes it."""
    subnets = [("subnet-pa", "public-a", "10.0.0.0/24"), ("subnet-pb", "public-b", "10.0.1.0/24"),
               ("subnet-qa", "private-a", "10.0.2.0/24"), ("subnet-qb", "private-b", "10.0.3.0/24")]
    public_acl = [
        _acl_entry(100, False, "0.0.0.0/0", (80, 80)), _acl_entry(110, False, "0.0.0.0/0", (443, 443)),
        _acl_entry(120, False, "0.0.0.0/0", (1024, 65535)),
        _acl_entry(100, True, "0.0.0.0/0", (80, 80)), _acl_entry(110, True, "0.0.0.0/0", (443, 443)),
        _acl_entry(120, True, "0.0.0.0/0", (1024, 65535)), _acl_entry(130, True, "10.0.0.0/16", (3306, 3306)),
        _acl_entry(32767, False, "0.0.0.0/0", None, "deny"), _acl_entry(32767, True, "0.0.0.0/0", None, "deny"),
    ]
    private_acl = [
        _acl_entry(100, False, "10.0.0.0/16", (3306, 3306)), _acl_entry(110, False, "0.0.0.0/0", (1024, 65535)),
        _acl_entry(100, True, "0.0.0.0/0", (443, 443)), _acl_entry(105, True, "0.0.0.0/0", (80, 80)),
        _acl_entry(120, True, "10.0.0.0/16", (1024, 65535)),
        _acl_entry(32767, False, "0.0.0.0/0", None, "deny"), _acl_entry(32767, True, "0.0.0.0/0", None, "deny"),
    ]
    local = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}
    return {
        "Vpcs": [{"VpcId": VPC, "CidrBlock": "10.0.0.0/16"}],
        "Subnets": [{"SubnetId": i, "VpcId": VPC, "CidrBlock": c, "Tags": _tags(n)} for i, n, c in subnets],
        "InternetGateways": [{"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": VPC, "State": "available"}],
                              "Tags": _tags("lab-igw")}],
        "NatGateways": [{"NatGatewayId": "nat-1", "VpcId": VPC, "SubnetId": "subnet-pa", "State": "available",
                         "NatGatewayAddresses": [{"PrivateIp": "10.0.0.5", "PublicIp": "198.51.100.5"}]}],
        "RouteTables": [
            {"RouteTableId": "rtb-main", "VpcId": VPC, "Routes": [local], "Associations": [{"Main": True}]},
            {"RouteTableId": "rtb-public", "VpcId": VPC, "Tags": _tags("public-rt"),
             "Routes": [local, {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}],
             "Associations": [{"SubnetId": "subnet-pa"}, {"SubnetId": "subnet-pb"}]},
            {"RouteTableId": "rtb-private-a", "VpcId": VPC, "Tags": _tags("private-rt-a"),
             "Routes": [local, {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}],
             "Associations": [{"SubnetId": "subnet-qa"}]},
            {"RouteTableId": "rtb-private-b", "VpcId": VPC, "Tags": _tags("private-rt-b"),
             "Routes": [local, {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}],
             "Associations": [{"SubnetId": "subnet-qb"}]},
        ],
        "NetworkAcls": [
            {"NetworkAclId": "acl-default", "VpcId": VPC, "IsDefault": True, "Associations": [],
             "Entries": [_acl_entry(100, False, "0.0.0.0/0", None), _acl_entry(100, True, "0.0.0.0/0", None)]},
            {"NetworkAclId": "acl-public", "VpcId": VPC, "IsDefault": False, "Tags": _tags("public-acl"),
             "Associations": [{"SubnetId": "subnet-pa"}, {"SubnetId": "subnet-pb"}], "Entries": public_acl},
            {"NetworkAclId": "acl-private", "VpcId": VPC, "IsDefault": False, "Tags": _tags("private-acl"),
             "Associations": [{"SubnetId": "subnet-qa"}, {"SubnetId": "subnet-qb"}], "Entries": private_acl},
        ],
        "SecurityGroups": [
            _sg("sg-alb", "lab-alb", [_tcp(80, cidr="0.0.0.0/0"), _tcp(443, cidr="0.0.0.0/0")]),
            _sg("sg-app", "lab-app", [_tcp(80, group="sg-alb"), _tcp(443, group="sg-alb")]),
            _sg("sg-db", "lab-db", [_tcp(3306, group="sg-app")]),
        ],
    }


ALB_A = Endpoint("alb (zone a)", "10.0.0.10", "subnet-pa", ("sg-alb",), public_ip="198.51.100.10")
ALB_B = Endpoint("alb (zone b)", "10.0.1.10", "subnet-pb", ("sg-alb",), public_ip="198.51.100.11")
APP = Endpoint("app", "10.0.0.20", "subnet-pa", ("sg-app",), public_ip="198.51.100.20")
DB = Endpoint("db", "10.0.2.30", "subnet-qa", ("sg-db",))
HOST_B = Endpoint("private-b host", "10.0.3.40", "subnet-qb", ("sg-db",))

INTENDED = [(INTERNET, ALB_A, 443), (INTERNET, ALB_B, 80), (ALB_A, APP, 80), (ALB_B, APP, 80),
            (APP, DB, 3306), (DB, INTERNET, 443), (HOST_B, INTERNET, 443)]
FORBIDDEN = [(INTERNET, DB, 3306), (INTERNET, APP, 80), (INTERNET, APP, 22), (ALB_A, DB, 3306)]


def _route_table(data: dict[str, Any], table_id: str) -> dict[str, Any]:
    return next(t for t in data["RouteTables"] if t["RouteTableId"] == table_id)


def _acl(data: dict[str, Any], acl_id: str) -> dict[str, Any]:
    return next(a for a in data["NetworkAcls"] if a["NetworkAclId"] == acl_id)


def _group(data: dict[str, Any], group_id: str) -> dict[str, Any]:
    return next(g for g in data["SecurityGroups"] if g["GroupId"] == group_id)


def _verdicts(data: dict[str, Any], paths: list[tuple[Endpoint, Endpoint, int]]) -> dict[str, list[Block]]:
    network = Network.from_describe(data)
    return {v.path: list(v.blocks) for v in (reach(network, s, d, p) for s, d, p in paths)}


def _blocked(data: dict[str, Any]) -> dict[str, list[Block]]:
    """The intended paths that are blocked, with their blocks."""
    return {path: blocks for path, blocks in _verdicts(data, INTENDED).items() if blocks}


def test_correct_network_reaches_every_intended_path() -> None:
    network = Network.from_describe(course_network())
    for source, destination, port in INTENDED:
        verdict = reach(network, source, destination, port)
        assert verdict.reachable, verdict.explain()
    assert reach(network, HOST_B, INTERNET, 443).hops == (
        "private-b host", "subnet-qb (private-b)", "nat-1", "igw-1 (lab-igw)", "the internet:443")


def test_correct_network_blocks_every_forbidden_path_by_the_right_setting() -> None:
    verdicts = _verdicts(course_network(), FORBIDDEN)
    # the inbound ephemeral rule (1024-65535) admits 3306, so only the reply direction of the ACL blocks
    assert [b.kind for b in verdicts["the internet -> db:3306"]] == ["address", "route", "network-acl",
                                                                     "security-group"]
    assert verdicts["the internet -> db:3306"][2].reason.startswith("outbound reply to 203.0.113.10")
    assert [b.resource for b in verdicts["the internet -> app:80"]] == ["sg-app (lab-app)"]
    assert [b.resource for b in verdicts["the internet -> app:22"]] == ["acl-public (public-acl)", "sg-app (lab-app)"]
    assert "inbound tcp 22 from the internet" in str(verdicts["the internet -> app:22"][1])
    assert [b.resource for b in verdicts["alb (zone a) -> db:3306"]] == ["sg-db (lab-db)"]


def test_missing_default_route_cuts_the_public_subnets_off() -> None:
    data = course_network()
    _route_table(data, "rtb-public")["Routes"].pop()
    blocked = _blocked(data)
    assert set(blocked) == {"the internet -> alb (zone a):443", "the internet -> alb (zone b):80",
                            "db -> the internet:443", "private-b host -> the internet:443"}
    [block] = blocked["the internet -> alb (zone a):443"]
    assert block.resource == "rtb-public (public-rt)"
    assert "no route matches 203.0.113.10 (replies to the internet)" in block.reason
    [nat_block] = blocked["db -> the internet:443"]
    assert "the NAT gateway's traffic" in nat_block.reason


def test_database_group_allowing_the_wrong_source_blocks_the_app_and_opens_the_alb() -> None:
    data = course_network()
    _group(data, "sg-db")["IpPermissions"] = [_tcp(3306, group="sg-alb")]
    assert set(_blocked(data)) == {"app -> db:3306"}
    [block] = _blocked(data)["app -> db:3306"]
    assert str(block) == ("security-group sg-db (lab-db): no rule allows inbound tcp 3306 from app "
                          "(10.0.0.20 or its groups)")
    assert _verdicts(data, [(ALB_A, DB, 3306)])["alb (zone a) -> db:3306"] == []
    network = Network.from_describe(data)
    assert network.sg_allowing(DB.security_groups, False, ALB_A, 3306) == [
        "sg-db (lab-db) inbound tcp 3306 from sg-alb (lab-alb)"]
    assert network.sg_allowing(DB.security_groups, False, APP, 3306) == []


def test_acl_without_the_ephemeral_return_rule_blocks_replies() -> None:
    data = course_network()
    entries = _acl(data, "acl-private")["Entries"]
    entries.remove(next(e for e in entries if e["Egress"] and e["RuleNumber"] == 120))
    assert set(_blocked(data)) == {"app -> db:3306"}
    [block] = _blocked(data)["app -> db:3306"]
    assert block.resource == "acl-private (private-acl)"
    assert block.reason == ("outbound reply to 10.0.0.20, tcp 1024-65535: no rule allows it, "
                            "so the default rule * denies it")


def test_acl_deny_rule_is_named_with_its_number_and_partial_ranges() -> None:
    data = course_network()
    entries = _acl(data, "acl-public")["Entries"]
    entries.append(_acl_entry(90, True, "0.0.0.0/0", (1024, 2047), "deny"))
    blocks = _blocked(data)["the internet -> alb (zone a):443"]
    assert [b.reason for b in blocks] == ["outbound reply to 203.0.113.10, tcp 1024-2047: rule 90 denies it"]


def test_private_subnet_routed_nowhere() -> None:
    data = course_network()
    table = _route_table(data, "rtb-private-b")
    table["Routes"] = [r for r in table["Routes"] if r["DestinationCidrBlock"] != "0.0.0.0/0"]
    assert set(_blocked(data)) == {"private-b host -> the internet:443"}
    [block] = _blocked(data)["private-b host -> the internet:443"]
    assert block.resource == "rtb-private-b (private-rt-b)"
    assert "routed nowhere" in block.reason


def test_database_open_to_the_world_is_exposed_but_still_unreachable_without_a_public_ip() -> None:
    data = course_network()
    _group(data, "sg-db")["IpPermissions"].append(_tcp(3306, cidr="0.0.0.0/0"))
    network = Network.from_describe(data)
    assert _blocked(data) == {}
    assert [str(b) for b in world_open_rules(network, "sg-db")] == [
        "security-group sg-db (lab-db): allows tcp 3306 from 0.0.0.0/0 (the whole internet)"]
    assert world_open_rules(network, "sg-app") == []
    blocks = reach(network, INTERNET, DB, 3306).blocks
    assert "security-group" not in [b.kind for b in blocks]
    assert "address" in [b.kind for b in blocks]
    assert ("tcp", 3306, 3306, "0.0.0.0/0") in ingress_rules(network, "sg-db")


def test_combined_faults_list_every_blocking_setting_not_only_the_first() -> None:
    data = course_network()
    _route_table(data, "rtb-public")["Routes"].pop()
    entries = _acl(data, "acl-public")["Entries"]
    entries.remove(next(e for e in entries if e["Egress"] and e["RuleNumber"] == 120))
    _group(data, "sg-alb")["IpPermissions"] = [_tcp(80, cidr="0.0.0.0/0")]
    blocks = _blocked(data)["the internet -> alb (zone a):443"]
    assert [b.kind for b in blocks] == ["route", "network-acl", "security-group"]
    assert [b.resource for b in blocks] == ["rtb-public (public-rt)", "acl-public (public-acl)", "sg-alb (lab-alb)"]
    # the same reply rule carried the app's answers to the ALB in the other zone, and the NAT's to the private subnets
    assert set(_blocked(data)) == {"the internet -> alb (zone a):443", "the internet -> alb (zone b):80",
                                   "alb (zone b) -> app:80", "db -> the internet:443",
                                   "private-b host -> the internet:443"}


def test_longest_prefix_wins_over_the_default_route() -> None:
    data = course_network()
    _route_table(data, "rtb-public")["Routes"].append(
        {"DestinationCidrBlock": "203.0.113.0/24", "GatewayId": "igw-gone", "State": "blackhole"})
    [block] = _blocked(data)["the internet -> alb (zone a):443"]
    assert "the route 203.0.113.0/24 used for replies to the internet cannot forward: the route is a blackhole" in block.reason
    other = Endpoint("someone else", "198.51.100.99")
    assert reach(Network.from_describe(data), other, ALB_A, 443).reachable


def test_detached_internet_gateway_blocks_and_is_reported() -> None:
    data = course_network()
    data["InternetGateways"][0]["Attachments"] = []
    network = Network.from_describe(data)
    blocks = reach(network, INTERNET, ALB_A, 443).blocks
    assert [b.kind for b in blocks] == ["gateway", "route"]
    assert "not attached to vpc-1" in blocks[1].reason
    assert [str(b) for b in aws_rule_problems(network)] == [
        "route rtb-public (public-rt): route 0.0.0.0/0: its target igw-1 (lab-igw) is not attached to vpc-1"]


def test_instance_with_a_public_route_but_no_public_ip_cannot_use_the_internet_gateway() -> None:
    data = course_network()
    _route_table(data, "rtb-private-a")["Routes"][1] = {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1",
                                                       "State": "active"}
    [block] = _blocked(data)["db -> the internet:443"]
    assert block.kind == "address" and "NAT gateway" in block.reason


def test_aws_rules_moto_does_not_enforce() -> None:
    data = course_network()
    data["Subnets"].append({"SubnetId": "subnet-tiny", "VpcId": VPC, "CidrBlock": "10.0.9.0/29"})
    _acl(data, "acl-public")["Entries"] += [_acl_entry(0, False, "0.0.0.0/0", (22, 22)),
                                           _acl_entry(40000, False, "0.0.0.0/0", (22, 22))]
    _route_table(data, "rtb-main")["Routes"].append({"DestinationCidrBlock": "192.0.2.0/24", "State": "active"})
    problems = [str(p) for p in aws_rule_problems(Network.from_describe(data))]
    assert problems == [
        "subnet subnet-tiny: 10.0.9.0/29 is a /29; AWS subnets must be between /16 and /28",
        "network-acl acl-public (public-acl): inbound rule number 0 is outside 1..32766; AWS refuses it, so it is ignored here",
        "network-acl acl-public (public-acl): inbound rule number 40000 is outside 1..32766; AWS refuses it, so it is ignored here",
        "route rtb-main: route 192.0.2.0/24: the route has no target",
    ]
    # the refused rules do not open port 22
    assert not reach(Network.from_describe(data), INTERNET, ALB_A, 22).reachable
    assert aws_rule_problems(Network.from_describe(course_network())) == []


def test_same_subnet_traffic_crosses_no_acl() -> None:
    data = course_network()
    _acl(data, "acl-public")["Entries"] = []
    network = Network.from_describe(data)
    assert reach(network, ALB_A, APP, 80).reachable
    blocks = reach(network, ALB_B, APP, 80).blocks
    assert len(blocks) == 4 and {b.kind for b in blocks} == {"network-acl"}


def test_subnet_without_explicit_association_uses_the_main_table_and_default_acl() -> None:
    data = course_network()
    _route_table(data, "rtb-private-b")["Associations"] = []
    _acl(data, "acl-private")["Associations"] = [{"SubnetId": "subnet-qa"}]
    network = Network.from_describe(data)
    assert network.route_table_of("subnet-qb")["RouteTableId"] == "rtb-main"  # type: ignore[index]
    assert network.network_acl_of("subnet-qb")["NetworkAclId"] == "acl-default"  # type: ignore[index]
    assert "routed nowhere" in reach(network, HOST_B, INTERNET, 443).blocks[0].reason


def test_all_traffic_rules_are_found_in_groups_and_used_acls_only() -> None:
    data = course_network()
    network = Network.from_describe(data)
    assert all_traffic_rules(network) == []  # the default ACL allows everything but no subnet uses it
    _group(data, "sg-app")["IpPermissions"].append({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]})
    _acl(data, "acl-private")["Entries"].append(_acl_entry(50, False, "0.0.0.0/0", None))
    found = [str(b) for b in all_traffic_rules(Network.from_describe(data))]
    assert found == ["security-group sg-app (lab-app): inbound rule allows all traffic from 10.0.0.0/16",
                     "network-acl acl-private (private-acl): inbound rule 50 allows all traffic from 0.0.0.0/0"]


def test_from_describe_needs_exactly_one_vpc() -> None:
    data = copy.deepcopy(course_network())
    data["Vpcs"].append({"VpcId": "vpc-2", "CidrBlock": "10.1.0.0/16"})
    with pytest.raises(ValueError, match="exactly one VPC"):
        Network.from_describe(data)
