"""Every image the program runs is pinned by digest: its own pods' images, and what each chart's template
makes of the values we pass it.

Helm cannot run here, so each chart's rule for joining registry, repository, tag and digest is encoded
below from the chart's template at the pinned version (file named with each). They are the charts' rules
as read, and the only way the digest reaches a pod: a digest under a key the template does not read is
silently dropped, which these tests would catch as a pod image without one.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable

import pytest

from stack import versions
from tests.harness import Program, run_program
from tests.platform_support import REFERENCE, chart_reference

RELEASE = "kubernetes:helm.sh/v3:Release"
POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
PINNED = re.compile(r".+@sha256:[0-9a-f]{64}")
TAG_ONLY = {image.tagged for image in versions.DIGEST_EXCEPTIONS}
# The stacks that between them declare every image: vLLM with the router, the workload Job and its
# CronJob; the simulator; EKS with its device plugin.
PROGRAMS = {
    "vllm-router-workload": ("dev", {"router": True, "workloadJob": True, "workloadSchedule": "0 */6 * * *"}),
    "simulator": ("dev", {"servingMode": "simulator", "instanceType": "m7i.2xlarge", "workloadJob": True}),
    "eks": ("dev", {"clusterBackend": "eks", "gpuNodes": 1}),
}


def _merged(defaults: Any, values: Any) -> Any:
    if isinstance(defaults, dict) and isinstance(values, dict):
        merged = copy.deepcopy(defaults)
        for key, value in values.items():
            merged[key] = _merged(merged.get(key), value)
        return merged
    return copy.deepcopy(values)


def _sha_beside_tag(image: dict[str, Any], app_version: str = "") -> str:
    """kube-prometheus-stack 88.5.3 (templates/prometheus/prometheus.yaml, alertmanager/alertmanager.yaml,
    prometheus-operator/deployment.yaml, admission-webhooks/job-patch/job-createSecret.yaml) and grafana
    12.11.1 (templates/_pod.tpl): `registry/repository:tag`, then `@sha256:<sha>` when sha is set."""
    reference = f"{image['registry']}/{image['repository']}:{image.get('tag') or app_version}"
    return f"{reference}@sha256:{image['sha']}" if image.get("sha") else reference


def _digest_beside_tag(image: dict[str, Any], key: str, app_version: str, suffix: str = "") -> str:
    """kube-state-metrics 8.4.0 (`sha`) and prometheus-node-exporter 4.56.1 (`digest`, plus -distroless),
    templates/_helpers.tpl: `registry/repository:tag` (tag defaulting to v + appVersion), then `@<value>`."""
    reference = f"{image['registry']}/{image['repository']}:{image.get('tag') or 'v' + app_version}{suffix}"
    return f"{reference}@{image[key]}" if image.get(key) else reference


def kube_prometheus_stack_images(values: dict[str, Any]) -> list[str]:
    chart = _merged(chart_reference("kube-prometheus-stack"), values)
    operator = chart["prometheusOperator"]
    app = versions.KUBE_PROMETHEUS_STACK.app_version
    grafana = _merged(chart_reference("grafana"), chart["grafana"])
    ksm = _merged(chart_reference("kube-state-metrics"), chart["kube-state-metrics"])
    node_exporter = _merged(chart_reference("prometheus-node-exporter"), chart["prometheus-node-exporter"])
    distroless = "-distroless" if node_exporter["image"]["distroless"] else ""
    return [
        _sha_beside_tag(chart["prometheus"]["prometheusSpec"]["image"]),
        _sha_beside_tag(chart["alertmanager"]["alertmanagerSpec"]["image"]),
        _sha_beside_tag(operator["image"], app),
        # The operator puts this reference into every Prometheus and Alertmanager pod it creates.
        _sha_beside_tag(operator["prometheusConfigReloader"]["image"], app),
        _sha_beside_tag(operator["admissionWebhooks"]["patch"]["image"]),
        _sha_beside_tag(grafana["image"], "13.2.0"),
        _sha_beside_tag(grafana["sidecar"]["image"]),
        _sha_beside_tag(grafana["initChownData"]["image"]),
        _digest_beside_tag(ksm["image"], "sha", "2.20.0"),
        _digest_beside_tag(node_exporter["image"], "digest", "1.12.1", distroless),
    ]


def tempo_images(values: dict[str, Any]) -> list[str]:
    """tempo 2.2.4 templates/statefulset.yaml: `registry/repository:tag`, no digest key."""
    tempo = _merged(chart_reference("tempo"), values)["tempo"]
    return [f"{tempo['registry']}/{tempo['repository']}:{tempo['tag'] or versions.TEMPO.app_version}"]


def opentelemetry_collector_images(values: dict[str, Any]) -> list[str]:
    """opentelemetry-collector 0.170.0 templates/_pod.tpl: `repository@digest` when digest is set (the tag
    is dropped), else `repository:tag`."""
    image = _merged(chart_reference("opentelemetry-collector"), values)["image"]
    if image["digest"]:
        return [f"{image['repository']}@{image['digest']}"]
    return [f"{image['repository']}:{image['tag'] or versions.OPENTELEMETRY_COLLECTOR.app_version}"]


def dcgm_exporter_images(values: dict[str, Any]) -> list[str]:
    """dcgm-exporter 4.5.3-4.8.2 deployment/templates/daemonset.yaml: `repository:tag`, no digest key."""
    image = _merged(chart_reference("dcgm-exporter"), values)["image"]
    return [f"{image['repository']}:{image['tag']}"]


def router_images(values: dict[str, Any]) -> list[str]:
    """llm-d-router v0.10.0 routerlib templates/_deployment.yaml: the EPP is `registry/repository:tag`; the
    proxy sidecar is router.proxy.image merged over its preset (templates/_helpers.tpl, llm-d-router.proxy)."""
    router = _merged(chart_reference("llm-d-router-standalone")["router"], values["router"])
    epp = _merged(chart_reference("llm-d-routerlib")["epp"], router["epp"])["image"]
    proxy = _merged(router["proxy"]["presets"][router["proxy"]["proxyType"]], router["proxy"])
    return [f"{epp['registry']}/{epp['repository']}:{epp['tag']}", proxy["image"]]


def modelservice_images(values: dict[str, Any]) -> list[str]:
    """llm-d-modelservice v0.4.12: each container's `image` string as given."""
    return [c["image"] for role in ("decode", "prefill") for c in (values.get(role) or {}).get("containers", [])]


