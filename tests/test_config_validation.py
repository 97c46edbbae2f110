"""Bad settings fail before any resource exists, with the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from stack.config import ConfigError, load_from_files, parse, raw_from_files
from tests.harness import run_program


def _failure(overrides: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        run_program("dev", overrides)
    assert caught.value.program.resources == [], "a resource was declared before validation failed"
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"allowedCidrs": None}, "llm-observability:allowedCidrs is required"),
        ({"allowedCidrs": []}, "llm-observability:allowedCidrs is required"),
        ({"allowedCidrs": ["not-a-cidr"]}, "'not-a-cidr' is not a valid CIDR"),
        ({"allowedCidrs": ["10.0.0.1/24"]}, "'10.0.0.1/24' is not a valid CIDR"),
        ({"allowedCidrs": ["198.51.100.7/33"]}, "is not a valid CIDR"),
        ({"allowedCidrs": ["0.0.0.0/0"]}, "'0.0.0.0/0' opens SSH and the Kubernetes API to the whole internet"),
        ({"allowedCidrs": ["::/0"]}, "'::/0' opens SSH and the Kubernetes API to the whole internet"),
        ({"rootVolumeGiB": 0}, "llm-observability:rootVolumeGiB: 0 is too small"),
        ({"rootVolumeGiB": -20}, "llm-observability:rootVolumeGiB: -20 is too small"),
        ({"rootVolumeGiB": 100}, "at least 150"),
        ({"instanceType": "t3.micro"}, "llm-observability:instanceType: 't3.micro' is not a supported NVIDIA GPU"),
        ({"instanceType": "p9.mega"}, "allowed: g6.xlarge"),
        ({"kubernetesVersion": "1.34"}, "llm-observability:kubernetesVersion: '1.34' is not a release version"),
        ({"minikubeVersion": "latest"}, "llm-observability:minikubeVersion: 'latest' is not a release version"),
        ({"amiId": "ubuntu"}, "llm-observability:amiId: 'ubuntu' is not an id"),
        ({"subnetId": "vpc-123"}, "llm-observability:subnetId: 'vpc-123' is not an id"),
        ({"sshUser": "Root User"}, "llm-observability:sshUser"),
        ({"tags": ["no-equals-sign"]}, "llm-observability:tags: 'no-equals-sign' is not a tag"),
        ({"tags": ["aws:reserved=x"]}, "llm-observability:tags: 'aws:reserved=x'"),
        ({"hourlyPriceUsd": "cheap"}, "llm-observability:hourlyPriceUsd: 'cheap' is not a positive amount"),
        ({"monthlyBudgetUsd": "-5"}, "llm-observability:monthlyBudgetUsd: '-5' is not a positive amount"),
        ({"clusterBackend": "k3s"}, "llm-observability:clusterBackend: 'k3s' is not a backend; allowed: minikube, eks"),
        ({"gpuNodes": 2}, "llm-observability:gpuNodes: 2 GPU nodes need clusterBackend eks or kubeconfig"),
        ({"clusterBackend": "eks", "gpuNodes": 0}, "llm-observability:gpuNodes: 0 is not a node count"),
        (
            {"clusterBackend": "eks", "eksSystemInstanceType": "g6.xlarge"},
            "llm-observability:eksSystemInstanceType: 'g6.xlarge'",
        ),
        ({"clusterBackend": "eks", "eksSubnetIds": ["subnet-0123456789abcdef0"]}, "llm-observability:eksSubnetIds"),
        ({"clusterBackend": "eks", "eksKubernetesVersion": "v1.34.0"}, "llm-observability:eksKubernetesVersion"),
        ({"clusterBackend": "kubeconfig"}, "llm-observability:kubeconfig is required with clusterBackend kubeconfig"),
        ({"knownAnswerShare": "0.95"}, "llm-observability:knownAnswerShare: '0.95' is out of range; allowed: a decimal "
                                       "string from 0.0 to 0.9"),
        ({"judgeSampleShare": "all"}, "llm-observability:judgeSampleShare: 'all' is out of range"),
        ({"answerCorrectnessObjective": "0.3"}, "llm-observability:answerCorrectnessObjective: '0.3' is out of range"),
        ({"judgeScoreDropFraction": "1"}, "llm-observability:judgeScoreDropFraction: '1' is out of range"),
        ({"judgeEndpoint": "judge.example:8000"}, "llm-observability:judgeEndpoint: 'judge.example:8000' is not an "
                                                  "OpenAI-compatible base URL"),
        ({"judgeEndpoint": "http://judge.llm.svc:8000/v1"}, "llm-observability:judgeEndpoint is set but "
                                                            "llm-observability:judgeModel is empty"),
        ({"judgeModel": "two words"}, "llm-observability:judgeModel: 'two words' is not a model name"),
    ],
)
def test_bad_setting_is_refused_by_name_before_any_resource(overrides, expected):
    assert expected in str(_failure(overrides))


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
