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


def test_pull_requests_run_lint_tests_then_preview_dev_with_the_policy_pack():
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    checks = load("checks.yml")
    commands = [s.get("run", "") for s in steps(checks)]
    assert any("make lint" in c for c in commands) and any("make test" in c for c in commands)
    python = action_steps(checks, "actions/setup-python")[0]["with"]["python-version"]
    assert python == "3.12" or checks["env"]["PYTHON_VERSION"] == "3.12"

    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "checks"
    assert preview["environment"] == "dev-preview"
    assert preview["permissions"]["id-token"] == "write"
    assert preview["permissions"]["pull-requests"] == "write"
    (pulumi,) = action_steps(workflow, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "dev"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert preview["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


# What a pull-request job may be given: the dev-preview environment (read-only role, dev's state) and
# nothing that names prod or a deploy role.
PREVIEW_ENVIRONMENTS = {"dev-preview"}
PREVIEW_ROLE = "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
DEPLOY_ROLE = "${{ vars.AWS_ROLE_ARN }}"


def _pull_request_jobs() -> list[tuple[str, dict]]:
    """Every job a pull request runs, following local reusable workflows with the inputs passed to them."""
    jobs: list[tuple[str, dict]] = []

    def visit(name: str, inputs: dict) -> None:
        text = (ROOT / ".github" / "workflows" / name).read_text()
        for key, value in inputs.items():
            text = text.replace("${{ inputs.%s }}" % key, str(value))
        for job_id, job in yaml.safe_load(text)["jobs"].items():
            jobs.append((f"{name}:{job_id}", job))
            uses = job.get("uses", "")
            if uses.startswith("./.github/workflows/"):
                visit(uses.rsplit("/", 1)[1], job.get("with", {}))

    for path in WORKFLOWS:
        triggers = load(path.name)["on"]
        triggers = triggers if isinstance(triggers, (dict, list)) else [triggers]
        assert "pull_request_target" not in triggers, f"{path.name}: pull_request_target runs with the base's secrets"
        if "pull_request" in triggers:
            visit(path.name, {})
    return jobs


def test_no_pull_request_job_can_reach_a_prod_secret_a_prod_role_or_the_deploy_role():
    """A pull request runs its own code: none of its jobs may name prod, inherit secrets or use a deploy role."""
    jobs = _pull_request_jobs()
    assert any(job.get("environment") for _, job in jobs), "the preview job runs in an environment"
    for name, job in jobs:
        text = yaml.safe_dump(job)
        assert not re.search(r"\bprod\b", text, re.I), f"{name} names prod"
        assert job.get("secrets") != "inherit", f"{name} inherits every secret"
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        assert environment in PREVIEW_ENVIRONMENTS | {None}, f"{name} runs in environment {environment!r}"
        assert not re.search(r"\bAWS_(DEPLOY_)?ROLE_ARN\b", text), f"{name} can reach the deploy role"
        roles = [
            s["with"]["role-to-assume"]
            for s in job.get("steps", [])
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        assert all(role == PREVIEW_ROLE for role in roles), f"{name} assumes {roles}: only the preview role, no fallback"


def _exit_code(script: str, **env: str) -> int:
    return subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True).returncode


def test_pull_request_preview_fails_closed_without_its_role():
    """The step before any credential is taken stops the job when the preview role is not set."""
    job = load("pull-request.yml")["jobs"]["preview"]
    guard = job["steps"][0]
    assert guard["env"]["PREVIEW_ROLE_ARN"] == PREVIEW_ROLE
    settings = {"PULUMI_BACKEND_URL": "s3://dev-state", "PULUMI_CONFIG_PASSPHRASE": "x"}
    assert _exit_code(guard["run"], PREVIEW_ROLE_ARN="", **settings) == 1
    assert _exit_code(guard["run"], PREVIEW_ROLE_ARN="arn:aws:iam::111122223333:role/preview", **settings) == 0


def test_deploys_use_only_their_own_environments_role_and_secrets():
    """No secret inheritance, no fallback role: each stack's job takes what its own environment holds."""
    for name in ("deploy.yml", "teardown.yml"):
        for job in load(name)["jobs"].values():
            if job.get("uses", "").endswith("/stack.yml"):
                assert job["secrets"] == {
                    "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
                    "PULUMI_BACKEND_URL": "${{ secrets.PULUMI_BACKEND_URL }}",
                }
    stack = load("stack.yml")
    job = stack["jobs"]["pulumi"]
    (aws,) = action_steps(stack, "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == DEPLOY_ROLE
    guard = next(s for s in job["steps"] if "DEPLOY_ROLE_ARN" in s.get("env", {}))
    assert guard["env"]["DEPLOY_ROLE_ARN"] == DEPLOY_ROLE
    assert job["steps"].index(guard) < job["steps"].index(aws)
    settings = {"PULUMI_BACKEND_URL": "s3://prod-state", "PULUMI_CONFIG_PASSPHRASE": "x", "STACK": "prod"}
    assert _exit_code(guard["run"], DEPLOY_ROLE_ARN="", **settings) == 1
    assert _exit_code(guard["run"], DEPLOY_ROLE_ARN="arn:aws:iam::111122223333:role/prod", **settings) == 0


def test_codeowners_cover_the_workflows_the_policy_pack_the_scripts_and_the_stack():
    owners = (ROOT / ".github" / "CODEOWNERS").read_text()
    paths = {line.split()[0] for line in owners.splitlines() if line.strip() and not line.startswith("#")}
    assert {"/.github/", "/policy/", "/scripts/", "/stack/", "/components/scripts/"} <= paths


def test_aws_credentials_come_from_oidc_role_assumption():
    for name in ("pull-request.yml", "stack.yml"):
        (aws,) = action_steps(load(name), "aws-actions/configure-aws-credentials")
        assert aws["with"]["role-to-assume"] in (PREVIEW_ROLE, DEPLOY_ROLE)
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


def test_the_checks_verify_every_image_digest_against_its_registry():
    """Pull requests and deploys call checks.yml; its job resolves each pinned tag where registries are
    reachable (scripts/verify-image-digests.py, tested against a stand-in in test_verify_image_digests.py)."""
    job = load("checks.yml")["jobs"]["image-digests"]
    assert [s["run"] for s in job["steps"] if "run" in s] == ["python scripts/verify-image-digests.py"]
    for caller in ("pull-request.yml", "deploy.yml"):
        assert any(j.get("uses") == "./.github/workflows/checks.yml" for j in load(caller)["jobs"].values())
