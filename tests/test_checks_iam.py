"""The policy evaluator against the answers AWS's IAM User Guide gives."""
from __future__ import annotations

import json
from typing import Any

import pytest

from grader.checks.iam import (
    Decision,
    PolicyError,
    Request,
    evaluate,
    load_json,
    parse_policy,
    policy_from_document,
)

ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
BUCKET = "arn:aws:s3:::example-bucket"
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/Books"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# (id, policy, action, resource, context, expected, why: the rule in AWS's documentation)
CASES: list[tuple[str, dict[str, Any], str, str, dict[str, Any], Decision, str]] = [
    ("empty-policy", doc(), "s3:GetObject", f"{BUCKET}/a", {}, IMPLICIT,
     "Policy evaluation logic: by default every request is implicitly denied"),
    ("plain-allow", doc(allow("s3:GetObject", f"{BUCKET}/*")), "s3:GetObject", f"{BUCKET}/a/b.csv", {}, ALLOW,
     "an Allow whose Action, Resource and Condition all match allows the request"),
    ("other-action", doc(allow("s3:GetObject", f"{BUCKET}/*")), "s3:PutObject", f"{BUCKET}/a", {}, IMPLICIT,
     "Action lists the actions a statement covers; any other action is not allowed"),
    ("deny-overrides-allow",
     doc(allow("s3:*", "*"), deny("s3:DeleteObject", f"{BUCKET}/*")), "s3:DeleteObject", f"{BUCKET}/x", {}, EXPLICIT,
     "Policy evaluation logic: an explicit Deny in any policy overrides any Allow"),
    ("deny-order-irrelevant",
     doc(deny("s3:DeleteObject", f"{BUCKET}/*"), allow("s3:*", "*")), "s3:DeleteObject", f"{BUCKET}/x", {}, EXPLICIT,
     "statements are not ordered: the Deny wins wherever it is written"),
    ("deny-elsewhere-allows",
     doc(allow("s3:*", "*"), deny("s3:DeleteObject", f"{BUCKET}/*")), "s3:GetObject", f"{BUCKET}/x", {}, ALLOW,
     "a Deny that does not match the request has no effect"),
    ("action-case-insensitive", doc(allow("S3:getobject", f"{BUCKET}/*")), "s3:GetObject", f"{BUCKET}/k", {}, ALLOW,
     "Action element: action names and service prefixes are case-insensitive"),
    ("resource-case-sensitive", doc(allow("s3:GetObject", "arn:aws:s3:::Example-Bucket/*")),
     "s3:GetObject", f"{BUCKET}/k", {}, IMPLICIT,
     "Resource element: ARNs are case-sensitive"),
    ("action-star-prefix", doc(allow("s3:Get*", f"{BUCKET}/*")), "s3:GetObjectTagging", f"{BUCKET}/k", {}, ALLOW,
     "Action element: * matches any run of characters in the action name"),
    ("action-star-not-other-service", doc(allow("s3:*", "*")), "dynamodb:GetItem", TABLE, {}, IMPLICIT,
     "s3:* covers only actions of the s3 service prefix"),
    ("question-mark-one-char", doc(allow("s3:GetObject", f"{BUCKET}/report-?.csv")),
     "s3:GetObject", f"{BUCKET}/report-7.csv", {}, ALLOW,
     "Resource element: ? matches exactly one character"),
    ("question-mark-not-two", doc(allow("s3:GetObject", f"{BUCKET}/report-?.csv")),
     "s3:GetObject", f"{BUCKET}/report-17.csv", {}, IMPLICIT,
     "? matches one character, never two"),
    ("question-mark-in-action", doc(allow("dynamodb:?etItem", TABLE)), "dynamodb:GetItem", TABLE, {}, ALLOW,
     "Action element: ? is a single-character wildcard in actions too"),
    ("star-crosses-slash", doc(allow("s3:GetObject", f"{BUCKET}/*")), "s3:GetObject", f"{BUCKET}/a/b/c/d.json", {}, ALLOW,
     "a * in a resource ARN matches across / (S3 keys at any depth)"),
    ("bucket-star-matches-other-buckets", doc(allow("s3:GetObject", f"{BUCKET}*")),
     "s3:GetObject", "arn:aws:s3:::example-bucket-archive/x", {}, ALLOW,
     "arn:aws:s3:::name* also matches every bucket whose name starts with name"),
    ("object-arn-is-not-bucket", doc(allow("s3:ListBucket", f"{BUCKET}/*")), "s3:ListBucket", BUCKET, {}, IMPLICIT,
     "ListBucket is a request on the bucket ARN; an object ARN pattern never matches it"),
    ("region-in-arn", doc(allow("dynamodb:GetItem", TABLE)), "dynamodb:GetItem",
     "arn:aws:dynamodb:us-west-2:111122223333:table/Books", {}, IMPLICIT,
     "the Region is part of the ARN; another Region is another resource"),
    ("not-action-allow", doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
     "s3:GetObject", f"{BUCKET}/k", {}, ALLOW,
     "NotAction with Allow allows every action except those listed"),
    ("not-action-excluded", doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
     "iam:CreateUser", "arn:aws:iam::111122223333:user/bob", {}, IMPLICIT,
     "the actions listed in NotAction are not allowed by that statement"),
    ("not-resource-allow", doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/secret/*"}),
     "s3:GetObject", f"{BUCKET}/public/a", {}, ALLOW,
     "NotResource matches every resource except those listed"),
    ("not-resource-excluded", doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/secret/*"}),
     "s3:GetObject", f"{BUCKET}/secret/a", {}, IMPLICIT,
     "a resource listed in NotResource is outside the statement"),
    ("deny-not-resource", doc(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": [BUCKET, f"{BUCKET}/*"]}),
     "s3:GetObject", "arn:aws:s3:::other/k", {}, EXPLICIT,
     "Deny with NotResource denies everything outside the listed resources"),
    ("single-statement-object", {"Version": "2012-10-17", "Statement": allow("s3:GetObject", f"{BUCKET}/*")},
     "s3:GetObject", f"{BUCKET}/k", {}, ALLOW,
     "Statement may be a single object instead of a list"),
    # Conditions
    ("string-equals", doc(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"s3:prefix": "home/"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/"}, ALLOW,
     "StringEquals: exact, case-sensitive match"),
    ("string-equals-case", doc(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"s3:prefix": "home/"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "HOME/"}, IMPLICIT,
     "StringEquals is case-sensitive"),
    ("string-equals-ignore-case",
     doc(allow("s3:ListBucket", BUCKET, Condition={"StringEqualsIgnoreCase": {"s3:prefix": "home/"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "HOME/"}, ALLOW,
     "StringEqualsIgnoreCase ignores case"),
    ("condition-key-case-insensitive",
     doc(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"S3:Prefix": "home/"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/"}, ALLOW,
     "Condition element: condition key names are not case-sensitive"),
    ("values-ored", doc(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"s3:prefix": ["a/", "b/"]}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "b/"}, ALLOW,
     "several values for one key are evaluated with a logical OR"),
    ("keys-anded",
     doc(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"s3:prefix": "a/", "aws:RequestedRegion": "us-east-1"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "a/", "aws:RequestedRegion": "eu-west-1"}, IMPLICIT,
     "several keys, and several operators, are evaluated with a logical AND"),
    ("string-like", doc(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "home/*"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/alice/"}, ALLOW,
     "StringLike: * and ? wildcards, case-sensitive"),
    ("string-equals-no-wildcards", doc(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"s3:prefix": "home/*"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/alice/"}, IMPLICIT,
     "StringEquals does not expand wildcards"),
    ("missing-key-false", doc(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "*"}})),
     "s3:ListBucket", BUCKET, {}, IMPLICIT,
     "Condition operators: a key absent from the request context makes the condition false"),
    ("missing-key-negated-true",
     doc(allow("s3:ListBucket", BUCKET, Condition={"StringNotLike": {"s3:prefix": "private/*"}})),
     "s3:ListBucket", BUCKET, {}, ALLOW,
     "for a negated operator such as StringNotLike an absent key makes the condition true"),
    ("string-not-equals-any-value",
     doc(allow("s3:ListBucket", BUCKET, Condition={"StringNotEquals": {"s3:prefix": ["a/", "b/"]}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "b/"}, IMPLICIT,
     "a negated operator is true only if the value matches none of the listed values"),
    ("if-exists-missing", doc(allow("ec2:RunInstances", "*", Condition={"StringLikeIfExists": {"ec2:InstanceType": "t3.*"}})),
     "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:volume/vol-1", {}, ALLOW,
     "...IfExists: when the key is absent the condition is true"),
    ("if-exists-present", doc(allow("ec2:RunInstances", "*", Condition={"StringLikeIfExists": {"ec2:InstanceType": "t3.*"}})),
     "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:instance/*", {"ec2:InstanceType": "m5.large"}, IMPLICIT,
     "...IfExists: when the key is present it is compared as usual"),
    ("bool-secure-transport", doc(deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}), allow("s3:*", "*")),
     "s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": False}, EXPLICIT,
     "Bool compares true/false; the classic deny of requests without TLS"),
    ("bool-secure-transport-ok", doc(deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}), allow("s3:*", "*")),
     "s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "true"}, ALLOW,
     "the Deny's condition does not hold over TLS, so the Allow decides"),
    ("null-true-absent", doc(allow("s3:GetObject", "*", Condition={"Null": {"aws:TokenIssueTime": "true"}})),
     "s3:GetObject", f"{BUCKET}/k", {}, ALLOW,
     "Null true: the condition holds when the key is absent"),
    ("null-false-absent", doc(allow("s3:GetObject", "*", Condition={"Null": {"aws:TokenIssueTime": "false"}})),
     "s3:GetObject", f"{BUCKET}/k", {}, IMPLICIT,
     "Null false: the key must be present"),
    ("ip-address-in", doc(allow("s3:*", "*", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
     "s3:GetObject", f"{BUCKET}/k", {"aws:SourceIp": "203.0.113.9"}, ALLOW,
     "IpAddress: the source address lies in the CIDR block"),
    ("ip-address-out", doc(allow("s3:*", "*", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
     "s3:GetObject", f"{BUCKET}/k", {"aws:SourceIp": "198.51.100.4"}, IMPLICIT,
     "IpAddress: an address outside the block does not match"),
    ("not-ip-address-ipv6", doc(deny("s3:*", "*", Condition={"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}), allow("s3:*", "*")),
     "s3:GetObject", f"{BUCKET}/k", {"aws:SourceIp": "2001:db8::7"}, ALLOW,
     "NotIpAddress with IPv4 and IPv6 blocks; an address in one of them is not denied"),
    ("numeric-less-than", doc(allow("s3:ListBucket", BUCKET, Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})),
     "s3:ListBucket", BUCKET, {"s3:max-keys": 10}, ALLOW,
     "NumericLessThanEquals compares numbers"),
    ("numeric-greater", doc(allow("s3:ListBucket", BUCKET, Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})),
     "s3:ListBucket", BUCKET, {"s3:max-keys": "100"}, IMPLICIT,
     "100 is not <= 10 (numbers, not strings)"),
    ("date-less-than", doc(allow("s3:*", "*", Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
     "s3:GetObject", f"{BUCKET}/k", {"aws:CurrentTime": "2026-05-01T12:00:00Z"}, ALLOW,
     "DateLessThan compares ISO 8601 dates"),
    ("date-epoch", doc(allow("s3:*", "*", Condition={"DateGreaterThan": {"aws:EpochTime": "2030-01-01T00:00:00Z"}})),
     "s3:GetObject", f"{BUCKET}/k", {"aws:EpochTime": 1777636800}, IMPLICIT,
     "Date operators accept epoch seconds in the request; 2026 is not after 2030"),
    ("arn-like", doc(allow("sqs:SendMessage", "*", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:orders-*"}})),
     "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q", {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:orders-new"}, ALLOW,
     "ArnLike matches each of the six ARN parts with wildcards"),
    ("arn-not-like", doc(allow("sqs:SendMessage", "*", Condition={"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}})),
     "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q", {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:x"}, IMPLICIT,
     "ArnNotLike is false when the ARN matches"),
    ("for-any-value", doc(allow("dynamodb:GetItem", TABLE, Condition={"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["id", "title"]}})),
     "dynamodb:GetItem", TABLE, {"dynamodb:Attributes": ["price", "title"]}, ALLOW,
     "ForAnyValue: true if at least one request value matches one policy value"),
    ("for-any-value-missing", doc(allow("dynamodb:GetItem", TABLE, Condition={"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["id"]}})),
     "dynamodb:GetItem", TABLE, {}, IMPLICIT,
     "ForAnyValue: false when the key is absent"),
    ("for-all-values", doc(allow("dynamodb:GetItem", TABLE, Condition={"ForAllValues:StringEquals": {"dynamodb:Attributes": ["id", "title"]}})),
     "dynamodb:GetItem", TABLE, {"dynamodb:Attributes": ["id", "price"]}, IMPLICIT,
     "ForAllValues: every request value must match a policy value; price does not"),
    ("for-all-values-subset", doc(allow("dynamodb:GetItem", TABLE, Condition={"ForAllValues:StringEquals": {"dynamodb:Attributes": ["id", "title"]}})),
     "dynamodb:GetItem", TABLE, {"dynamodb:Attributes": ["title"]}, ALLOW,
     "ForAllValues: a subset of the policy values matches"),
    ("for-all-values-missing", doc(allow("dynamodb:GetItem", TABLE, Condition={"ForAllValues:StringEquals": {"dynamodb:Attributes": ["id"]}})),
     "dynamodb:GetItem", TABLE, {}, ALLOW,
     "ForAllValues: true when the key is absent (an empty set), hence usually paired with Null"),
    ("for-all-values-not-equals", doc(allow("dynamodb:GetItem", TABLE, Condition={"ForAllValues:StringNotEquals": {"aws:TagKeys": ["owner"]}})),
     "dynamodb:GetItem", TABLE, {"aws:TagKeys": ["env", "owner"]}, IMPLICIT,
     "ForAllValues with a negated operator: every request value must differ from all policy values"),
    # Policy variables
    ("variable-resource", doc(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/*")),
     "s3:GetObject", f"{BUCKET}/home/alice/notes.txt", {"aws:username": "alice"}, ALLOW,
     "Policy variables: ${aws:username} is replaced by the request's value"),
    ("variable-resource-other-user", doc(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/*")),
     "s3:GetObject", f"{BUCKET}/home/bob/notes.txt", {"aws:username": "alice"}, IMPLICIT,
     "the variable resolves to alice, so bob's folder does not match"),
    ("variable-unresolved", doc(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/*")),
     "s3:GetObject", f"{BUCKET}/home/alice/notes.txt", {}, IMPLICIT,
     "a variable the request cannot resolve matches nothing"),
    ("variable-default", doc(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username, 'guest'}}/*")),
     "s3:GetObject", f"{BUCKET}/home/guest/a", {}, ALLOW,
     "Specifying default values: ${key, 'default'} uses the default when the key is absent"),
    ("variable-literal-star", doc(allow("s3:GetObject", f"{BUCKET}/odd${{*}}name")),
     "s3:GetObject", f"{BUCKET}/oddXname", {}, IMPLICIT,
     "${*} is a literal asterisk, not a wildcard"),
    ("variable-in-condition", doc(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}})),
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/alice/2024/", "aws:username": "alice"}, ALLOW,
     "policy variables work inside String condition values"),
]


@pytest.mark.parametrize(
    ("policy", "action", "resource", "context", "expected", "why"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decision_matches_aws_documentation(policy: dict[str, Any], action: str, resource: str,
                                            context: dict[str, Any], expected: Decision, why: str) -> None:
    got = evaluate(policy_from_document(policy), Request(action, resource, context))
    assert got.decision is expected, why


def test_evaluation_names_deciding_statement_and_patterns() -> None:
    policy = parse_policy(json.dumps(doc(
        {"Sid": "Read", **allow(["s3:List*", "s3:GetObject"], [BUCKET, f"{BUCKET}/*"])},
        {"Sid": "NoDeletes", **deny("s3:Delete*", "*")},
    )))
    read = evaluate(policy, Request("s3:GetObject", f"{BUCKET}/a"))
    assert (read.statement.label, read.action_pattern, read.resource_pattern) == (
        'statement 1 (Sid "Read")', "s3:GetObject", f"{BUCKET}/*")
    delete = evaluate(policy, Request("s3:DeleteObject", f"{BUCKET}/a"))
    assert delete.decision is EXPLICIT and delete.statement.sid == "NoDeletes"


def test_several_policies_deny_in_one_overrides_allow_in_other() -> None:
    grants = policy_from_document(doc(allow("s3:*", "*")))
    guard = policy_from_document(doc(deny("s3:PutBucketPolicy", "*")))
    assert evaluate([grants, guard], Request("s3:PutBucketPolicy", BUCKET)).decision is EXPLICIT
    assert evaluate([grants, guard], Request("s3:GetObject", f"{BUCKET}/k")).decision is ALLOW


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"Version": "2012-10-17", "Statement": [}', "line 1, column 41"),
    ('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",}\n  ]\n}', "line 4, column 24: a comma before } or ] has nothing after it"),
    ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', 'the key "Version" appears twice'),
])
def test_invalid_json_names_line_and_column(text: str, fragment: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_json(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("statement", "fragment"), [
    ({"Effect": "Alow", "Action": "s3:GetObject", "Resource": "*"}, '"Effect" must be "Allow" or "Deny", not "Alow"'),
    ({"Effect": "Allow", "Actions": "s3:GetObject", "Resource": "*"}, 'unknown key "Actions" (did you mean "Action"?)'),
    ({"Effect": "Allow", "Action": "s3:GetObject"}, '"Resource" is missing'),
    ({"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:Put*", "Resource": "*"}, 'either "Action" or "NotAction"'),
    ({"Effect": "Allow", "Action": "GetObject", "Resource": "*"}, '"GetObject" is not an action'),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "de-c2w1-raw/*"}, '"de-c2w1-raw/*" is not an ARN'),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"}, "an identity policy has no Principal"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEqual": {"s3:prefix": "a"}}},
     'unknown condition operator "StringEqual" (did you mean "StringEquals"?)'),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NullIfExists": {"aws:x": "true"}}},
     'unknown condition operator "NullIfExists"'),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}},
     'expects a number, not "ten"'),
    ({"Effect": "Allow", "Action": [], "Resource": "*"}, "Action is an empty list"),
    ({"Sid": "read raw", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, "a Sid may hold only letters"),
])
def test_malformed_statement_is_named(statement: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PolicyError) as info:
        policy_from_document(doc(statement))
    assert any(fragment in problem for problem in info.value.problems), info.value.problems


@pytest.mark.parametrize(("document", "fragment"), [
    ({"Statement": []}, '"Version" is missing'),
    ({"Version": "2008-10-17", "Statement": []}, '"Version" must be "2012-10-17", not "2008-10-17"'),
    ({"Version": "2012-10-17", "Statements": []}, 'unknown top-level key "Statements" (did you mean "Statement"?)'),
    ({"Version": "2012-10-17", "Statement": [{"Sid": "A", **allow("s3:GetObject", "*")}, {"Sid": "A", **allow("s3:PutObject", "*")}]},
     'the Sid "A" is used by more than one statement'),
    ([], "a policy is a JSON object"),
])
def test_malformed_document_is_named(document: Any, fragment: str) -> None:
    with pytest.raises(PolicyError) as info:
        policy_from_document(document)
    assert any(fragment in problem for problem in info.value.problems), info.value.problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(PolicyError) as info:
        policy_from_document({"Version": "2012-10-17", "Statement": [
            {"Effect": "Alow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "bucket"},
        ]})
    assert [p.split(":")[0] for p in info.value.problems] == ["statement 1", "statement 2"]
