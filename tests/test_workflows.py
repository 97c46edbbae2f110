"""The GitHub Actions workflows: valid against GitHub's schema, and doing what the README says they do."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(name: str) -> dict:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    # YAML 1.1 reads the `on:` key as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def action_steps(workflow: dict, action: str) -> list[dict]:
    return [s for s in steps(workflow) if s.get("uses", "").startswith(action + "@")]


def test_there_are_workflows_for_pull_requests_deploys_and_teardown():
    assert {p.name for p in WORKFLOWS} >= {"pull-request.yml", "deploy.yml", "teardown.yml", "stack.yml", "checks.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_against_the_github_workflow_schema(path):
    """check-jsonschema ships the schema, so this needs no network."""
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit(path):
    workflow = load(path.name)
    uses = [s["uses"] for s in steps(workflow) if "uses" in s]
    assert all(PINNED_ACTION.match(u) for u in uses), uses
    text = path.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, "no long-lived AWS keys"


def test_pull_requests_run_lint_tests_then_preview_every_stack_with_the_policy_pack():
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    checks = load("checks.yml")
    commands = [s.get("run", "") for s in steps(checks)]
    assert any("make lint" in c for c in commands) and any("make test" in c for c in commands)
    python = action_steps(checks, "actions/setup-python")[0]["with"]["python-version"]
    assert python == "3.12" or checks["env"]["PYTHON_VERSION"] == "3.12"

    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "checks"
    stacks = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
    assert sorted(preview["strategy"]["matrix"]["stack"]) == stacks
    assert preview["permissions"]["id-token"] == "write"
    assert preview["permissions"]["pull-requests"] == "write"
    (pulumi,) = action_steps(workflow, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert preview["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


def test_aws_credentials_come_from_oidc_role_assumption():
    for name in ("pull-request.yml", "stack.yml"):
        (aws,) = action_steps(load(name), "aws-actions/configure-aws-credentials")
        assert "vars.AWS_ROLE_ARN" in aws["with"]["role-to-assume"]
        assert set(aws["with"]) <= {"role-to-assume", "role-session-name", "aws-region", "role-duration-seconds"}


def test_main_deploys_dev_then_prod_through_the_protected_environment():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert jobs["dev"]["with"] == {"stack": "dev", "operation": "up"} and jobs["dev"]["needs"] == "checks"
    assert jobs["prod"]["with"]["stack"] == "prod" and jobs["prod"]["with"]["operation"] == "up"
    assert jobs["prod"]["needs"] == "dev"
    stack = load("stack.yml")["jobs"]["pulumi"]
    assert stack["environment"] == "${{ inputs.stack }}"
    assert stack["permissions"]["id-token"] == "write"


def test_one_stack_is_never_touched_by_two_runs_at_once():
    job = load("stack.yml")["jobs"]["pulumi"]
    assert job["concurrency"] == {"group": "pulumi-stack-${{ inputs.stack }}", "cancel-in-progress": False}


def test_deploys_let_the_runner_in_for_the_run_only():
    workflow = load("stack.yml")
    names = [s.get("run", "") for s in steps(workflow)]
    opened = next(i for i, r in enumerate(names) if "ci-ingress.sh open" in r)
    up = next(i for i, s in enumerate(steps(workflow)) if s.get("with", {}).get("command") == "up")
    closed = next(i for i, r in enumerate(names) if "ci-ingress.sh close" in r)
    started = next(i for i, r in enumerate(names) if "start-host.sh" in r)
    assert opened < started < up < closed
    assert steps(workflow)[closed]["if"].startswith("always()")
    assert steps(workflow)[up]["with"]["policyPacks"] == "policy"


def test_teardown_is_manual_and_needs_the_stack_name_typed_again():
    workflow = load("teardown.yml")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["type"] == "choice" and inputs["confirm"]["required"] is True
    confirm = workflow["jobs"]["confirm"]["steps"][0]
    assert '"$CONFIRM" != "$STACK"' in confirm["run"]
    assert workflow["jobs"]["destroy"]["needs"] == "confirm"
    assert workflow["jobs"]["destroy"]["with"]["operation"] == "destroy"
    destroy = [s for s in steps(load("stack.yml")) if s.get("with", {}).get("command") == "destroy"]
    assert len(destroy) == 1


def test_ci_uses_the_pulumi_cli_that_matches_the_sdk_pin():
    sdk = re.search(r"^pulumi==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    for path in WORKFLOWS:
        for step in action_steps(load(path.name), "pulumi/actions"):
            assert step["with"]["pulumi-version"] == sdk


def test_github_checks_install_what_the_ci_script_installs():
    """The tests fail in CI (CI=true) when a checker is missing, so both CIs need the same packages."""
    ci = (ROOT / ".ci" / "run").read_text()
    wanted = set(re.search(r"apt-get install [^\n]*?--no-install-recommends ([^>\n]+)", ci).group(1).split())
    commands = " ".join(s.get("run", "") for s in steps(load("checks.yml")))
    installed = set(re.search(r"apt-get install [^\n]*?--no-install-recommends ([^\n]+)", commands).group(1).split())
    assert wanted <= installed


def test_prod_up_is_previewed_and_refused_when_it_would_replace_the_host_its_data_or_the_cluster():
    workflow = load("stack.yml")
    assert workflow["on"]["workflow_call"]["inputs"]["allow-replacement"]["default"] is False
    all_steps = steps(workflow)
    guard = next(i for i, s in enumerate(all_steps) if "preview_guard.py" in s.get("run", ""))
    up = next(i for i, s in enumerate(all_steps) if s.get("with", {}).get("command") == "up")
    started = next(i for i, s in enumerate(all_steps) if "start-host.sh" in s.get("run", ""))
    assert started < guard < up
    assert all_steps[guard]["if"] == "inputs.operation == 'up' && inputs.stack == 'prod' && !inputs.allow-replacement"
    assert "pulumi preview --stack \"$STACK\" --policy-pack policy --json" in all_steps[guard]["run"]
    deploy = load("deploy.yml")
    assert deploy["on"]["workflow_dispatch"]["inputs"]["allow-replacement"]["default"] is False
    assert deploy["jobs"]["prod"]["with"]["allow-replacement"] == "${{ inputs.allow-replacement == true }}"
    assert "allow-replacement" not in deploy["jobs"]["dev"]["with"]
