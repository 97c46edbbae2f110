"""The README's versions tables are stack/versions.py, row for row: every chart, image, host tool and package."""

from __future__ import annotations

import re
from pathlib import Path

from stack import versions

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# The README writes an app version the project does not track as a dash.
NOT_TRACKED = "—"


def _versions_section() -> str:
    return README.split("\n## Versions\n", 1)[1].split("\n## ", 1)[0]


def test_readme_chart_table_matches_versions():
    rows = re.findall(
        rf"^\| `([\w.-]+)` \| ((?:https|oci)://\S+) \| `([\w.-]+)` \| ([\w.-]+|{NOT_TRACKED}) \|$",
        _versions_section(),
        re.MULTILINE,
    )
    expected = {(c.name, c.repo, c.version, c.app_version or NOT_TRACKED) for c in versions.HELM_CHARTS}
    assert set(rows) == expected
    assert len(rows) == len(expected)


# What the image tables write in the digest column of an image pinned by tag only.
TAG_ONLY = "— (tag only: below)"


def test_readme_image_tables_match_versions():
    rows = re.findall(
        rf"^\| `([\w./-]+)` \| `([\w.-]+)` \| (`sha256:[0-9a-f]{{64}}`|{re.escape(TAG_ONLY)}) \|$", _versions_section(), re.MULTILINE
    )
    images = (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES)
    expected = {(i.name, i.tag, f"`{i.digest}`" if i.digest else TAG_ONLY) for i in images}
    assert set(rows) == expected
    assert len(rows) == len(expected)


def test_readme_lists_every_image_pinned_by_tag_only_with_its_reason():
    rows = re.findall(r"^\| `([\w./:-]+)` \| ([^|`]+) \|$", _versions_section(), re.MULTILINE)
    assert rows == [(image.tagged, why) for image, why in versions.DIGEST_EXCEPTIONS.items()]


def test_readme_tool_and_package_tables_match_versions():
    rows = re.findall(r"^\| ([^`|]+?) \| `([^`]+)` \|$", _versions_section(), re.MULTILINE)
    expected = {(pin.name, pin.version) for pin in (*versions.HOST_TOOLS, *versions.WORKLOAD_PACKAGES)}
    assert set(rows) == expected
    assert len(rows) == len(expected)


def test_every_chart_and_image_is_pinned_exactly():
    for chart in versions.HELM_CHARTS:
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", chart.version), chart
        assert chart.repo.startswith(("https://", "oci://")), chart
    for image in versions.IMAGES:
        assert image.tag and image.tag != "latest", image
    for package in versions.WORKLOAD_PACKAGES:
        assert re.fullmatch(r"\d+\.\d+\.\d+", package.version), package


def test_the_oci_router_chart_is_installed_by_reference_without_a_repository():
    from components.helm import chart_source

    source = chart_source(versions.LLM_D_ROUTER)
    assert source == {"chart": "oci://ghcr.io/llm-d/charts/llm-d-router-standalone", "version": "v0.10.0"}
    assert "repository_opts" in chart_source(versions.LLM_D_MODELSERVICE)


def test_the_epp_image_is_released_with_its_chart():
    # Only the EPP's tag is set in the router values: it must be the chart's own version.
    assert versions.LLM_D_EPP_IMAGE.tag == versions.LLM_D_ROUTER.version == versions.LLM_D_ROUTER.app_version


def test_the_epp_image_is_the_one_the_router_chart_names():
    from tests.platform_support import chart_reference

    # The standalone chart takes its EPP from its llm-d-routerlib dependency.
    image = chart_reference("llm-d-routerlib")["epp"]["image"]
    epp = versions.LLM_D_EPP_IMAGE
    assert f"{image['registry']}/{image['repository']}" == f"{epp.registry}/{epp.repository}"


def test_the_workload_packages_are_the_ones_the_tests_run_the_workload_with():
    dev_requirements = (ROOT / "requirements-dev.txt").read_text().split()
    for package in versions.WORKLOAD_PACKAGES:
        assert package.requirement in dev_requirements, package


def test_chart_default_images_are_what_the_reference_charts_ship():
    """Setting a chart's own image only to add its digest must not change the image: registry, repository
    and tag are the chart's defaults at the pinned version (an empty default tag is the chart's app version)."""
    from tests.platform_support import chart_reference

    kps = chart_reference("kube-prometheus-stack")
    grafana = chart_reference("grafana")
    ksm = chart_reference("kube-state-metrics")
    node_exporter = chart_reference("prometheus-node-exporter")["image"]
    router = chart_reference("llm-d-router-standalone")
    operator = kps["prometheusOperator"]
    shipped = {
        versions.PROMETHEUS_OPERATOR_IMAGE: operator["image"],
        versions.CONFIG_RELOADER_IMAGE: operator["prometheusConfigReloader"]["image"],
        versions.WEBHOOK_CERTGEN_IMAGE: operator["admissionWebhooks"]["patch"]["image"],
        versions.KUBE_STATE_METRICS_IMAGE: ksm["image"],
        versions.GRAFANA_SIDECAR_IMAGE: grafana["sidecar"]["image"],
        versions.GRAFANA_INIT_IMAGE: grafana["initChownData"]["image"],
    }
    assert (node_exporter["registry"], node_exporter["repository"], node_exporter["tag"]) == (
        versions.NODE_EXPORTER_IMAGE.registry, versions.NODE_EXPORTER_IMAGE.repository, "")
    for image, default in shipped.items():
        assert (image.registry, image.repository) == (default["registry"], default["repository"]), image
        assert image.tag == (default["tag"] or image.tag), image
    # Empty default tags: the operator and reloader take kube-prometheus-stack's appVersion, the subcharts
    # v + their own appVersion (kube-state-metrics 2.20.0, node-exporter 1.12.1 at 8.4.0 and 4.56.1).
    assert versions.PROMETHEUS_OPERATOR_IMAGE.tag == versions.KUBE_PROMETHEUS_STACK.app_version
    assert versions.CONFIG_RELOADER_IMAGE.tag == versions.KUBE_PROMETHEUS_STACK.app_version
    assert versions.KUBE_STATE_METRICS_IMAGE.tag == "v2.20.0"
    # kube-prometheus-stack turns the subchart's distroless variant on: the template appends -distroless.
    assert kps["prometheus-node-exporter"]["image"]["distroless"] is True
    assert versions.NODE_EXPORTER_IMAGE.tag == "v1.12.1-distroless"
    assert router["router"]["proxy"]["presets"]["envoy"]["image"] == versions.ENVOY_PROXY_IMAGE.tagged
    # The device plugin chart's image is v + its appVersion, which equals the chart version.
    assert versions.DEVICE_PLUGIN_IMAGE.tag == f"v{versions.NVIDIA_DEVICE_PLUGIN.version}"
