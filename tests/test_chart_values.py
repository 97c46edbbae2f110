"""Every llm-d-modelservice value the program sets exists in the chart (../shared/reference/charts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.harness import Program, run_program

CHART = Path(__file__).resolve().parents[2] / "shared" / "reference" / "charts" / "llm-d-modelservice"
if not CHART.exists():  # in development the worktree is not next to shared/
    CHART = Path("/work/shared/reference/charts/llm-d-modelservice")
# Keys the chart's templates read that values.yaml does not spell out (templates/_helpers.tpl,
# "llm-d-modelservice.container": extraConfig is rendered into the container spec).
TEMPLATE_ONLY_KEYS = {("decode", "containers", "*", "extraConfig")}

pytestmark = pytest.mark.skipif(
    not (CHART / "values.yaml").exists(), reason="../shared/reference/charts/llm-d-modelservice is absent"
)


def _paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Key paths down to the leaves; list items become '*'. Free-form maps (labels, probes) stop early."""
    if isinstance(values, dict):
        for key, value in values.items():
            path = (*prefix, key)
            yield path
            if key not in {"labels", "resources", "extraConfig", "requests", "limits", "env", "args"}:
                yield from _paths(value, path)
    elif isinstance(values, list):
        for item in values:
            if isinstance(item, dict):
                yield from _paths(item, (*prefix, "*"))


def _inside_kubernetes_object(path: tuple[str, ...]) -> bool:
    """Volumes, ports and mounts are Kubernetes objects the chart copies as they are, not chart keys."""
    return any(key in {"volumes", "ports", "volumeMounts"} and index + 2 < len(path) for index, key in enumerate(path))


def _defaults_have(defaults: Any, path: tuple[str, ...]) -> bool:
    node = defaults
    for key in path:
        if key == "*":
            if not isinstance(node, list) or not node:
                return False
            node = node[0]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False
    return True


@pytest.fixture(scope="module", params=["dev", "simulator"])
def values(request) -> dict:
    overrides = {"servingMode": "simulator", "instanceType": "m7i.xlarge"} if request.param == "simulator" else {}
    program: Program = run_program("dev", overrides)
    return program.one("kubernetes:helm.sh/v3:Release", "modelservice").inputs["values"]


def test_every_value_key_exists_in_the_charts_values_yaml(values):
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    unknown = [
        ".".join(path)
        for path in _paths(values)
        if not _defaults_have(defaults, path) and path not in TEMPLATE_ONLY_KEYS
        and not _inside_kubernetes_object(path)
    ]
    assert unknown == []


def test_values_validate_against_the_charts_schema(values):
    schema = json.loads((CHART / "values.schema.json").read_text())
    # The schema points at Kubernetes' own schemas online; accept those parts (no network here).
    offline = Registry(retrieve=lambda uri: Resource.from_contents({}, default_specification=DRAFT7))
    validator = jsonschema.validators.validator_for(schema)(schema, registry=offline)
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(values)]
    assert errors == []


ROUTER_CHARTS = CHART.parent


@pytest.mark.skipif(
    not (ROUTER_CHARTS / "llm-d-router-standalone" / "values.yaml").exists(),
    reason="../shared/reference/charts/llm-d-router-standalone is absent",
)
def test_every_router_value_key_exists_in_the_standalone_chart_or_its_router_library():
    program = run_program("dev", {"router": True})
    values = program.one("kubernetes:helm.sh/v3:Release", "router").inputs["values"]
    standalone = yaml.safe_load((ROUTER_CHARTS / "llm-d-router-standalone" / "values.yaml").read_text())
    library = yaml.safe_load((ROUTER_CHARTS / "llm-d-routerlib" / "values.yaml").read_text())
    unknown = [
        ".".join(path)
        for path in _paths(values)
        if not _defaults_have(standalone, path)
        # The library chart is the subchart aliased as "router": its defaults sit under router.
        and not (path[0] == "router" and _defaults_have(library, path[1:]))
        # modelServers.matchLabels is required but only shown commented out in both values files.
        and path[:3] != ("router", "modelServers", "matchLabels")
    ]
    assert unknown == []
