"""Kubernetes service links: no pod of namespace llm gets, or would read, another Service's variables.

By default the kubelet gives every container, for every Service in its namespace, the Docker-links
variables ``<NAME>_SERVICE_HOST``, ``<NAME>_PORT=tcp://...`` and friends (pkg/kubelet/envvars/envvars.go).
A Service named ``vllm`` made ``VLLM_PORT`` a URL, which vLLM reads as an integer; one named
``llama-stack`` did the same to ``LLAMA_STACK_PORT`` and `llama stack run`. So this pins two things, for
every combination of settings that changes the Services of the namespace: every pod template the program
writes or configures turns links off, and even with links on, no app would read any of those names.

What the apps read comes from their source at the pinned versions, kept in tests/reference/ (made with
scripts/refresh-reference.py): vLLM's ``vllm/envs.py`` and Llama Stack's server packages. The workload's
names are read here, the same way, from its own source and the pinned client's installed source, plus
the env its Job sets.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from components import inference_router
from stack.workloads import LLM_NAMESPACE
from tests.conftest import ROOT
from tests.harness import Program, run_program
from tests.pods import service_link_env, services_in

REFERENCE = ROOT / "tests" / "reference"
SERVICE = "kubernetes:core/v1:Service"
RELEASE = "kubernetes:helm.sh/v3:Release"
def router_chart_service(program: Program) -> SimpleNamespace:
    """The Service llm-d-router-standalone creates: the program does not declare it, but it is in the namespace.

    config/charts/routerlib/templates/_service.yaml at v0.10.0: ports grpc-ext-proc (router.epp.extProcPort,
    default 9002) and http-metrics (router.metricsPort, default 9090), then router.extraServicePorts, from
    the chart's values (tests/reference/charts/llm-d-router-standalone) under the program's.
    """
    chart = yaml.safe_load((REFERENCE / "charts" / "llm-d-router-standalone" / "values.yaml").read_text())["router"]
    ours = program.one(RELEASE, "router").inputs["values"]["router"]
    router, epp = {**chart, **ours}, {**chart.get("epp", {}), **ours.get("epp", {})}
    ports = [
        {"name": "grpc-ext-proc", "protocol": "TCP", "port": epp.get("extProcPort", 9002)},
        {"name": "http-metrics", "protocol": "TCP", "port": router.get("metricsPort", 9090)},
        *router["extraServicePorts"],
    ]
    return SimpleNamespace(inputs={"metadata": {"name": inference_router.SERVICE}, "spec": {"ports": ports}})
# Every setting that changes the Services of namespace llm or the pods in it: the serving mode, the
# router, the workload as a Job or a CronJob, one node or several (the prefetch Job).
SETTINGS = {
    "minikube-vllm-job": {"workloadJob": True},
    "minikube-vllm-router-cronjob": {"router": True, "workloadJob": True, "workloadSchedule": "0 */6 * * *"},
    "simulator": {"servingMode": "simulator", "instanceType": "m7i.2xlarge", "workloadJob": True},
    "eks-several-gpu-nodes": {"clusterBackend": "eks", "gpuNodes": 2, "workloadJob": True},
}


def reference_names(file: str) -> set[str]:
    lines = (REFERENCE / file).read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def extracted_names(*packages: Path) -> set[str]:
    """What the reference files hold for vLLM and Llama Stack, read the same way from installed source."""
    refresh = sys.modules.get("refresh_reference")
    if refresh is None:  # registered before it runs, as its dataclasses need (tests/test_refresh_reference.py too)
        spec = importlib.util.spec_from_file_location("refresh_reference", ROOT / "scripts" / "refresh-reference.py")
        refresh = sys.modules["refresh_reference"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(refresh)
    return set(refresh.package_env_names([path.read_text() for package in packages for path in package.rglob("*.py")]))


def services_in_llm(program: Program, settings: dict[str, Any]) -> list:
    return services_in(program, LLM_NAMESPACE) + ([router_chart_service(program)] if settings.get("router") else [])


def pod_templates(program: Program) -> dict[str, dict[str, Any]]:
    """Every pod spec the program writes in namespace llm, and the one it configures through a chart."""
    pods: dict[str, dict[str, Any]] = {}
    for resource in program.resources:
        if resource.inputs.get("metadata", {}).get("namespace") != LLM_NAMESPACE:
            continue
        spec = resource.inputs.get("spec", {})
        if resource.type in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"):
            pods[resource.name] = spec["template"]["spec"]
        elif resource.type == "kubernetes:batch/v1:CronJob":
            pods[resource.name] = spec["jobTemplate"]["spec"]["template"]["spec"]
    # llm-d-modelservice v0.4.12 writes decode.enableServiceLinks into the decode Deployment's pod spec
    # (templates/decode-deployment.yaml), and nothing when the key is absent.
    pods["model servers (decode)"] = program.one(RELEASE, "modelservice").inputs["values"]["decode"]
    return pods


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def setting(request) -> tuple[dict[str, Any], Program]:
    return SETTINGS[request.param], run_program("dev", SETTINGS[request.param])


def test_every_pod_template_in_namespace_llm_turns_service_links_off(setting):
    _, program = setting
    pods = pod_templates(program)
    # Llama Stack, the prefetch Job (one node), the workload, and the model servers are all here.
    assert any("llama-stack" in name for name in pods) and any("workload" in name for name in pods)
    assert {name: pod.get("enableServiceLinks") for name, pod in pods.items()} == dict.fromkeys(pods, False)


def test_no_app_reads_a_variable_any_service_of_the_namespace_would_inject(setting):
    settings, program = setting
    injected = set(service_link_env(services_in_llm(program, settings)))
    assert {"MODEL_SERVER_PORT", "LLAMASTACK_PORT"} <= injected
    assert ("ROUTER_EPP_PORT_8081_TCP" in injected) == bool(settings.get("router"))
    client = Path(importlib.util.find_spec("llama_stack_client").origin).parent
    workload_env = {item["name"] for name, pod in pod_templates(program).items() if "workload" in name
                    for container in pod["containers"] for item in container["env"]}
    read = {
        "vLLM v0.33.0": reference_names("vllm-envs.txt"),
        "Llama Stack 0.7.3": reference_names("llama-stack-envs.txt"),
        "the workload": extracted_names(ROOT / "workload", client) | workload_env,
    }
    assert {app: sorted(names & injected) for app, names in read.items()} == dict.fromkeys(read, [])


def test_llama_stack_is_told_its_port_rather_than_left_to_its_environment(dev_program):
    [container] = dev_program.one("kubernetes:apps/v1:Deployment", "llama-stack").inputs["spec"]["template"]["spec"][
        "containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["LLAMA_STACK_PORT"] == "8321" and container["ports"][0]["containerPort"] == 8321


def test_the_reference_lists_hold_the_names_that_broke_the_servers():
    """The lists are what the test above relies on: they must hold the two names seen to crash."""
    assert "VLLM_PORT" in reference_names("vllm-envs.txt")
    assert "LLAMA_STACK_PORT" in reference_names("llama-stack-envs.txt")


def test_service_link_variables_are_those_the_kubelet_writes():
    service = SimpleNamespace(inputs={"metadata": {"name": "llama-stack"},
                                      "spec": {"ports": [{"name": "http", "port": 8321, "protocol": "TCP"}]}})
    assert set(service_link_env([service])) == {
        "LLAMA_STACK_SERVICE_HOST", "LLAMA_STACK_SERVICE_PORT", "LLAMA_STACK_SERVICE_PORT_HTTP", "LLAMA_STACK_PORT",
        "LLAMA_STACK_PORT_8321_TCP", "LLAMA_STACK_PORT_8321_TCP_PROTO", "LLAMA_STACK_PORT_8321_TCP_PORT",
        "LLAMA_STACK_PORT_8321_TCP_ADDR",
    }
