"""Refuses a `pulumi up` whose preview would replace or delete what holds the data or costs the most to
rebuild: the GPU instance, the data volume, the EKS cluster.

CI runs it on prod between `pulumi preview --json` and `pulumi up`; a run started with the workflow's
`allow-replacement` input skips it. Usage: python scripts/preview_guard.py PREVIEW_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

GUARDED_TYPES = {
    "aws:ec2/instance:Instance": "the GPU host",
    "aws:ebs/volume:Volume": "the data volume",
    "aws:eks/cluster:Cluster": "the EKS cluster",
}
# The engine's step operations that end with the old resource gone.
DESTRUCTIVE_OPS = {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}


def resource_type(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<parent types>$<type>::<name> -> <type>."""
    return urn.split("::")[2].split("$")[-1]


def refused_steps(preview: dict) -> list[str]:
    """One line per guarded resource the preview would replace or delete."""
    found: dict[str, str] = {}
    for step in preview.get("steps", []):
        kind = resource_type(step["urn"])
        if step.get("op") in DESTRUCTIVE_OPS and kind in GUARDED_TYPES:
            found.setdefault(step["urn"], f"{GUARDED_TYPES[kind]} ({step['urn'].rsplit('::', 1)[-1]}): {step['op']}")
    return sorted(found.values())


def main(argv: list[str]) -> int:
    preview = json.loads(Path(argv[1]).read_text())
    refused = refused_steps(preview)
    if not refused:
        print("preview guard: the host, the data volume and the cluster stay")
        return 0
    print("preview guard: this update would replace or delete", file=sys.stderr)
    for line in refused:
        print(f"  - {line}", file=sys.stderr)
    print(
        "Nothing was changed. If that is intended (see the README's 'Changing a deployed stack'), run the "
        "deploy workflow by hand with allow-replacement checked.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
