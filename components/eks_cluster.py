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
from components.iam import assume_role_policy
from stack.versions import HelmChart, Image

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
# Zones (by AZ ID, which is the same in every account) where EKS does not place control planes: a cluster
# with a subnet there fails with UnsupportedAvailabilityZoneException (EKS user guide, "Cluster VPC and
# subnet requirements"; pulumi-eks#1401). AZ names differ per account, so subnets are chosen by AZ ID.
EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})
# The control plane's logs (api, audit, authenticator) in a log group of the stack's own.
CONTROL_PLANE_LOG_RETENTION_DAYS = 30
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
HTTPS_PORT = 443
EKS_API_SERVER_CLUSTER_IPS = ("10.100.0.1/32", "172.20.0.1/32")


@dataclass(frozen=True)
class Subnet:
    id: str
    zone_id: str


@dataclass(frozen=True)
class SubnetPlan:
    """Where the control plane (and the system nodes) go, and where the GPU nodes go."""

    cluster: tuple[str, ...]
    gpu_nodes: tuple[str, ...]


def plan_subnets(
    candidates: list[Subnet], gpu_zone_ids: set[str], gpu_instance_type: str, given: bool
) -> SubnetPlan:
    """Subnets in zones EKS supports, at least two zones; GPU nodes where the GPU type is offered too.

    Raises, naming the setting to give, when the candidates (the default VPC's, or eksSubnetIds) cannot
    hold a cluster.
    """
    setting = "llm-observability:eksSubnetIds"
    source = f"{setting} {[s.id for s in candidates]}" if given else "the default VPC"
    if given:
        refused = [f"{s.id} ({s.zone_id})" for s in candidates if s.zone_id in EKS_UNSUPPORTED_ZONE_IDS]
        if refused:
            raise pulumi.RunError(
                f"{setting}: {refused} are in zones where EKS places no control plane; allowed: subnets in "
                f"other zones (any zone but {sorted(EKS_UNSUPPORTED_ZONE_IDS)})"
            )
    usable = [s for s in candidates if s.zone_id not in EKS_UNSUPPORTED_ZONE_IDS]
    if len({s.zone_id for s in usable}) < 2:
        raise pulumi.RunError(
            f"{setting}: {source} has subnets in fewer than two zones EKS supports "
            f"({sorted({s.zone_id for s in usable})}); allowed: two or more subnets in different zones, "
            f"given as {setting}"
        )
    gpu = [s.id for s in usable if s.zone_id in gpu_zone_ids]
    if not gpu:
        raise pulumi.RunError(
            f"llm-observability:instanceType: {gpu_instance_type} is offered in none of the zones of {source} "
            f"({sorted({s.zone_id for s in usable})}; offered in {sorted(gpu_zone_ids)}); allowed: another "
            f"instanceType, or {setting} with a subnet in a zone that offers it"
        )
    return SubnetPlan(cluster=tuple(s.id for s in usable), gpu_nodes=tuple(gpu))


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
    device_plugin_image: Image
    tags: Mapping[str, str]
    # IAM users and roles (people, CI) that administer the cluster, beside the identity that created it.
    admin_principal_arns: tuple[str, ...] = ()
    # prod: volumes are kept when their claims go, and the cluster cannot be deleted by accident.
    keep_data: bool = False


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

        # Looked up before anything is created, so that a VPC that cannot hold the cluster is refused.
        lookup = pulumi.InvokeOptions(parent=self)
        if args.subnet_ids:
            vpc_id = aws.ec2.get_subnet_output(id=args.subnet_ids[0], opts=invoke).vpc_id
            candidate_ids = list(args.subnet_ids)
        else:
            default_vpc = aws.ec2.get_vpc(default=True, opts=lookup).id
            vpc_id = pulumi.Output.from_input(default_vpc)
            candidate_ids = aws.ec2.get_subnets(
                filters=[
                    {"name": "vpc-id", "values": [default_vpc]},
                    {"name": "default-for-az", "values": ["true"]},
                ],
                opts=lookup,
            ).ids
        found = {subnet_id: aws.ec2.get_subnet(id=subnet_id, opts=lookup) for subnet_id in candidate_ids}
        candidates = [Subnet(subnet_id, subnet.availability_zone_id) for subnet_id, subnet in found.items()]
        gpu_zone_ids = set(
            aws.ec2.get_instance_type_offerings(
                location_type="availability-zone-id",
                filters=[{"name": "instance-type", "values": [args.gpu_instance_type]}],
                opts=lookup,
            ).locations
        )
        subnets = plan_subnets(candidates, gpu_zone_ids, args.gpu_instance_type, given=bool(args.subnet_ids))

        node_role = aws.iam.Role(
            f"{name}-node",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        for index, policy in enumerate(NODE_POLICIES):
            aws.iam.RolePolicyAttachment(f"{name}-node-{index}", role=node_role.name, policy_arn=policy, opts=child)

        # EKS writes to /aws/eks/<cluster>/cluster and would create it, without retention, outside the
        # stack: declared here first, it expires and goes with the stack.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{name}/cluster",
            retention_in_days=CONTROL_PLANE_LOG_RETENTION_DAYS,
            tags=tags,
            opts=child,
        )
        # Kubernetes Secrets (the Grafana password, the receiver URLs, the HF token) envelope-encrypted in
        # etcd with a key of the stack's own, rotated yearly.
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"{name}: EKS Secrets encryption",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            tags=tags,
            opts=child,
        )
        cluster = eks.Cluster(
            f"{name}-eks",
            name=name,
            version=args.kubernetes_version,
            vpc_id=vpc_id,
            subnet_ids=list(subnets.cluster),
            skip_default_node_group=True,
            authentication_mode=eks.AuthenticationMode.API,
            endpoint_private_access=True,
            endpoint_public_access=True,
            public_access_cidrs=list(args.allowed_cidrs),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            # The VPC CNI's network policy agent enforces the stack's NetworkPolicies (off by default).
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            encryption_config_key_arn=secrets_key.arn,
            access_entries={
                f"admin-{index}": {
                    "principal_arn": arn,
                    "access_policies": {
                        "cluster-admin": {
                            "policy_arn": CLUSTER_ADMIN_POLICY,
                            "access_scope": {"type": "cluster"},
                        }
                    },
                }
                for index, arn in enumerate(args.admin_principal_arns)
            },
            deletion_protection=args.keep_data,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )

        def node_group(
            pool: str, instance_type: str, size: int, disk_gib: int, subnet_ids: tuple[str, ...], **extra
        ) -> eks.ManagedNodeGroup:
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
                subnet_ids=list(subnet_ids),
                scaling_config={"desired_size": size, "min_size": size, "max_size": size},
                launch_template={"id": template.id, "version": template.latest_version.apply(str)},
                tags=tags,
                opts=child,
                **extra,
            )

        system_nodes = node_group("system", args.system_instance_type, args.system_nodes, SYSTEM_ROOT_VOLUME_GIB,
                   subnets.cluster, ami_type=SYSTEM_AMI_TYPE, labels=dict(SYSTEM_NODE_LABELS))
        gpu_nodes = node_group(
            "gpu",
            args.gpu_instance_type,
            args.gpu_nodes,
            args.gpu_root_volume_gib,
            subnets.gpu_nodes,
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
            assume_role_policy=assume_role_policy("pods.eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-ebs-csi", role=csi_role.name, policy_arn=EBS_CSI_POLICY, opts=child)
        ebs_csi = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=name,
            addon_name="aws-ebs-csi-driver",
            # Every volume the driver creates carries the stack's tags: what the teardown check looks for.
            configuration_values=json.dumps({"controller": {"extraVolumeTags": tags}}, sort_keys=True),
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
            # prod keeps a volume when its claim goes (the data outlives a mistaken delete); dev cleans up.
            reclaim_policy="Retain" if args.keep_data else "Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs_csi]),
        )
        # The accelerated AMI has the driver; the device plugin makes the GPUs schedulable. Its chart
        # defaults already select nodes labelled nvidia.com/gpu.present=true and tolerate the GPU taint.
        k8s.helm.v3.Release(
            f"{name}-device-plugin",
            **chart_source(args.device_plugin_chart),
            namespace="kube-system",
            values={
                # The chart joins `repository:tag` (templates/_helpers.tpl at v0.19.0): a digest rides in the tag.
                "image": {"repository": args.device_plugin_image.name, "tag": args.device_plugin_image.tag_with_digest},
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            },
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
            # The VPC CNI's policy agent judges a pod's packets on the pod's veth, before kube-proxy's DNAT
            # (aws/amazon-network-policy-controller-k8s, pkg/resolvers/endpoints.go,
            # getMatchingServiceClusterIPs): the API server is Service kubernetes.default's ClusterIP on
            # 443, the first address of the service range, which EKS takes from 10.100.0.0/16 or
            # 172.20.0.0/16 when none is given (EKS API, KubernetesNetworkConfigRequest.serviceIpv4Cidr).
            api_server_cidrs=EKS_API_SERVER_CLUSTER_IPS,
            api_server_ports=(HTTPS_PORT,),
            # The nodes, and the control plane's network interfaces, live in these subnets.
            node_cidrs=tuple(
                sorted({found[subnet_id].cidr_block for subnet_id in (*subnets.cluster, *subnets.gpu_nodes)})
            ),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "cluster_name": self.cluster_name})
