"""VPC networking: plan subnets, then find and fix what stops the lab's traffic (reference solution)."""
from __future__ import annotations

import ipaddress

import boto3

SMALLEST_SUBNET = 28
LARGEST_SUBNET = 16
RESERVED = 5
WEB_PORTS = (80, 443)
MYSQL = 3306
EPHEMERAL = (1024, 65535)


def plan_subnets(vpc_cidr: str, zones: list[str], public_count: int, public_prefix: int,
                 private_count: int, private_prefix: int) -> list[dict]:
    """Non-overlapping subnets inside the VPC: public ones first, then private, lowest addresses first."""
    vpc = ipaddress.ip_network(vpc_cidr)
    if not zones:
        raise ValueError("at least one availability zone is needed")
    if public_count < 0 or private_count < 0:
        raise ValueError("subnet counts cannot be negative")
    for tier, prefix in (("public", public_prefix), ("private", private_prefix)):
        if prefix > SMALLEST_SUBNET:
            raise ValueError(f"{tier} subnets of /{prefix} are too small: AWS subnets are /{SMALLEST_SUBNET} or larger")
        if prefix < max(vpc.prefixlen, LARGEST_SUBNET):
            raise ValueError(f"{tier} subnets of /{prefix} are larger than the VPC {vpc} "
                             f"(or than the /{LARGEST_SUBNET} AWS allows)")
    wanted = [("public", public_prefix)] * public_count + [("private", private_prefix)] * private_count
    plan = []
    cursor = int(vpc.network_address)
    counters = {"public": 0, "private": 0}
    for tier, prefix in wanted:
        size = 2 ** (32 - prefix)
        cursor = -(-cursor // size) * size
        if cursor + size - 1 > int(vpc.broadcast_address):
            raise ValueError(f"too many subnets: {public_count} x /{public_prefix} public and "
                             f"{private_count} x /{private_prefix} private do not fit in {vpc}")
        subnet = ipaddress.ip_network(f"{ipaddress.IPv4Address(cursor)}/{prefix}")
        index = counters[tier]
        counters[tier] += 1
        plan.append({"name": f"{tier}-{index + 1}", "tier": tier, "zone": zones[index % len(zones)],
                     "cidr": str(subnet), "usable": subnet.num_addresses - RESERVED})
        cursor += size
    return plan


def _tag(resource: dict, key: str) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), None)


def _table_of(tables: list[dict], subnet_id: str) -> dict:
    """The route table a subnet uses: its own association, else the main table."""
    for table in tables:
        if any(a.get("SubnetId") == subnet_id for a in table["Associations"]):
            return table
    return next(t for t in tables if any(a.get("Main") for a in t["Associations"]))


