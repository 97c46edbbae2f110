"""scripts/preview_guard.py on previews shaped like `pulumi preview --json` output (its `steps`)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PREFIX = "urn:pulumi:prod::llm-observability::llmobs:aws:GpuHost$"


def _guard(tmp_path, steps: list[dict]) -> subprocess.CompletedProcess:
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps({"steps": steps, "changeSummary": {}}))
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "preview_guard.py"), str(preview)], capture_output=True, text=True
    )


def test_an_update_that_keeps_the_host_and_the_data_passes(tmp_path):
    result = _guard(
        tmp_path,
        [
            {"op": "same", "urn": PREFIX + "aws:ec2/instance:Instance::llm-observability-prod-instance"},
            {"op": "update", "urn": PREFIX + "aws:ec2/securityGroup:SecurityGroup::llm-observability-prod-sg"},
            {"op": "replace", "urn": PREFIX + "command:remote:Command::llm-observability-prod-start"},
        ],
    )
    assert result.returncode == 0, result.stderr


def test_replacing_the_host_or_deleting_the_data_volume_or_the_eks_cluster_is_refused(tmp_path):
    result = _guard(
        tmp_path,
        [
            {"op": "create-replacement", "urn": PREFIX + "aws:ec2/instance:Instance::llm-observability-prod-instance"},
            {"op": "replace", "urn": PREFIX + "aws:ec2/instance:Instance::llm-observability-prod-instance"},
            {"op": "delete", "urn": PREFIX + "aws:ebs/volume:Volume::llm-observability-prod-data"},
            {
                "op": "delete",
                "urn": "urn:pulumi:prod::llm-observability::llmobs:cluster:EksCluster$eks:index:Cluster$"
                "aws:eks/cluster:Cluster::llm-observability-prod-eksCluster",
            },
        ],
    )
    assert result.returncode == 1
    assert "the GPU host (llm-observability-prod-instance): create-replacement" in result.stderr
    assert "the data volume (llm-observability-prod-data): delete" in result.stderr
    assert "the EKS cluster (llm-observability-prod-eksCluster): delete" in result.stderr
    assert "allow-replacement" in result.stderr
