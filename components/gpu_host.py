"""The GPU host: one EC2 instance from the NVIDIA driver AMI, locked down, ready for MiniKube.

The instance is disposable; the data is not. Everything the cluster stores in its volumes (metrics,
traces, Grafana's database, Alertmanager's silences, the model weights) lives on a separate encrypted
EBS volume in the same availability zone, which a replacement host mounts again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls
import yaml

from components.cost_guards import GPU_METRICS_NAMESPACE
from components.iam import assume_role_policy

SCRIPTS = Path(__file__).parent / "scripts"
SSH_PORT = 22
# Session Manager is the only AWS API the host itself needs.
# AWS's own policy for Data Lifecycle Manager to snapshot volumes on a schedule.
DLM_MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"
# What the host calls the data volume; on Nitro instances it appears as an NVMe device named by its id.
DATA_VOLUME_DEVICE = "/dev/sdf"
# The tag by which Data Lifecycle Manager finds the volume to snapshot (its value: the stack's name).
DATA_VOLUME_TAG = "llm-observability/data-volume"
SNAPSHOT_TIME_UTC = "03:00"


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
    tags: Mapping[str, str]
    # 0 on the CPU types of the no-GPU (simulator) mode: no NVIDIA runtime, no GPU check.
    gpu_count: int
    data_volume_gib: int
    # prod: the data volume is protected and outlives even `pulumi destroy` (retainOnDelete).
    keep_data: bool
    # Daily snapshots kept this many days by Data Lifecycle Manager; 0: none.
    snapshot_days: int
    # The CloudWatch agent may publish the GPU metrics the idle guard watches.
    publish_gpu_metrics: bool = False
    spot_instances: bool = False


def render_cloud_init(ssh_user: str, gpu_count: int) -> str:
    """cloud-config that gives Docker the NVIDIA runtime (when there are GPUs).

    Nothing versioned is in here: the tools are installed (and upgraded in place) by a remote command,
    so a version bump does not replace the host. What is here replaces the host when it changes.
    """
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
            ["/usr/local/sbin/prepare-gpu-host", ssh_user, str(gpu_count)]
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


def snapshot_policy_details(volume_tag_value: str, days: int) -> dict:
    """One daily snapshot of the data volume, the last ``days`` of them kept."""
    return {
        "resource_types": ["VOLUME"],
        "target_tags": {DATA_VOLUME_TAG: volume_tag_value},
        "schedules": [
            {
                "name": "daily",
                "create_rule": {"interval": 24, "interval_unit": "HOURS", "times": SNAPSHOT_TIME_UTC},
                "retain_rule": {"count": days},
                "copy_tags": True,
            }
        ],
    }


def _first_offering_zone(instance_type: str, zones: list[str]) -> str:
    if not zones:
        raise pulumi.RunError(
            f"instanceType: {instance_type!r} is not offered in any availability zone of this region; "
            "allowed: a type the region offers (aws ec2 describe-instance-type-offerings), or another aws:region"
        )
    return sorted(zones)[0]


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
    instance: aws.ec2.Instance
    instance_id: pulumi.Output[str]
    data_volume_id: pulumi.Output[str]
    # What the remote steps wait for before they mount the data volume.
    data_attachment: aws.ec2.VolumeAttachment
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

        invoke = pulumi.InvokeOutputOptions(parent=self)
        # The data volume lives in one availability zone: every host, the first and each replacement,
        # is pinned to it. The subnet decides it; without one, the first zone offering the type.
        if args.subnet_id:
            subnet = aws.ec2.get_subnet_output(id=args.subnet_id, opts=invoke)
            vpc_id = subnet.vpc_id
            zone = subnet.availability_zone
        else:
            vpc_id = aws.ec2.get_vpc_output(default=True, opts=invoke).id
            zone = aws.ec2.get_instance_type_offerings_output(
                location_type="availability-zone",
                filters=[{"name": "instance-type", "values": [args.instance_type]}],
                opts=invoke,
            ).locations.apply(lambda zones: _first_offering_zone(args.instance_type, zones))

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

        # The host's role grants only what the host uses: nothing, or publishing GPU metrics for the idle
        # guard. No Session Manager: access is SSH from allowedCidrs, and its managed policy could read
        # every Parameter Store value.
        role = aws.iam.Role(
            f"{name}-role", assume_role_policy=assume_role_policy("ec2.amazonaws.com"), tags=tags, opts=child
        )
        if args.publish_gpu_metrics:
            # The CloudWatch agent's GPU utilisation, and only into its own namespace.
            aws.iam.RolePolicy(
                f"{name}-gpu-metrics",
                role=role.name,
                policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "cloudwatch:PutMetricData",
                                "Resource": "*",
                                "Condition": {"StringEquals": {"cloudwatch:namespace": GPU_METRICS_NAMESPACE}},
                            }
                        ],
                    }
                ),
                opts=child,
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
            availability_zone=zone,
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
            user_data=render_cloud_init(args.ssh_user, args.gpu_count),
            # cloud-init runs once: a changed bootstrap means a new host, not a silently stale one.
            user_data_replace_on_change=True,
            tags={**tags, "Name": f"{name}"},
            # A newer AMI behind the SSM parameter must not replace a running host on the next `up`; a
            # given amiId is followed (a new host with the same data), so setting it is how to move.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=[] if args.ami_id else ["ami"]),
        )
        data_volume = aws.ebs.Volume(
            f"{name}-data",
            availability_zone=zone,
            size=args.data_volume_gib,
            type="gp3",
            encrypted=True,
            tags={**tags, "Name": f"{name}-data", DATA_VOLUME_TAG: name},
            # Not a child of the instance in any sense: a replaced host leaves it where it is.
            opts=pulumi.ResourceOptions(parent=self, protect=args.keep_data, retain_on_delete=args.keep_data),
        )
        self.data_attachment = aws.ec2.VolumeAttachment(
            f"{name}-data",
            instance_id=instance.id,
            volume_id=data_volume.id,
            device_name=DATA_VOLUME_DEVICE,
            # Detach from a stopped host, never from one still writing to it.
            stop_instance_before_detaching=True,
            # A volume is on one instance at a time: it leaves the old host before it joins the new one.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        if args.snapshot_days:
            snapshot_role = aws.iam.Role(
                f"{name}-snapshots", assume_role_policy=assume_role_policy("dlm.amazonaws.com"), tags=tags, opts=child
            )
            snapshot_access = aws.iam.RolePolicyAttachment(
                f"{name}-snapshots", role=snapshot_role.name, policy_arn=DLM_MANAGED_POLICY, opts=child
            )
            aws.dlm.LifecyclePolicy(
                f"{name}-snapshots",
                # DLM allows letters, digits, spaces, _ and - here.
                description=f"Daily snapshots of the {name} data volume kept {args.snapshot_days} days",
                execution_role_arn=snapshot_role.arn,
                state="ENABLED",
                policy_details=snapshot_policy_details(name, args.snapshot_days),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[snapshot_access]),
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
        self.instance = instance
        self.instance_id = instance.id
        self.data_volume_id = data_volume.id
        self.spot_request_id = instance.spot_instance_request_id
        self.ssh_user = args.ssh_user
        self.private_key_openssh = pulumi.Output.secret(ssh_key.private_key_openssh)
        self.register_outputs(
            {
                "public_ip": self.public_ip,
                "instance_id": self.instance_id,
                "data_volume_id": self.data_volume_id,
                "private_key_openssh": self.private_key_openssh,
            }
        )
