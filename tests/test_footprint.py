"""The observability stack leaves the node to inference: requests and limits everywhere, small totals."""

from __future__ import annotations

from tests import footprint
from tests.platform_support import chart_reference, releases, walk


def _values(program) -> dict:
    return {chart: release.inputs.get("values", {}) for chart, release in releases(program).items()}


def test_every_container_has_cpu_and_memory_requests_and_limits(dev_program):
    for row in footprint.rows(_values(dev_program)):
        for kind in ("requests", "limits"):
            assert set(row.resources[kind]) == {"cpu", "memory"}, f"{row.path}: {kind}"
        assert footprint.cpu_millis(row.resources["requests"]["cpu"]) <= footprint.cpu_millis(row.resources["limits"]["cpu"])
        assert footprint.memory_mib(row.resources["requests"]["memory"]) <= footprint.memory_mib(
            row.resources["limits"]["memory"]
        )


def test_the_stack_requests_at_most_4_vcpu_and_12_gib(dev_program):
    table = footprint.rows(_values(dev_program))
    assert sum(r.cpu_millis for r in table) <= footprint.MAX_CPU_MILLIS
    assert sum(r.memory_mib for r in table) <= footprint.MAX_MEMORY_MIB


def test_every_resources_block_the_program_sets_is_in_the_inventory(dev_program):
    """A resources block set but not counted would escape the budget."""
    inventory = {(chart, path) for chart, path, _, _ in footprint.CONTAINERS}
    for chart, values in _values(dev_program).items():
        for path, value in walk(values):
            if path and path[-1] == "resources" and isinstance(value, dict) and "volumeClaimTemplate" not in path:
                assert (chart, ".".join(path)) in inventory, f"{chart}: {'.'.join(path)}"


def test_containers_outside_the_inventory_are_off_in_the_charts_defaults():
    kps = chart_reference("kube-prometheus-stack")
    assert kps["prometheusOperator"]["admissionWebhooks"]["deployment"]["enabled"] is False
    assert kps["thanosRuler"]["enabled"] is False
    assert kps["windowsMonitoring"]["enabled"] is False
    assert kps["crds"]["upgradeJob"]["enabled"] is False
    grafana = chart_reference("grafana")
    assert grafana["imageRenderer"]["enabled"] is False
    assert grafana["sidecar"]["datasources"]["initDatasources"] is False
    assert grafana["sidecar"]["dashboards"]["initDashboards"] is False
    assert chart_reference("tempo")["tempoQuery"]["enabled"] is False


def test_readme_states_the_measured_totals(dev_program):
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = footprint.rows(_values(dev_program))
    cpu = sum(r.cpu_millis for r in table) / 1000
    memory = sum(r.memory_mib for r in table) / 1024
    assert f"request **{cpu:.2f} vCPU and {memory:.2f} GiB**" in readme
