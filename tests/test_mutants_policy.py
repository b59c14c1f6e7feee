"""Policy mutants: grants widened, conditions and statements dropped, Allow turned into Deny."""
from __future__ import annotations

import json

from grader.mutants import policy

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::raw", "arn:aws:s3:::raw/in/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/T"},
    ],
}


def made() -> dict[str, dict]:
    return {m.description: json.loads(m.text) for m in policy.mutants(json.dumps(POLICY))}


def test_actions_widen_to_star_and_to_their_service() -> None:
    mutants = made()
    assert mutants['statement Read: Action -> "*"']["Statement"][0]["Action"] == "*"
    assert mutants["statement Read: Action s3:GetObject -> s3:*"]["Statement"][0]["Action"] == ["s3:*", "s3:ListBucket"]
    assert mutants["statement 2: Action dynamodb:Query -> dynamodb:*"]["Statement"][1]["Action"] == "dynamodb:*"


def test_resources_widen_to_star_one_level_and_any_region() -> None:
    mutants = made()
    assert mutants['statement Read: Resource -> "*"']["Statement"][0]["Resource"] == "*"
    assert mutants["statement Read: Resource arn:aws:s3:::raw/in/* -> arn:aws:s3:::raw/*"]["Statement"][0][
        "Resource"] == ["arn:aws:s3:::raw", "arn:aws:s3:::raw/*"]
    assert "statement Read: Resource arn:aws:s3:::raw -> arn:aws:s3:::raw*" in mutants
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/T"
    assert mutants[f"statement 2: Resource {table} -> arn:aws:dynamodb:*:*:table/T"]["Statement"][1]["Resource"] == (
        "arn:aws:dynamodb:*:*:table/T")
    assert f"statement 2: Resource {table} -> arn:aws:dynamodb:us-east-1:123456789012:table/*" in mutants


def test_conditions_statements_and_effects() -> None:
    mutants = made()
    assert "Condition" not in mutants["statement Read: Condition dropped"]["Statement"][0]
    assert mutants["statement Read: Condition IpAddress aws:SourceIp dropped"]["Statement"][0]["Condition"] == {
        "Bool": {"aws:SecureTransport": "true"}}
    assert mutants["statement Read: Allow -> Deny"]["Statement"][0]["Effect"] == "Deny"
    assert [s.get("Sid") for s in mutants["statement Read: statement dropped"]["Statement"]] == [None]


def test_widened_arn() -> None:
    assert policy.widened_arn("arn:aws:s3:::b/processed/*") == "arn:aws:s3:::b/*"
    assert policy.widened_arn("arn:aws:s3:::b/*") == "arn:aws:s3:::b*"
    assert policy.widened_arn("arn:aws:s3:::b") == "arn:aws:s3:::b*"
    assert policy.widened_arn("*") is None


def test_mutants_are_json_and_distinct() -> None:
    mutants = list(policy.mutants(json.dumps(POLICY)))
    assert len({m.text for m in mutants}) == len(mutants)
    assert all(policy.check(m.text) is None for m in mutants)
    assert policy.check("{") is not None
