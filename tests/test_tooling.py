"""Repository-wide checks: every shell script passes shellcheck, the Python passes the linter, and the
task runner has the README's commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHELL_SCRIPTS = sorted(
    [p for p in ROOT.rglob("*.sh") if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]
    + [ROOT / ".ci" / "run"]
)


def test_there_are_shell_scripts_to_check():
    assert SHELL_SCRIPTS


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_script_passes_shellcheck(script):
    shellcheck = Path(sys.executable).with_name("shellcheck")
    result = subprocess.run([str(shellcheck), "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_passes_the_linter():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_has_a_target_for_every_command_the_readme_names():
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    assert {"deploy", "test", "preview", "destroy", "start", "tunnel", "workload", "render", "lint"} <= targets
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    assert {"deploy", "test", "preview", "destroy", "tunnel", "workload", "render", "lint"} <= set(phony)


@pytest.mark.parametrize(
    "target,command",
    [
        ("preview", "scripts/preview.sh prod"),
        ("destroy", "scripts/destroy.sh prod"),
        ("start", "scripts/start-host.sh prod"),
        ("tunnel", "scripts/tunnel.sh prod"),
        ("workload", "scripts/run-workload.sh prod"),
        ("render", "-m dashboards.render --stack prod --out build/signals"),
        ("lint", "ruff check ."),
    ],
)
def test_make_target_runs_its_command_for_the_chosen_stack(target, command):
    result = subprocess.run(
        ["make", "-n", "-W", ".venv/.installed", target, "STACK=prod", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert command in result.stdout


def test_destroy_refuses_without_the_stack_name_typed_again(tmp_path):
    """The confirmation comes before anything touches Pulumi (a fake `pulumi` that must never run)."""
    fake = tmp_path / "pulumi"
    fake.write_text('#!/bin/sh\necho ran >> "$(dirname "$0")/calls"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CONFIRM": "dve"}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "destroy.sh"), "dev"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1 and "Not confirmed" in result.stderr
    assert not (tmp_path / "calls").exists()

    env["CONFIRM"] = "dev"
    (tmp_path / "aws").write_text("#!/bin/sh\n")
    (tmp_path / "aws").chmod(0o755)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "destroy.sh"), "dev"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "ran\n" in (tmp_path / "calls").read_text()


def _destroy(tmp_path: Path, backend: str, volumes: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
    """destroy.sh with a `pulumi` that logs its calls (and whether deletes of unreachable objects are
    allowed) and an `aws` that lists ``volumes`` as the stack's unattached ones."""
    (tmp_path / "pulumi").write_text(
        "#!/bin/sh\n"
        'echo "$* unreachable=${PULUMI_K8S_DELETE_UNREACHABLE:-}" >> "$(dirname "$0")/calls"\n'
        f'case "$*" in "config get clusterBackend"*) echo {backend} ;; "config get aws:region"*) echo us-east-1 ;; esac\n'
    )
    (tmp_path / "aws").write_text(f"#!/bin/sh\nprintf '{volumes}'\n")
    for tool in ("pulumi", "aws"):
        (tmp_path / tool).chmod(0o755)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "destroy.sh"), "dev"],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "CONFIRM": "dev"},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    return result, (tmp_path / "calls").read_text().splitlines()


def test_destroy_drops_unreachable_objects_only_of_a_minikube_stack(tmp_path):
    result, calls = _destroy(tmp_path, "minikube")
    assert result.returncode == 0, result.stderr
    assert "destroy --stack dev --yes unreachable=true" in calls


@pytest.mark.parametrize("backend", ["eks", "kubeconfig"])
def test_destroy_of_a_cluster_with_cloud_volumes_fails_when_it_cannot_reach_it(tmp_path, backend):
    result, calls = _destroy(tmp_path, backend)
    assert "destroy --stack dev --yes unreachable=" in calls


def test_destroy_fails_naming_each_volume_left_behind_but_not_the_kept_data_volume(tmp_path):
    volumes = "vol-0aaaaaaaaaaaaaaaa\\tNone\\nvol-0bbbbbbbbbbbbbbbb\\tllm-observability/data-volume\\n"
    result, _ = _destroy(tmp_path, "eks", volumes)
    assert result.returncode == 1
    assert "Left behind, unattached and still billed:** vol-0aaaaaaaaaaaaaaaa —" in result.stdout
    assert "Kept on purpose (keepData): vol-0bbbbbbbbbbbbbbbb" in result.stdout


