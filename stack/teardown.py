"""How an environment comes down: everything in the cluster goes with the instance it runs on.

`pulumi destroy` must finish when the host is stopped, gone or unreachable from where it runs, and must
not spend its time uninstalling Helm releases from a machine about to be terminated. MiniKube's objects
cost nothing once the host is gone (no cloud load balancers; their volumes' data is on the data volume,
which stays), so every Kubernetes object is marked ``deleted_with`` the EC2 instance: Pulumi then skips
its delete call whenever the instance is deleted in the same operation, by a destroy or by a
replacement (a new AMI, subnet, ...), where the old objects go with the old host instead of being
deleted through the old provider at the new host behind the same address. The remote commands have no delete step either, and
`make destroy` sets PULUMI_K8S_DELETE_UNREACHABLE for any other case (not the provider: that would
also make `pulumi refresh` of a stopped host forget every object).
"""

from __future__ import annotations

import pulumi

KUBERNETES_TYPE_PREFIX = "kubernetes:"


def cluster_objects_die_with(host: pulumi.Resource) -> None:
    """From now on, every Kubernetes object the program declares is deleted with ``host`` (the instance)."""

    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith(KUBERNETES_TYPE_PREFIX) or args.opts.deleted_with is not None:
            return None
        return pulumi.ResourceTransformationResult(
            props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(deleted_with=host))
        )

    pulumi.runtime.register_stack_transformation(transformation)
