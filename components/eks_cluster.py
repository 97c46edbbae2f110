"""A new Amazon EKS cluster for teams that outgrow one host: GPU nodes for serving, CPU nodes for the rest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.cluster import GPU_NODE_LABELS, GPU_TOLERATIONS, SYSTEM_NODE_LABELS, ClusterFacts
from components.helm import chart_source
from stack.versions import HelmChart

NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
# EKS-optimized Amazon Linux 2023 AMIs: the accelerated one brings the NVIDIA driver and container toolkit.
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
SYSTEM_ROOT_VOLUME_GIB = 100


@dataclass(frozen=True)
class EksClusterArgs:
    kubernetes_version: str
    gpu_instance_type: str
    gpu_nodes: int
    gpus_per_node: int
    gpu_root_volume_gib: int
    system_instance_type: str
    system_nodes: int
    subnet_ids: tuple[str, ...]
    allowed_cidrs: tuple[str, ...]
    storage_class: str
    device_plugin_chart: HelmChart
    tags: Mapping[str, str]


def _assume_role_policy(service: str, actions: list[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}],
        }
    )


class EksCluster(pulumi.ComponentResource):
    """EKS with a tainted GPU node group, a system node group, encrypted gp3 storage and the device plugin."""

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    facts: ClusterFacts
    cluster_name: str

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:cluster:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        tags = dict(args.tags)

        if args.subnet_ids:
            vpc_id = aws.ec2.get_subnet_output(id=args.subnet_ids[0], opts=invoke).vpc_id
            subnet_ids: pulumi.Input[list[str]] = list(args.subnet_ids)
        else:
            vpc_id = aws.ec2.get_vpc_output(default=True, opts=invoke).id
            subnet_ids = aws.ec2.get_subnets_output(
                filters=[
                    {"name": "vpc-id", "values": [vpc_id]},
                    {"name": "default-for-az", "values": ["true"]},
                ],
                opts=invoke,
            ).ids

        node_role = aws.iam.Role(
            f"{name}-node",
            assume_role_policy=_assume_role_policy("ec2.amazonaws.com", ["sts:AssumeRole"]),
            tags=tags,
            opts=child,
        )
        for index, policy in enumerate(NODE_POLICIES):
            aws.iam.RolePolicyAttachment(f"{name}-node-{index}", role=node_role.name, policy_arn=policy, opts=child)

        cluster = eks.Cluster(
            f"{name}-eks",
            name=name,
            version=args.kubernetes_version,
            vpc_id=vpc_id,
            subnet_ids=subnet_ids,
            skip_default_node_group=True,
            authentication_mode=eks.AuthenticationMode.API,
            endpoint_private_access=True,
            endpoint_public_access=True,
            public_access_cidrs=list(args.allowed_cidrs),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            # The VPC CNI's network policy agent enforces the stack's NetworkPolicies (off by default).
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            tags=tags,
            opts=child,
        )

        def node_group(pool: str, instance_type: str, size: int, disk_gib: int, **extra) -> eks.ManagedNodeGroup:
            template = aws.ec2.LaunchTemplate(
                f"{name}-{pool}",
                metadata_options={
                    "http_endpoint": "enabled",
                    "http_tokens": "required",
                    # Pods use EKS Pod Identity, never the node's role.
                    "http_put_response_hop_limit": 1,
                },
                block_device_mappings=[
                    {
                        "device_name": "/dev/xvda",
                        "ebs": {
                            "volume_type": "gp3",
                            "volume_size": disk_gib,
                            "encrypted": "true",
                            "delete_on_termination": "true",
                        },
                    }
                ],
                tag_specifications=[{"resource_type": "instance", "tags": tags}],
                tags=tags,
                opts=child,
            )
            return eks.ManagedNodeGroup(
                f"{name}-{pool}",
                cluster=cluster,
                node_role=node_role,
                instance_types=[instance_type],
                scaling_config={"desired_size": size, "min_size": size, "max_size": size},
                launch_template={"id": template.id, "version": template.latest_version.apply(str)},
                tags=tags,
                opts=child,
                **extra,
            )

        system_nodes = node_group("system", args.system_instance_type, args.system_nodes, SYSTEM_ROOT_VOLUME_GIB,
                   ami_type=SYSTEM_AMI_TYPE, labels=dict(SYSTEM_NODE_LABELS))
        gpu_nodes = node_group(
            "gpu",
            args.gpu_instance_type,
            args.gpu_nodes,
            args.gpu_root_volume_gib,
            ami_type=GPU_AMI_TYPE,
            labels=dict(GPU_NODE_LABELS),
            taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        )

        # Persistent volumes: the EBS CSI driver, authorised through EKS Pod Identity.
        # The add-ons' pods need nodes: an add-on created before them waits for ACTIVE until it times out.
        with_nodes = [cluster, system_nodes, gpu_nodes]
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=with_nodes)
        pod_identity = aws.eks.Addon(
            f"{name}-pod-identity", cluster_name=name, addon_name="eks-pod-identity-agent", tags=tags,
            opts=after_cluster,
        )
        csi_role = aws.iam.Role(
            f"{name}-ebs-csi",
            assume_role_policy=_assume_role_policy("pods.eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-ebs-csi", role=csi_role.name, policy_arn=EBS_CSI_POLICY, opts=child)
        ebs_csi = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=name,
            addon_name="aws-ebs-csi-driver",
            pod_identity_associations=[{"role_arn": csi_role.arn, "service_account": "ebs-csi-controller-sa"}],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*with_nodes, pod_identity]),
        )

        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig_json)
        # Every object on the cluster uses this provider, so it waits for the nodes and the volume driver,
        # and `pulumi destroy` removes all of it (volume claims included) while the EBS CSI driver and the
        # nodes it runs on still exist to delete the volumes behind the claims.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ebs_csi, system_nodes, gpu_nodes]),
        )

        k8s.storage.v1.StorageClass(
            f"{name}-{args.storage_class}",
            metadata={
                "name": args.storage_class,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs_csi]),
        )
        # The accelerated AMI has the driver; the device plugin makes the GPUs schedulable. Its chart
        # defaults already select nodes labelled nvidia.com/gpu.present=true and tolerate the GPU taint.
        k8s.helm.v3.Release(
            f"{name}-device-plugin",
            **chart_source(args.device_plugin_chart),
            namespace="kube-system",
            values={"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[gpu_nodes]),
        )

        self.cluster_name = name
        self.facts = ClusterFacts(
            backend="eks",
            gpu_nodes=args.gpu_nodes,
            gpus_per_node=args.gpus_per_node,
            storage_class=args.storage_class,
            gpu_node_selector=GPU_NODE_LABELS,
            gpu_tolerations=GPU_TOLERATIONS,
            system_node_selector=SYSTEM_NODE_LABELS,
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "cluster_name": self.cluster_name})
