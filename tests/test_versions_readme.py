"""The README's versions tables are stack/versions.py, row for row."""

from __future__ import annotations

import re
from pathlib import Path

from stack import versions

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _versions_section() -> str:
    return README.split("\n## Versions\n", 1)[1].split("\n## ", 1)[0]


def test_readme_chart_table_matches_versions():
    rows = re.findall(r"^\| `([\w.-]+)` \| (https://\S+) \| `([\w.-]+)` \| ([\w.-]+) \|$", _versions_section(), re.MULTILINE)
    expected = {(c.name, c.repo, c.version, c.app_version) for c in versions.HELM_CHARTS}
    assert set(rows) == expected
    assert len(rows) == len(expected)


def test_readme_image_table_matches_versions():
    rows = re.findall(r"^\| `([\w./-]+)` \| `([\w.-]+)` \|$", _versions_section(), re.MULTILINE)
    images = (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES)
    expected = {(f"{i.registry}/{i.repository}", i.tag) for i in images}
    assert set(rows) == expected
    assert len(rows) == len(expected)


def test_every_chart_and_image_is_pinned_exactly():
    for chart in versions.HELM_CHARTS:
        assert re.fullmatch(r"\d+\.\d+\.\d+", chart.version), chart
        assert chart.repo.startswith("https://"), chart
    for image in versions.IMAGES:
        assert image.tag and image.tag != "latest", image


def test_chart_default_images_are_what_the_reference_charts_ship():
    from tests.platform_support import chart_reference

    kps = chart_reference("kube-prometheus-stack")
    grafana = chart_reference("grafana")
    shipped = {
        "jkroepke/kube-webhook-certgen": kps["prometheusOperator"]["admissionWebhooks"]["patch"]["image"]["tag"],
        "kiwigrid/k8s-sidecar": grafana["sidecar"]["image"]["tag"],
        "library/busybox": grafana["initChownData"]["image"]["tag"],
    }
    pinned = {i.repository: i.tag for i in versions.CHART_DEFAULT_IMAGES}
    for repository, tag in shipped.items():
        assert pinned[repository] == tag, repository
    # The operator and its config reloader follow the chart's appVersion.
    assert pinned["prometheus-operator/prometheus-operator"] == versions.KUBE_PROMETHEUS_STACK.app_version
    assert pinned["prometheus-operator/prometheus-config-reloader"] == versions.KUBE_PROMETHEUS_STACK.app_version