def test_destroy_reports_when_no_volume_is_left(tmp_path):
    result, _ = _destroy(tmp_path, "eks")
    assert result.returncode == 0 and "None left behind." in result.stdout


def _fake_tools(tmp_path: Path, export: str) -> dict[str, str]:
    """A `pulumi` that logs its arguments and a `curl` that answers with a documentation address."""
    (tmp_path / "export.json").write_text(export)
    pulumi = tmp_path / "pulumi"
    pulumi.write_text(
        "#!/bin/sh\n"
        'echo "$*" >> "$(dirname "$0")/calls"\n'
        'case "$1 $2" in\n'
        '  "config get") echo \'["198.51.100.7/32"]\' ;;\n'
        '  "stack export") cat "$(dirname "$0")/export.json" ;;\n'
        "esac\n"
    )
    curl = tmp_path / "curl"
    curl.write_text("#!/bin/sh\necho 192.0.2.44\n")
    for tool in (pulumi, curl):
        tool.chmod(0o755)
    return {"PATH": f"{tmp_path}:/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path)}


def test_ci_ingress_adds_the_runner_for_the_run_and_takes_it_away_again(tmp_path):
    sg = (
        "urn:pulumi:dev::llm-observability::llmobs:aws:GpuHost$aws:ec2/securityGroup:SecurityGroup"
        "::llm-observability-dev-sg"
    )
    export = '{"deployment": {"resources": [{"urn": "%s", "type": "aws:ec2/securityGroup:SecurityGroup"}]}}' % sg
    env = _fake_tools(tmp_path, export)
    script = ROOT / "scripts" / "ci-ingress.sh"
    for action in ("open", "close"):
        result = subprocess.run(["bash", str(script), action, "dev"], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "config get allowedCidrs --stack dev",
        "config set --stack dev --path allowedCidrs[1] 192.0.2.44/32",
        "stack export --stack dev",
        f"up --stack dev --yes --skip-preview --target {sg} --policy-pack policy",
        "config rm --stack dev --path allowedCidrs[1]",
        "stack export --stack dev",
        f"up --stack dev --yes --skip-preview --target {sg} --policy-pack policy",
    ]
    assert not (tmp_path / ".ci-ingress-dev").exists()


def test_ci_ingress_leaves_a_new_stack_to_the_deploy(tmp_path):
    other_group = "urn:pulumi:prod::llm-observability::aws:ec2/securityGroup:SecurityGroup::someone-elses-sg"
    export = '{"deployment": {"resources": [{"urn": "%s", "type": "aws:ec2/securityGroup:SecurityGroup"}]}}'
    env = _fake_tools(tmp_path, export % other_group)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci-ingress.sh"), "open", "prod"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("up ") for line in (tmp_path / "calls").read_text().splitlines())
    assert (tmp_path / ".ci-ingress-prod").read_text() == "1\n"


def test_ci_ingress_on_eks_updates_the_api_endpoint_only(tmp_path):
    cluster = "urn:pulumi:dev::llm-observability::eks:index:Cluster$aws:eks/cluster:Cluster::llm-observability-dev-eks"
    nodes = "urn:pulumi:dev::llm-observability::eks:index:Cluster$aws:ec2/securityGroup:SecurityGroup::nodes"
    resources = [
        {"urn": cluster, "type": "aws:eks/cluster:Cluster"},
        {"urn": nodes, "type": "aws:ec2/securityGroup:SecurityGroup"},
    ]
    env = _fake_tools(tmp_path, json.dumps({"deployment": {"resources": resources}}))
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci-ingress.sh"), "open", "dev"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    ups = [line for line in (tmp_path / "calls").read_text().splitlines() if line.startswith("up ")]
    assert ups == [f"up --stack dev --yes --skip-preview --target {cluster} --policy-pack policy"]


def _fake_host_tools(tmp_path: Path, state: str, outputs: bool = True) -> dict[str, str]:
    """`pulumi`, `aws` and `ssh` stand-ins that log their arguments; the host is in `state`."""
    log = 'echo "$(basename "$0") $*" >> "$(dirname "$0")/calls"\n'
    pulumi_answers = (
        'case "$*" in\n'
        '  "stack output instanceId"*) echo i-0123456789abcdef0 ;;\n'
        '  "stack output sshCommand"*) echo "pulumi stack output ... && ssh -i key ubuntu@203.0.113.10" ;;\n'
        '  "stack output sshPrivateKey"*) echo KEY ;;\n'
        '  "config get aws:region"*) echo us-east-1 ;;\n'
        "esac\n"
        if outputs
        else "exit 1\n"
    )
    tools = {
        "pulumi": "#!/bin/sh\n" + log + pulumi_answers,
        "aws": "#!/bin/sh\n" + log + f'case "$2" in describe-instances) echo {state} ;; esac\n',
        "ssh": "#!/bin/sh\n" + log,
    }
    for name, body in tools.items():
        (tmp_path / name).write_text(body)
        (tmp_path / name).chmod(0o755)
    return {"PATH": f"{tmp_path}:/usr/bin:/bin"}


def _start_host(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "start-host.sh"), "dev"], env=env, capture_output=True, text=True
    )
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return result, calls


