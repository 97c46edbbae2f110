"""The cluster's own defences, on the objects the real program declares: Pod Security Admission on every
namespace it creates, the privileged exporters alone in theirs."""

from __future__ import annotations

import pytest

from tests.harness import run_program
from tests.platform_support import values_of

NAMESPACE = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"
PSA = "pod-security.kubernetes.io"
EXPORTERS = "monitoring-exporters"


@pytest.fixture(scope="module")
def eks_program():
    return run_program("dev", {"clusterBackend": "eks", "gpuNodes": 1})


def _namespaces(program) -> dict[str, dict[str, str]]:
    return {r.inputs["metadata"]["name"]: r.inputs["metadata"].get("labels") or {} for r in program.of_type(NAMESPACE)}


@pytest.mark.parametrize("backend", ["minikube", "eks"])
def test_every_namespace_enforces_baseline_except_the_exporters_own(backend, dev_program, eks_program):
    program = dev_program if backend == "minikube" else eks_program
    namespaces = _namespaces(program)
    assert {"monitoring", "llm", EXPORTERS} <= set(namespaces)
    for name, labels in namespaces.items():
        expected = "privileged" if name == EXPORTERS else "baseline"
        assert labels.get(f"{PSA}/enforce") == expected, name
        assert labels.get(f"{PSA}/enforce-version"), f"{name}: the standard is pinned to a version"


def test_the_model_servers_namespace_warns_what_restricted_would_refuse(dev_program):
    labels = _namespaces(dev_program)["llm"]
    assert labels[f"{PSA}/warn"] == "restricted" and labels[f"{PSA}/audit"] == "restricted"


def test_only_the_host_reading_exporters_run_in_the_privileged_namespace(dev_program):
    in_exporters = {r.inputs["chart"] for r in dev_program.of_type(RELEASE) if r.inputs["namespace"] == EXPORTERS}
    assert in_exporters == {"dcgm-exporter"}
    assert values_of(dev_program, "kube-prometheus-stack")["prometheus-node-exporter"]["namespaceOverride"] == EXPORTERS
