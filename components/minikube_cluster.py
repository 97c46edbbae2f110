"""MiniKube on the GPU host, driven over SSH, and the Kubernetes provider every later component uses."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s
import yaml

from components.cluster import ClusterFacts

SCRIPTS = Path(__file__).parent / "scripts"
# Left to the host itself: sshd, Docker, cloud-init and the page cache of model weights.
HOST_RESERVED_VCPU = 2
HOST_RESERVED_MEMORY_GIB = 8
# The node's address on the host's Docker network, fixed (--static-ip) so NetworkPolicies can name it:
# MiniKube's own first choice (192.168.49.0/24, the node at .2), so an existing node keeps its address.
NODE_IP = "192.168.49.2"
# Where the API server listens inside the node (MiniKube's default); the host publishes it as api_port.
# Service kubernetes.default leads here, and Calico judges a pod's packets after kube-proxy's DNAT.
NODE_API_PORT = 8443


@dataclass(frozen=True)
class GpuMetricsAgent:
    """The pinned CloudWatch agent package and the configuration it runs with."""

    package_url: str
    package_sha256: str
    config_json: str


@dataclass(frozen=True)
class ClaimOwner:
    """A claim whose pods run as a fixed user: its directory on the data volume is handed to that user."""

    namespace: str
    claim: str
    uid: int
    gid: int

    @property
    def argument(self) -> str:
        return f"{self.namespace}/{self.claim}={self.uid}:{self.gid}"


@dataclass(frozen=True)
class MinikubeClusterArgs:
    host_ip: pulumi.Input[str]
    ssh_user: str
    private_key: pulumi.Input[str]
    host_id: pulumi.Input[str]
    data_volume_id: pulumi.Input[str]
    # The remote steps start once the data volume is attached to this host.
    data_attachment: pulumi.Resource
    vcpu: int
    memory_gib: int
    gpu_count: int
    kubernetes_version: str
    minikube_version: str
    kubectl_version: str
    api_port: int
    storage_class: str
    gpu_metrics_agent: GpuMetricsAgent | None = None
    # MiniKube's hostpath volumes take no fsGroup: these claims' directories are handed to their users.
    claim_owners: tuple[ClaimOwner, ...] = ()


def node_size(vcpu: int, memory_gib: int) -> tuple[int, int]:
    """CPUs and at most how many MiB the MiniKube node gets: the instance less what the host keeps.

    The CPUs are exact. The memory is an upper bound for planning (the config's fit check): on the host
    the node gets what the OS reports available less the same reserve (start-minikube.sh), since the
    OS never sees all of the type's nominal memory.
    """
    cpus = max(2, vcpu - HOST_RESERVED_VCPU)
    memory_mib = max(4096, (memory_gib - HOST_RESERVED_MEMORY_GIB) * 1024)
    return cpus, memory_mib


def public_kubeconfig(kubeconfig: str, host_ip: str, api_port: int) -> str:
    """MiniKube's kubeconfig, pointed at the host's public address instead of the host's loopback."""
    config = yaml.safe_load(kubeconfig)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://{host_ip}:{api_port}"
    return yaml.safe_dump(config, sort_keys=False)


def _script(name: str, *args: pulumi.Input) -> tuple[pulumi.Output[str], str]:
    """Runs one of our scripts on the host, fed through stdin, with quoted arguments: (command, stdin)."""
    create = pulumi.Output.all(*args).apply(
        lambda values: " ".join(["bash -s --", *(shlex.quote(str(v)) for v in values)])
    )
    return create, (SCRIPTS / name).read_text()


class MinikubeCluster(pulumi.ComponentResource):
    """Starts MiniKube with the GPUs, proves the GPUs are schedulable, and exposes a provider for it.

    The remote commands have no delete step: the cluster lives and dies with its host, so
    `pulumi destroy` never needs to reach it. Its volumes' data does not: it is on the data volume.
    Tool versions are installed by a step of their own, so a version bump re-runs steps on the same
    host instead of replacing it.
    """

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    facts: ClusterFacts

    def __init__(self, name: str, args: MinikubeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:cluster:MinikubeCluster", name, None, opts)
        connection = command.remote.ConnectionArgs(
            host=args.host_ip,
            user=args.ssh_user,
            private_key=args.private_key,
            dial_error_limit=60,
            per_dial_timeout=10,
        )
        steps = [
            ("wait-for-host", _script("wait-for-host.sh")),
            ("mount-data", _script("mount-data.sh", args.data_volume_id)),
            *(
                [("own-claims", _script("own-claims.sh", *(owner.argument for owner in args.claim_owners)))]
                if args.claim_owners
                else []
            ),
            ("tools", _script("install-tools.sh", args.minikube_version, args.kubectl_version)),
            *(
                [
                    (
                        "gpu-metrics",
                        _script(
                            "gpu-metrics-agent.sh",
                            args.gpu_metrics_agent.package_url,
                            args.gpu_metrics_agent.package_sha256,
                            args.gpu_metrics_agent.config_json,
                        ),
                    )
                ]
                if args.gpu_metrics_agent
                else []
            ),
            (
                "start",
                _script(
                    "start-minikube.sh",
                    node_size(args.vcpu, args.memory_gib)[0],
                    HOST_RESERVED_MEMORY_GIB * 1024,
                    args.kubernetes_version,
                    args.host_ip,
                    args.api_port,
                    NODE_IP,
                    args.gpu_count,
                ),
            ),
            # A CPU host (no-GPU simulator mode) has no GPUs to prove.
            *([("verify-gpus", _script("verify-gpus.sh", args.gpu_count))] if args.gpu_count else []),
            ("kubeconfig", _script("kubeconfig.sh")),
        ]
        previous: pulumi.Resource | None = None
        for step, (create, stdin) in steps:
            previous = command.remote.Command(
                f"{name}-{step}",
                connection=connection,
                create=create,
                stdin=stdin,
                # A new host (replaced instance) runs every step again.
                triggers=[args.host_id],
                # The kubeconfig holds the cluster admin's client key: secret as an output, and kept out
                # of `pulumi up`'s log (which shows a command's stdout unless told not to).
                logging=command.remote.Logging.STDERR if step == "kubeconfig" else None,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[previous] if previous else [args.data_attachment],
                    additional_secret_outputs=["stdout"] if step == "kubeconfig" else [],
                ),
            )
        kubeconfig_command = previous
        assert isinstance(kubeconfig_command, command.remote.Command)

        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(kubeconfig_command.stdout, args.host_ip).apply(
                lambda values: public_kubeconfig(values[0], values[1], args.api_port)
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # No deleteUnreachable here: it also applies to `pulumi refresh`, which would then drop every
            # object from the state whenever the idle guard has stopped the host, and the next `up` would
            # collide with the objects still on the cluster. Destroy needs no cluster (deletedWith the host)
            # and sets PULUMI_K8S_DELETE_UNREACHABLE itself (scripts/destroy.sh, the teardown workflow).
            opts=pulumi.ResourceOptions(parent=self),
        )
        # One node holds every GPU and everything else: no selectors, no tolerations needed.
        self.facts = ClusterFacts(
            backend="minikube",
            gpu_nodes=1,
            gpus_per_node=args.gpu_count,
            storage_class=args.storage_class,
            api_server_cidrs=(f"{NODE_IP}/32",),
            api_server_ports=(NODE_API_PORT,),
            node_cidrs=(f"{NODE_IP}/32",),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})
