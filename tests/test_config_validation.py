"""Bad settings fail before any resource exists, with the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from stack.config import ConfigError, load_from_files, parse, raw_from_files
from tests.conftest import ROOT
from tests.harness import run_program


def _failure(overrides: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        run_program("dev", overrides)
    assert caught.value.program.resources == [], "a resource was declared before validation failed"
    return caught.value


# Every bad input the program refuses, one mistake per case: the setting it names and part of what it
# says. The README's "Bad input" table lists the same cases (test_readme_lists_every_bad_input_case).
BAD_INPUT: list[tuple[dict, str, str]] = [
    ({"allowedCidrs": None}, "allowedCidrs", "is required"),
    ({"allowedCidrs": []}, "allowedCidrs", "is required"),
    ({"allowedCidrs": ["not-a-cidr"]}, "allowedCidrs", "'not-a-cidr' is not a valid CIDR"),
    ({"allowedCidrs": ["10.0.0.1/24"]}, "allowedCidrs", "'10.0.0.1/24' is not a valid CIDR"),
    ({"allowedCidrs": ["198.51.100.7/33"]}, "allowedCidrs", "is not a valid CIDR"),
    ({"allowedCidrs": ["0.0.0.0/0"]}, "allowedCidrs", "'0.0.0.0/0' opens SSH and the Kubernetes API to the whole internet"),
    ({"allowedCidrs": ["::/0"]}, "allowedCidrs", "'::/0' opens SSH and the Kubernetes API to the whole internet"),
    ({"allowedCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "allowedCidrs", "together open SSH and the Kubernetes API to the whole internet"),
    ({"allowedCidrs": ["0.0.0.0/2"]}, "allowedCidrs", "'0.0.0.0/2' opens SSH and the Kubernetes API to 25.00% of all IPv4"),
    ({"allowedCidrs": ["10.0.0.0/7"]}, "allowedCidrs", "to 0.78% of all IPv4 addresses; allowed: at most a /8"),
    ({"allowedCidrs": ["2000::/3"]}, "allowedCidrs", "to 12.50% of all IPv6 addresses"),
    ({"allowedCidrs": ["::ffff:0:0/96"]}, "allowedCidrs", "is IPv4 written as IPv6"),
    ({"allowedCidrs": ["::ffff:198.51.100.7/128"]}, "allowedCidrs", "is IPv4 written as IPv6"),
    ({"allowedCidrs": ["198.51.100.7/32", "198.51.100.7/32"]}, "allowedCidrs", "'198.51.100.7/32' is listed twice"),
    ({"allowedCidrs": [f"10.0.{i}.0/24" for i in range(30)]}, "allowedCidrs", "exceed the security group's rule quota"),
    ({"allowedCidrs": ["198.51.100.7/32\n"]}, "allowedCidrs", "contains the control or invisible character U+000A"),
    ({"allowWorldIngress": "maybe"}, "allowWorldIngress", "'maybe' is not a boolean"),
    ({"rootVolumeGiB": 0}, "rootVolumeGiB", "0 is not allowed"),
    ({"rootVolumeGiB": -20}, "rootVolumeGiB", "-20 is not allowed"),
    ({"rootVolumeGiB": 100}, "rootVolumeGiB", "a whole number of GiB from 150"),
    ({"rootVolumeGiB": 20000}, "rootVolumeGiB", "to 16384 (gp3's largest volume)"),
    ({"prometheusVolumeGiB": 200, "prometheusRetentionSize": "150GB"}, "dataVolumeGiB", "200 GiB cannot hold the volumes it carries"),
    ({"modelCacheGiB": 500}, "dataVolumeGiB", "cannot hold the volumes it carries"),
    ({"dataVolumeGiB": 20000}, "dataVolumeGiB", "20000 is out of range"),
    ({"keepData": "yes"}, "keepData", "'yes' is not a boolean"),
    ({"instanceType": "t3.micro"}, "instanceType", "'t3.micro' is not a supported NVIDIA GPU"),
    ({"instanceType": "p9.mega"}, "instanceType", "allowed: g6.xlarge"),
    ({"kubernetesVersion": "1.34"}, "kubernetesVersion", "'1.34' is not a release version"),
    ({"kubernetesVersion": "v1.34.0\n"}, "kubernetesVersion", "contains the control or invisible character U+000A"),
    ({"minikubeVersion": "latest"}, "minikubeVersion", "'latest' is not a release version"),
    ({"amiId": "ubuntu"}, "amiId", "'ubuntu' is not an id"),
    ({"subnetId": "vpc-123"}, "subnetId", "'vpc-123' is not an id"),
    ({"sshUser": "Root User"}, "sshUser", "is not a Linux user name"),
    ({"sshUser": "ubuntu\n"}, "sshUser", "contains the control or invisible character U+000A"),
    ({"tags": ["no-equals-sign"]}, "tags", "'no-equals-sign' is not a tag"),
    ({"tags": ["aws:reserved=x"]}, "tags", "'aws:reserved=x' is not a tag"),
    ({"tags": ["team=a", "team=b"]}, "tags", "'team=b' sets team a second time"),
    ({"tags": ["Project=other"]}, "tags", "would override the program's own Project tag"),
    ({"tags": ["Stack=other"]}, "tags", "would override the program's own Stack tag"),
    ({"tags": ["ManagedBy=hand"]}, "tags", "would override the program's own ManagedBy tag"),
    ({"tags": ["Name=box"]}, "tags", "would override the program's own Name tag"),
    ({"tags": [f"key{i}=v" for i in range(47)]}, "tags", "47 tags; allowed: at most 46"),
    ({"tags": ["team=ml\u202e"]}, "tags", "contains the control or invisible character U+202E"),
    ({"hourlyPriceUsd": "cheap"}, "hourlyPriceUsd", "'cheap' is not a positive amount"),
    ({"hourlyPriceUsd": "1_000"}, "hourlyPriceUsd", "'1_000' is not a positive amount"),
    ({"hourlyPriceUsd": "1e3"}, "hourlyPriceUsd", "'1e3' is not a positive amount"),
    ({"monthlyBudgetUsd": "-5"}, "monthlyBudgetUsd", "'-5' is not a positive amount"),
    ({"monthlyBudgetUsd": "0.001"}, "monthlyBudgetUsd", "'0.001' rounds to 0.00 USD"),
    ({"monthlyBudgetUsd": "lots", "budgetAlertEmails": ["team@acme.internal"]}, "monthlyBudgetUsd", "'lots' is not a positive amount"),
    ({"monthlyBudgetUsd": "10", "budgetAlertEmails": ["a@acme.internal", "a@acme.internal"]}, "budgetAlertEmails", "is listed twice"),
    ({"idleStopMinutes": 30, "idleCpuPercent": "idle"}, "idleCpuPercent", "'idle' is not a positive amount"),
    ({"clusterBackend": "k3s"}, "clusterBackend", "'k3s' is not a backend; allowed: minikube, eks"),
    ({"gpuNodes": 2}, "gpuNodes", "2 GPU nodes need clusterBackend eks or kubeconfig"),
    ({"clusterBackend": "eks", "gpuNodes": 0}, "gpuNodes", "0 is not a node count"),
    ({"clusterBackend": "eks", "gpuNodes": 1000}, "gpuNodes", "1000 is not a node count; allowed: a whole number from 1 to 450"),
    ({"clusterBackend": "eks", "eksSystemNodes": 100000}, "eksSystemNodes", "100000 is not a node count"),
    ({"clusterBackend": "eks", "eksSystemInstanceType": "g6.xlarge"}, "eksSystemInstanceType", "'g6.xlarge'"),
    ({"clusterBackend": "eks", "eksSubnetIds": ["subnet-0123456789abcdef0"]}, "eksSubnetIds", "is not a subnet list"),
    ({"clusterBackend": "eks", "eksKubernetesVersion": "v1.34.0"}, "eksKubernetesVersion", "is not a supported EKS version"),
    ({"clusterBackend": "eks", "eksKubernetesVersion": "1.99"}, "eksKubernetesVersion", "'1.99' is not a supported EKS version"),
    ({"clusterBackend": "kubeconfig"}, "kubeconfig", "is required with clusterBackend kubeconfig"),
    ({"storageClass": "Fast_SSD"}, "storageClass", "'Fast_SSD' is not a StorageClass name"),
    ({"storageClass": "-gp3"}, "storageClass", "'-gp3' is not a StorageClass name"),
    ({"prometheusVolumeGiB": 5}, "prometheusVolumeGiB", "5 is out of range"),
    ({"router": "yes"}, "router", "'yes' is not a boolean"),
    ({"traceContent": "no"}, "traceContent", "'no' is not a boolean"),
    ({"modelId": "Qwen/Qwen2.5-7B-Instruct\n"}, "modelId", "contains the control or invisible character U+000A"),
    ({"modelId": "x" * 300}, "modelId", "... (302 characters)"),
    ({"gpuMemoryUtilization": "0.9\n"}, "gpuMemoryUtilization", "contains the control or invisible character U+000A"),
    ({"maxModelLen": 10, "loadPromptTokens": 1000}, "maxModelLen", "10 is out of range"),
    ({"workloadJob": True, "workloadSchedule": "61 * * * *"}, "workloadSchedule", "'61 * * * *' is not a cron schedule"),
    ({"workloadJob": True, "workloadSchedule": "* * * * * *"}, "workloadSchedule", "is not a cron schedule"),
    ({"workloadJob": True, "workloadSchedule": "0 0 31 FOO *"}, "workloadSchedule", "is not a cron schedule"),
    ({"workloadJob": True, "workloadSchedule": "*/0 * * * *"}, "workloadSchedule", "is not a cron schedule"),
    ({"workloadJob": True, "workloadSchedule": "0 * * * *\n"}, "workloadSchedule", "contains the control or invisible character"),
    ({"idleStopMinute": 30}, "idleStopMinute", "is not a setting of this project and would be ignored; did you mean llm-observability:idleStopMinutes?"),
    ({"allowedcidrs": ["100.64.1.0/24"]}, "allowedcidrs", "did you mean llm-observability:allowedCidrs?"),
    ({"requireAlertReceiver": True}, "alertReceiver", "'none' sends every alert nowhere"),
    ({"refuseDocumentationValues": True}, "allowedCidrs", "'198.51.100.7/32' is a documentation address"),
    ({"knownAnswerShare": "0.95"}, "knownAnswerShare", "'0.95' is out of range"),
    ({"judgeSampleShare": "all"}, "judgeSampleShare", "'all' is out of range"),
    ({"answerCorrectnessObjective": "0.3"}, "answerCorrectnessObjective", "'0.3' is out of range"),
    ({"judgeScoreDropFraction": "1"}, "judgeScoreDropFraction", "'1' is out of range"),
    ({"judgeModel": "m", "judgeEndpoint": "judge.example:8000"}, "judgeEndpoint",
     "'judge.example:8000' is not an OpenAI-compatible base URL"),
    ({"judgeEndpoint": "http://judge.llm.svc:8000/v1"}, "judgeEndpoint", "is set but llm-observability:judgeModel is empty"),
    ({"judgeModel": "two words"}, "judgeModel", "'two words' is not a model name"),
]


def _case_id(case: tuple[dict, str, str]) -> str:
    return "-".join(f"{k}={v!r:.30}" for k, v in case[0].items())


@pytest.mark.parametrize("case", BAD_INPUT, ids=_case_id)
def test_bad_input_is_refused_by_name_before_any_resource_with_one_message(case):
    overrides, key, expected = case
    error = _failure(overrides)
    assert len(error.problems) == 1, error.problems
    (message,) = error.problems
    assert message.startswith(f"llm-observability:{key}") and expected in message, message
    assert "allowed" in message, "every message says what is allowed"


def test_the_bad_input_suite_covers_at_least_sixty_cases():
    assert len(BAD_INPUT) >= 60


def _readme_bad_input_rows() -> list[str]:
    return [
        f"| `{key}` | `{', '.join(f'{k}: {v!r:.60}' for k, v in overrides.items())}` | {expected} |"
        for overrides, key, expected in BAD_INPUT
    ]


def test_readme_lists_every_bad_input_case():
    readme = (ROOT / "README.md").read_text()
    missing = [row for row in _readme_bad_input_rows() if row not in readme]
    assert not missing, "add to the README's bad-input table:\n" + "\n".join(missing)


def test_world_cidr_is_accepted_only_with_the_explicit_opt_in():
    program = run_program("dev", {"allowedCidrs": ["0.0.0.0/0"], "allowWorldIngress": True})
    group = program.one("aws:ec2/securityGroup:SecurityGroup")
    assert all(rule["cidrBlocks"] == ["0.0.0.0/0"] for rule in group.inputs["ingress"])


def test_every_problem_is_reported_at_once():
    error = _failure({"allowedCidrs": ["0.0.0.0/0"], "rootVolumeGiB": 1, "instanceType": "t3.micro"})
    assert len(error.problems) == 3


def test_dev_stack_file_parses_into_the_documented_defaults():
    config = load_from_files("dev")
    assert config.host.instance.name == "g6.12xlarge"
    assert config.host.root_volume_gib == 300
    assert config.cost.usd_per_hour == config.host.instance.usd_per_hour
    assert config.tags["Stack"] == "dev"


def test_hourly_price_setting_overrides_the_catalogue_price():
    program_config = load_from_files("dev")
    from stack.config import parse, raw_from_files

    raw = {**raw_from_files("dev"), "hourlyPriceUsd": "5.25"}
    assert parse("dev", raw).cost.usd_per_hour == 5.25
    assert program_config.cost.gpu_count == 4


@pytest.mark.parametrize(
    "model_id,parser",
    [("ibm-granite/granite-3.3-8b-instruct", "granite"), ("ibm-granite/granite-4.0-h-small", "granite")],
)
def test_tool_call_parser_follows_the_model_family(model_id, parser):
    raw = {**raw_from_files("dev"), "modelId": model_id}
    assert parse("dev", raw).workload.tool_call_parser == parser


@pytest.mark.parametrize(
    "overrides",
    [
        {"instanceType": "g6.2xlarge"},  # MiniKube's node: 6 vCPU, 24 GiB
        {"instanceType": "g6e.2xlarge"},  # 6 vCPU on the node, however much memory
        {"instanceType": "g6.xlarge", "clusterBackend": "eks"},  # 4 vCPU, 16 GiB per GPU node
    ],
)
def test_instance_types_too_small_for_a_model_server_pod_are_refused(overrides):
    # The serving release does not wait for its pods: a pod that cannot be scheduled would be silent.
    with pytest.raises(ConfigError) as raised:
        parse("dev", {**raw_from_files("dev"), **overrides})
    message = str(raised.value)
    assert "llm-observability:instanceType" in message and "4 vCPU and 24 GiB" in message


@pytest.mark.parametrize(
    "overrides",
    [{"instanceType": "g6.4xlarge"}, {"instanceType": "g6.48xlarge"},
     {"instanceType": "g6.2xlarge", "clusterBackend": "eks"},
     {"instanceType": "g6.xlarge", "servingMode": "simulator"}],
)
def test_instance_types_with_room_for_the_model_servers_are_accepted(overrides):
    parse("dev", {**raw_from_files("dev"), **overrides})


def test_the_judge_runs_only_with_trace_content_and_defaults_to_the_served_model():
    dev = load_from_files("dev")  # traceContent on
    assert dev.quality.judge_sample_share == 0.2 and dev.quality.judge_model == dev.workload.model_id
    assert dev.quality.judge_endpoint is None
    # Judging reads answer text: with traceContent off only the known-answer checks run.
    without_content = parse("dev", {**raw_from_files("dev"), "traceContent": False}).quality
    assert without_content.judge_sample_share == 0 and without_content.known_answer_share == 0.5