def _ensure_default_route(ec2, table: dict, target: dict, changes: list[str]) -> None:
    """Make 0.0.0.0/0 in the table point at the target (a GatewayId or NatGatewayId)."""
    [(key, value)] = target.items()
    route = next((r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None)
    if route is None:
        ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", **target)
        changes.append(f"{table['RouteTableId']}: added 0.0.0.0/0 -> {value}")
    elif route.get(key) != value or route.get("State") != "active":
        ec2.replace_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", **target)
        changes.append(f"{table['RouteTableId']}: 0.0.0.0/0 now goes to {value}")
    table["Routes"] = ec2.describe_route_tables(RouteTableIds=[table["RouteTableId"]])["RouteTables"][0]["Routes"]


def _acl_design(tier: str, vpc_cidr: str) -> list[tuple[int, bool, int, int, str]]:
    """The lab's ACL rules: (number, outbound, from port, to port, CIDR), all TCP allows."""
    if tier == "public":
        return [(100, False, 80, 80, "0.0.0.0/0"), (110, False, 443, 443, "0.0.0.0/0"),
                (120, False, *EPHEMERAL, "0.0.0.0/0"),
                (100, True, 80, 80, "0.0.0.0/0"), (110, True, 443, 443, "0.0.0.0/0"),
                (120, True, *EPHEMERAL, "0.0.0.0/0"), (130, True, MYSQL, MYSQL, vpc_cidr)]
    return [(100, False, MYSQL, MYSQL, vpc_cidr), (110, False, *EPHEMERAL, "0.0.0.0/0"),
            (100, True, 443, 443, "0.0.0.0/0"), (105, True, 80, 80, "0.0.0.0/0"),
            (120, True, *EPHEMERAL, vpc_cidr)]


def _ensure_acl(ec2, acl: dict, design: list[tuple[int, bool, int, int, str]], changes: list[str]) -> None:
    """Create or correct every rule of the design in the ACL."""
    for number, egress, low, high, cidr in design:
        wanted = {"Protocol": "6", "RuleAction": "allow", "CidrBlock": cidr, "PortRange": {"From": low, "To": high}}
        current = next((e for e in acl["Entries"] if e["RuleNumber"] == number and e["Egress"] == egress), None)
        if current is not None and all(current.get(k) == v for k, v in wanted.items()):
            continue
        call = ec2.create_network_acl_entry if current is None else ec2.replace_network_acl_entry
        call(NetworkAclId=acl["NetworkAclId"], RuleNumber=number, Egress=egress, **wanted)
        changes.append(f"{acl['NetworkAclId']}: {'outbound' if egress else 'inbound'} rule {number} "
                       f"allows tcp {low}-{high} {'to' if egress else 'from'} {cidr}")


def _flatten(permissions: list[dict]) -> set[tuple]:
    """Security group permissions as (protocol, from, to, 'cidr'|'group', source) tuples."""
    rules = set()
    for perm in permissions:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        rules |= {(*key, "cidr", r["CidrIp"]) for r in perm.get("IpRanges", [])}
        rules |= {(*key, "cidr6", r["CidrIpv6"]) for r in perm.get("Ipv6Ranges", [])}
        rules |= {(*key, "group", p["GroupId"]) for p in perm.get("UserIdGroupPairs", [])}
    return rules


def _permission(rule: tuple) -> dict:
    protocol, low, high, kind, source = rule
    perm = {"IpProtocol": protocol}
    if low is not None:
        perm.update(FromPort=low, ToPort=high)
    field, item = {"cidr": ("IpRanges", "CidrIp"), "cidr6": ("Ipv6Ranges", "CidrIpv6"),
                   "group": ("UserIdGroupPairs", "GroupId")}[kind]
    perm[field] = [{item: source}]
    return perm


def _ensure_ingress(ec2, group: dict, wanted: set[tuple], changes: list[str]) -> None:
    """Make the group's inbound rules exactly the wanted ones."""
    current = _flatten(group["IpPermissions"])
    for rule in sorted(current - wanted, key=str):
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[_permission(rule)])
        changes.append(f"{group['GroupName']}: removed inbound {rule}")
    for rule in sorted(wanted - current, key=str):
        ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[_permission(rule)])
        changes.append(f"{group['GroupName']}: added inbound {rule}")


def fix_connectivity(vpc_id: str) -> list[str]:
    """Bring the lab VPC back to its design with boto3; returns the changes made, in words."""
    ec2 = boto3.client("ec2")
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    vpc_cidr = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"]
    subnets = ec2.describe_subnets(Filters=by_vpc)["Subnets"]
    tiers = {tier: [s["SubnetId"] for s in subnets if _tag(s, "Tier") == tier] for tier in ("public", "private")}
    changes: list[str] = []

    igw = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    if not igw:
        raise RuntimeError(f"no internet gateway is attached to {vpc_id}")
    nats = [n for n in ec2.describe_nat_gateways(Filters=by_vpc)["NatGateways"] if n["State"] == "available"]
    if not nats:
        raise RuntimeError(f"no available NAT gateway in {vpc_id}")
    tables = ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]
    for subnet in tiers["public"]:
        _ensure_default_route(ec2, _table_of(tables, subnet), {"GatewayId": igw[0]["InternetGatewayId"]}, changes)
    for subnet in tiers["private"]:
        _ensure_default_route(ec2, _table_of(tables, subnet), {"NatGatewayId": nats[0]["NatGatewayId"]}, changes)

    acls = ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"]
    for tier, members in tiers.items():
        used = {a["NetworkAclId"]: a for a in acls for assoc in a["Associations"] if assoc["SubnetId"] in members}
        for acl in used.values():
            _ensure_acl(ec2, acl, _acl_design(tier, vpc_cidr), changes)

    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"]}
    alb, app = groups["lab-alb"]["GroupId"], groups["lab-app"]["GroupId"]
    design = {
        "lab-alb": {("tcp", port, port, "cidr", "0.0.0.0/0") for port in WEB_PORTS},
        "lab-app": {("tcp", port, port, "group", alb) for port in WEB_PORTS},
        "lab-db": {("tcp", MYSQL, MYSQL, "group", app)},
    }
    for name, wanted in design.items():
        _ensure_ingress(ec2, groups[name], wanted, changes)
    return changes
