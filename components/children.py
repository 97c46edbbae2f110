"""Options for a component's children that keep the component's own dependencies.

Pulumi does not pass a component's ``depends_on`` down to its children: a child is created as soon as
it is declared. The workloads' components are given ``depends_on=[namespace]``; their children must
wait for it too, or they race the namespace they live in.
"""

from __future__ import annotations

from typing import Any, Sequence

import pulumi


def child_options(
    parent: pulumi.Resource,
    opts: pulumi.ResourceOptions | None,
    depends_on: Sequence[pulumi.Resource] = (),
    **options: Any,
) -> pulumi.ResourceOptions:
    inherited = opts.depends_on if opts is not None and opts.depends_on is not None else []
    if isinstance(inherited, pulumi.Resource):
        inherited = [inherited]
    return pulumi.ResourceOptions(parent=parent, depends_on=[*inherited, *depends_on], **options)
