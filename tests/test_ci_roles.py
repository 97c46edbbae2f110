"""The roles CI assumes, as the README tells users to create them (docs/): each trusts one GitHub
environment only, and the preview role a pull request gets can change nothing and read nothing of prod."""

from __future__ import annotations

import json
import re

from tests.conftest import ROOT

TRUST = json.loads((ROOT / "docs" / "github-oidc-trust-policy.json").read_text())
PREVIEW = json.loads((ROOT / "docs" / "iam-preview-policy.json").read_text())
READ_VERBS = re.compile(r"^[a-z0-9-]+:(Describe|Get|List|View)[A-Za-z*]*$")


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def test_a_role_trusts_exactly_one_repository_environment_and_audience():
    [statement] = TRUST["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    # StringEquals, not StringLike: no wildcard subject (a branch, a pull request) can match.
    assert set(statement["Condition"]) == {"StringEquals"}
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert condition["token.actions.githubusercontent.com:sub"] == "repo:OWNER/REPO:environment:ENVIRONMENT"


def test_the_preview_role_changes_nothing_but_its_own_lock():
    for statement in PREVIEW["Statement"]:
        assert statement["Effect"] == "Allow"
        writes = [a for a in _as_list(statement["Action"]) if not READ_VERBS.match(a)]
        if writes:
            assert set(writes) <= {"s3:PutObject", "s3:DeleteObject", "s3:GetObject", "s3:ListBucket"}, writes
        if {"s3:PutObject", "s3:DeleteObject"} & set(writes):
            assert _as_list(statement["Resource"]) == ["arn:aws:s3:::DEV_STATE_BUCKET/.pulumi/locks/*"]


def test_the_preview_role_reads_nothing_of_prod_nor_any_secret_parameter():
    text = json.dumps(PREVIEW)
    assert "prod" not in text.lower()
    for statement in PREVIEW["Statement"]:
        actions = _as_list(statement["Action"])
        if any(a.startswith("ssm:") for a in actions):
            assert _as_list(statement["Resource"]) == ["arn:aws:ssm:*::parameter/aws/service/*"]
        if any(a.startswith("s3:") for a in actions):
            assert all(r.startswith("arn:aws:s3:::DEV_STATE_BUCKET") for r in _as_list(statement["Resource"]))
        assert not any(a.startswith(("kms:Decrypt", "secretsmanager:", "iam:Pass", "sts:AssumeRole")) for a in actions)


def test_the_readme_points_to_the_trust_and_preview_policies():
    readme = (ROOT / "README.md").read_text()
    assert "docs/github-oidc-trust-policy.json" in readme and "docs/iam-preview-policy.json" in readme