def device_plugin_images(values: dict[str, Any]) -> list[str]:
    """nvidia-device-plugin 0.19.0 templates/_helpers.tpl (fullimage): `repository:tag`, tag defaulting to
    v + appVersion, no digest key."""
    image = values.get("image", {})
    tag = image.get("tag") or f"v{versions.NVIDIA_DEVICE_PLUGIN.version}"
    return [f"{image.get('repository', 'nvcr.io/nvidia/k8s-device-plugin')}:{tag}"]


CHART_IMAGES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "kube-prometheus-stack": kube_prometheus_stack_images,
    "tempo": tempo_images,
    "opentelemetry-collector": opentelemetry_collector_images,
    "dcgm-exporter": dcgm_exporter_images,
    versions.LLM_D_ROUTER.reference: router_images,
    "llm-d-modelservice": modelservice_images,
    "nvidia-device-plugin": device_plugin_images,
}


def images_run(program: Program) -> dict[str, list[str]]:
    """Every image reference a pod would get, by the resource or release that sets it."""
    found: dict[str, list[str]] = {}
    for resource in program.resources:
        if resource.type == RELEASE:
            chart = resource.inputs["chart"]
            if chart in CHART_IMAGES:
                found[resource.name] = CHART_IMAGES[chart](resource.inputs.get("values") or {})
        elif resource.type in POD_SPEC_PATHS:
            spec: Any = resource.inputs
            for key in POD_SPEC_PATHS[resource.type]:
                spec = spec[key]
            found[resource.name] = [c["image"] for c in [*spec.get("initContainers", []), *spec["containers"]]]
    return found


@pytest.fixture(scope="module", params=sorted(PROGRAMS))
def program_images(request) -> dict[str, list[str]]:
    stack, overrides = PROGRAMS[request.param]
    return images_run(run_program(stack, overrides))


def test_every_image_the_program_runs_is_pinned_by_digest(program_images):
    unpinned = {
        where: image for where, images in program_images.items() for image in images
        if not PINNED.fullmatch(image) and image not in TAG_ONLY
    }
    assert unpinned == {}


def test_every_chart_the_program_installs_has_its_image_rule_encoded():
    charts = {r.inputs["chart"] for stack, overrides in PROGRAMS.values()
              for r in run_program(stack, overrides).of_type(RELEASE)}
    # The CRDs chart runs no pod.
    assert charts - {versions.PROMETHEUS_OPERATOR_CRDS.name} == set(CHART_IMAGES)


def test_the_images_that_run_are_exactly_the_pinned_ones():
    """Each chart renders the versions table's reference (the collector's chart drops the tag when a
    digest is given), so a digest set under a key the chart does not read would show here."""
    ran = {image for stack, overrides in PROGRAMS.values()
           for images in images_run(run_program(stack, overrides)).values() for image in images}
    collector = versions.OTEL_COLLECTOR_IMAGE
    expected = {image.reference for image in (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES)}
    expected = expected - {collector.reference} | {f"{collector.name}@{collector.digest}"}
    assert ran == expected


def test_an_image_is_pinned_by_tag_only_only_when_it_is_a_listed_exception():
    for image in (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES):
        assert bool(image.digest) != (image in versions.DIGEST_EXCEPTIONS), image
        assert PINNED.fullmatch(image.reference) or image in versions.DIGEST_EXCEPTIONS


def test_a_malformed_digest_is_refused_where_it_is_written():
    with pytest.raises(ValueError, match="sha256:<64 hex digits>"):
        versions.Image("docker.io", "library/busybox", "1.38.0", "sha256:abc")
    with pytest.raises(ValueError, match="sha256:<64 hex digits>"):
        versions.Image("docker.io", "library/busybox", "1.38.0", "f" * 64)


def test_every_digest_has_its_sources_recorded():
    """tests/reference/image-digests.txt says where each digest was read: one row per pinned image, the
    same digest, at least two sources."""
    rows = [line.split("\t") for line in (REFERENCE / "image-digests.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    recorded = {image: digest for image, digest, _, _ in rows}
    pinned = {i.tagged: i.digest for i in (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES) if i.digest}
    assert recorded == pinned
    assert all(len(sources.split("; ")) >= 2 for _, _, sources, _ in rows)
