"""The GPU host: one EC2 instance from the NVIDIA driver AMI, locked down, ready for MiniKube."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls
import yaml

SCRIPTS = Path(__file__).parent / "scripts"
SSH_PORT = 22
# Session Manager is the only AWS API the host itself needs.
SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


@dataclass(frozen=True)
class GpuHostArgs:
    instance_type: str
    root_volume_gib: int
    allowed_cidrs: tuple[str, ...]
    kube_api_port: int
    ami_id: str | None
    ami_ssm_parameter: str
    subnet_id: str | None
    ssh_user: str
    minikube_version: str
    kubectl_version: str
    tags: Mapping[str, str]
    # 0 on the CPU types of the no-GPU (simulator) mode: no NVIDIA runtime, no GPU check.
    gpu_count: int
    spot_instances: bool = False


def render_cloud_init(minikube_version: str, kubectl_version: str, ssh_user: str, gpu_count: int) -> str:
    """cloud-config that installs the pinned tools and gives Docker the NVIDIA runtime (when there are GPUs)."""
    config = {
        "write_files": [
            {
                "path": "/etc/sysctl.d/99-minikube-gpu.conf",
                "permissions": "0644",
                "content": "net.core.bpf_jit_harden = 0\n",
            },
            {
                "path": "/usr/local/sbin/prepare-gpu-host",
                "permissions": "0755",
                "content": (SCRIPTS / "prepare-host.sh").read_text(),
            },
        ],
        "runcmd": [
            ["/usr/local/sbin/prepare-gpu-host", minikube_version, kubectl_version, ssh_user, str(gpu_count)]
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False)


def spot_market_options() -> dict:
    """Spot capacity that keeps the host's disk and address: a persistent request, stopped on interruption.

    A one-time request cannot be stopped (by us, or by the idle guard); a persistent one can, and AWS
    restarts it when capacity returns. Terminating the instance (``pulumi destroy``) cancels the request.
    """
    return {
        "market_type": "spot",
        "spot_options": {
            "spot_instance_type": "persistent",
            "instance_interruption_behavior": "stop",
        },
    }


def _ingress_rules(cidrs: tuple[str, ...], ports: Mapping[str, int]) -> list[dict]:
    ipv4 = [c for c in cidrs if ":" not in c]
    ipv6 = [c for c in cidrs if ":" in c]
    return [
        {
            "description": description,
            "protocol": "tcp",
            "from_port": port,
            "to_port": port,
            "cidr_blocks": ipv4,
            "ipv6_cidr_blocks": ipv6,
        }
        for description, port in ports.items()
    ]


class GpuHost(pulumi.ComponentResource):
    """EC2 GPU instance with an Elastic IP, a generated SSH key and only SSH and the Kubernetes API open."""

    public_ip: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    spot_request_id: pulumi.Output[str | None]
    ssh_user: str
    private_key_openssh: pulumi.Output[str]

    def __init__(self, name: str, args: GpuHostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:aws:GpuHost", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        ssh_key = tls.PrivateKey(f"{name}-ssh", algorithm="ED25519", opts=child)
        key_pair = aws.ec2.KeyPair(
            f"{name}-ssh", public_key=ssh_key.public_key_openssh, tags=tags, opts=child
        )

        if args.subnet_id:
            vpc_id = aws.ec2.get_subnet_output(id=args.subnet_id, opts=pulumi.InvokeOutputOptions(parent=self)).vpc_id
        else:
            vpc_id = aws.ec2.get_vpc_output(default=True, opts=pulumi.InvokeOutputOptions(parent=self)).id

        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="SSH and the Kubernetes API from allowedCidrs only",
            vpc_id=vpc_id,
            ingress=_ingress_rules(
                args.allowed_cidrs, {"SSH": SSH_PORT, "Kubernetes API": args.kube_api_port}
            ),
            egress=[
                {
                    "description": "Images, model weights and package downloads",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_blocks": ["0.0.0.0/0"],
                    "ipv6_cidr_blocks": ["::/0"],
                }
            ],
            tags=tags,
            opts=child,
        )

        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm", role=role.name, policy_arn=SSM_MANAGED_POLICY, opts=child
        )
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, tags=tags, opts=child)

        ami_id = args.ami_id or aws.ssm.get_parameter_output(
            name=args.ami_ssm_parameter, opts=pulumi.InvokeOutputOptions(parent=self)
        ).value

        instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=ami_id,
            instance_type=args.instance_type,
            instance_market_options=spot_market_options() if args.spot_instances else None,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[security_group.id],
            key_name=key_pair.key_name,
            iam_instance_profile=profile.name,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                # One hop: containers (and so every pod) cannot reach the instance's credentials.
                "http_put_response_hop_limit": 1,
            },
            root_block_device={
                "volume_type": "gp3",
                "volume_size": args.root_volume_gib,
                "encrypted": True,
                "delete_on_termination": True,
                "tags": tags,
            },
            user_data=render_cloud_init(
                args.minikube_version, args.kubectl_version, args.ssh_user, args.gpu_count
            ),
            # cloud-init runs once: a changed bootstrap means a new host, not a silently stale one.
            user_data_replace_on_change=True,
            tags={**tags, "Name": f"{name}"},
            # A newer AMI behind the SSM parameter must not replace a running host on the next `up`;
            # set amiId (or `pulumi up --replace`) to move deliberately.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )
        address = aws.ec2.Eip(f"{name}-eip", domain="vpc", tags=tags, opts=child)
        association = aws.ec2.EipAssociation(
            f"{name}-eip",
            instance_id=instance.id,
            allocation_id=address.allocation_id,
            # An address is on one instance at a time: a replaced host gets it only once the old one let go.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        # Read through the association, so whatever connects to the host waits until the address is on it.
        self.public_ip = association.public_ip
        self.instance_id = instance.id
        self.spot_request_id = instance.spot_instance_request_id
        self.ssh_user = args.ssh_user
        self.private_key_openssh = pulumi.Output.secret(ssh_key.private_key_openssh)
        self.register_outputs(
            {
                "public_ip": self.public_ip,
                "instance_id": self.instance_id,
                "private_key_openssh": self.private_key_openssh,
            }
        )