def test_start_host_starts_a_stopped_host_and_then_minikube(tmp_path):
    result, calls = _start_host(tmp_path, _fake_host_tools(tmp_path, "stopped"))
    assert result.returncode == 0, result.stderr
    aws = [c for c in calls if c.startswith("aws ")]
    assert [c.split()[2] for c in aws] == ["describe-instances", "start-instances", "wait"]
    assert all("--instance-ids i-0123456789abcdef0" in c and "--region us-east-1" in c for c in aws)
    assert calls[-1].startswith("ssh ") and calls[-1].endswith(
        "ubuntu@203.0.113.10 sudo systemctl start llm-observability-minikube.service"
    )


def test_start_host_leaves_a_running_host_running_but_brings_minikube_back(tmp_path):
    result, calls = _start_host(tmp_path, _fake_host_tools(tmp_path, "running"))
    assert result.returncode == 0, result.stderr
    assert not any("start-instances" in c for c in calls)
    assert "llm-observability-minikube.service" in calls[-1]


def test_start_host_has_nothing_to_do_without_a_host(tmp_path):
    result, calls = _start_host(tmp_path, _fake_host_tools(tmp_path, "running", outputs=False))
    assert result.returncode == 0 and "nothing to start" in result.stdout
    assert not any(c.startswith(("aws ", "ssh ")) for c in calls)


def test_start_host_refuses_a_terminated_host(tmp_path):
    result, calls = _start_host(tmp_path, _fake_host_tools(tmp_path, "terminated"))
    assert result.returncode == 1 and "terminated" in result.stderr
    assert not any(c.startswith("ssh ") for c in calls)


def test_a_keep_data_stack_reports_its_retained_volumes_as_kept(tmp_path):
    (tmp_path / "pulumi").write_text(
        "#!/bin/sh\n"
        'case "$*" in "config get keepData"*) echo true ;; "config get aws:region"*) echo us-east-1 ;; esac\n'
    )
    (tmp_path / "aws").write_text("#!/bin/sh\nprintf 'vol-0aaaaaaaaaaaaaaaa\\tNone\\n'\n")
    for tool in ("pulumi", "aws"):
        (tmp_path / tool).chmod(0o755)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check-leftover-volumes.sh"), "prod"],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "Kept on purpose (keepData): vol-0aaaaaaaaaaaaaaaa" in summary and "None left behind." in summary


def test_the_leftover_volume_query_reads_ids_and_the_kept_tag_as_the_aws_cli_would():
    """The --query of check-leftover-volumes.sh, run by jmespath (the AWS CLI's query engine) on a
    describe-volumes answer: one [id, data-volume tag key or null] pair per volume."""
    import jmespath

    script = (ROOT / "scripts" / "check-leftover-volumes.sh").read_text()
    query = re.search(r'--query "([^"]+)"', script).group(1).replace("${kept_tag}", "llm-observability/data-volume")
    answer = {
        "Volumes": [
            {"VolumeId": "vol-0aaaaaaaaaaaaaaaa", "Tags": [{"Key": "Stack", "Value": "dev"}]},
            {"VolumeId": "vol-0bbbbbbbbbbbbbbbb", "Tags": [
                {"Key": "Stack", "Value": "dev"}, {"Key": "llm-observability/data-volume", "Value": "x"}]},
        ]
    }
    assert jmespath.search(query, answer) == [
        ["vol-0aaaaaaaaaaaaaaaa", None],
        ["vol-0bbbbbbbbbbbbbbbb", "llm-observability/data-volume"],
    ]
