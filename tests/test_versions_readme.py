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


def test_readme_image_tables_match_versions():
    rows = re.findall(r"^\| `([\w./-]+)` \| `([\w.-]+)` \|$", _versions_section(), re.MULTILINE)
    images = (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES)
    expected = {(f"{i.registry}/{i.repository}", i.tag) for i in images}
    assert set(rows) == expected
    assert len(rows) == len(expected)


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
    from tests.platform_support import chart_reference

    kps = chart_reference("kube-prometheus-stack")
    grafana = chart_reference("grafana")
    shipped = {
        "jkroepke/kube-webhook-certgen": kps["prometheusOperator"]["admissionWebhooks"]["patch"]["image"]["tag"],
        "kiwigrid/k8s-sidecar": grafana["sidecar"]["image"]["tag"],
    }
    pinned = {i.repository: i.tag for i in versions.CHART_DEFAULT_IMAGES}
    for repository, tag in shipped.items():
        assert pinned[repository] == tag, repository
    # The operator and its config reloader follow the chart's appVersion.
    assert pinned["prometheus-operator/prometheus-operator"] == versions.KUBE_PROMETHEUS_STACK.app_version
    assert pinned["prometheus-operator/prometheus-config-reloader"] == versions.KUBE_PROMETHEUS_STACK.app_version
