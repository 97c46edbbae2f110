"""Every value the program sets for the workload charts (llm-d-modelservice, the llm-d router) exists in
the chart at the pinned version (tests/reference/charts)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.harness import Program, run_program
from tests.platform_support import REFERENCE_CHARTS

CHART = REFERENCE_CHARTS / "llm-d-modelservice"
# Keys the chart's templates read that values.yaml does not spell out: extraConfig is rendered into the
# container spec (templates/_helpers.tpl, "llm-d-modelservice.container"), and decode-deployment.yaml
# renders decode.tolerations and, when the key is present, decode.enableServiceLinks (values.yaml has it
# only in a comment) into the pod spec.
TEMPLATE_ONLY_KEYS = {
    ("decode", "containers", "*", "extraConfig"), ("decode", "tolerations"), ("decode", "enableServiceLinks"),
}


def _paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Key paths down to the leaves; list items become "*". Free-form maps (labels, probes, placement) stop early."""
    if isinstance(values, dict):
        for key, value in values.items():
            path = (*prefix, key)
            yield path
            if key not in {"labels", "resources", "extraConfig", "requests", "limits", "env", "args", "nodeSelector", "tolerations"}:
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


VARIANTS = {
    "dev": {},
    "simulator": {"servingMode": "simulator", "instanceType": "m7i.xlarge"},
    # GPU node pools: nodeSelector and tolerations, no shared cache claim.
    "eks": {"clusterBackend": "eks", "gpuNodes": 2},
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def values(request) -> dict:
    program: Program = run_program("dev", VARIANTS[request.param])
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
        # The proxy's own image overrides its preset's: routerlib's templates/_helpers.tpl (llm-d-router.proxy,
        # v0.10.0) merges router.proxy over router.proxy.presets.<type>; values.yaml only says so in a comment.
        and path != ("router", "proxy", "image")
    ]
    assert unknown == []
