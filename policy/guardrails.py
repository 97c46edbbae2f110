"""The promises llm-observability makes, as Pulumi policies that act on resource types.

Each policy is a plain validation function ``(args, report_violation)`` so tests call it directly;
``__main__.py`` only assembles them into the pack the CLI runs with ``--policy-pack policy``.
Properties are the engine's (camelCase) resource inputs.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

# Ingress may cover at most a /8 of IPv4 or a /32 of IPv6 in all: judged by the address space the
# networks of one resource cover together, so 0.0.0.0/0 split into halves is the world too.
MAX_INGRESS_ADDRESSES = {4: 2**24, 6: 2**96}
# IPv6 ranges that carry IPv4 addresses (mapped, compatible, NAT64, 6to4): IPv4 in disguise.
IPV4_IN_IPV6 = tuple(ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "::/96", "64:ff9b::/96", "2002::/16"))

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
# The EKS control plane (pulumi-eks's Cluster creates one): its public endpoint is an ingress too.
EKS_CLUSTER = "aws:eks/cluster:Cluster"
INSTANCE = "aws:ec2/instance:Instance"
SPOT_INSTANCE_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EBS_VOLUME = "aws:ebs/volume:Volume"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART_V4 = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES = frozenset({HELM_RELEASE, HELM_CHART_V4})
SERVICE = "kubernetes:core/v1:Service"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# pulumi-eks's component (its inputs are all the program declares) and the control plane it creates.
EKS_COMPONENT = "eks:index:Cluster"

PROD_STACK = "prod"
# The one namespace whose pods may read the host (DCGM-Exporter, node-exporter): stack/platform.py.
PRIVILEGED_NAMESPACE = "monitoring-exporters"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
# AWS managed policies that grant far more than this stack's roles use.
BROAD_MANAGED_POLICIES = frozenset(
    f"arn:aws:iam::aws:policy/{name}"
    for name in ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AmazonS3FullAccess",
                 "AmazonEC2FullAccess", "AmazonSSMFullAccess", "AmazonSSMManagedInstanceCore")
)
# Egress never reaches link-local addresses: the instance metadata service (169.254.169.254, and
# fd00:ec2::254 over IPv6) hands out the node's IAM credentials, the EKS Pod Identity agent (169.254.170.23,
# fd00:ec2::23) a pod role's.
METADATA_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::/32"))
# Where the nodes, pods, services and the VPC live: RFC 1918, RFC 6598 shared space, "this network",
# loopback, IPv6 unique-local and loopback. An egress ipBlock reaches them only address by address (a
# /32: the API server, say), or with the NetworkPolicy's annotation saying why.
CLUSTER_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
              "fc00::/7", "::1/128")
)
PRIVATE_EGRESS_ANNOTATION = "llm-observability/private-egress"

# Pod fields that reach the host, and Helm value keys that set them.
HOST_ACCESS_FIELDS = ("hostNetwork", "hostPID", "hostIPC")
HOST_ACCESS_VALUE_KEYS = frozenset({"privileged", "hostnetwork", "hostpid", "hostipc"})

# Where a workload's pod template sits, per kind.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

# An exact chart version: SemVer 2.0, optionally with a leading v; nothing Helm would read as a range.
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
# Tags that move: an image pinned to one of these is not pinned.
FLOATING_TAGS = frozenset({"latest", "stable", "main", "master", "edge", "nightly", "dev", "head"})
EXPOSED_SERVICE_TYPES = frozenset({"LoadBalancer", "NodePort"})

# An image reference pinned by digest, and a digest alone (with and without its algorithm).
PINNED_BY_DIGEST = re.compile(r".+@sha256:[0-9a-f]{64}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
DIGEST_HEX = re.compile(r"[0-9a-f]{64}")
# The images stack/versions.py pins by tag only (its DIGEST_EXCEPTIONS, each with its reason): no digest of
# the exact tag could be corroborated. Written here too so the pack stays a control of its own; the tests
# check the two lists are the same, so a new exception needs both edits.
DIGEST_EXCEPTIONS = frozenset({
    "docker.io/vllm/vllm-openai:v0.33.0",
    "docker.io/llamastack/distribution-starter:0.7.3",
    "ghcr.io/jkroepke/kube-webhook-certgen:1.8.7",
    "quay.io/kiwigrid/k8s-sidecar:2.10.1",
    "docker.io/envoyproxy/envoy:distroless-v1.33.2",
    "nvcr.io/nvidia/k8s-device-plugin:v0.19.0",
})
# The charts' image keys, and how each chart's template adds a digest (the file at the version pinned):
#   sha     64 hex digits; the template writes "@sha256:" itself (kube-prometheus-stack 88.5.3, grafana 12.11.1)
#   digest  "sha256:<hex>" under the named key (kube-state-metrics 8.4.0 `sha`, prometheus-node-exporter
#           4.56.1 and opentelemetry-collector 0.170.0 `digest`)
#   tag     no digest key: the template joins repository:tag, so the digest rides in the tag (tempo 2.2.4,
#           dcgm-exporter 4.5.3-4.8.2, llm-d-router v0.10.0's EPP, nvidia-device-plugin 0.19.0)
# A key the values leave out is the chart's default image, which has no digest. Whole `image:` strings
# (llm-d-modelservice's containers, the router's proxy) are checked wherever they are.
CHART_IMAGE_KEYS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "kube-prometheus-stack": (
        ("prometheus.prometheusSpec.image", "sha", "sha"),
        ("alertmanager.alertmanagerSpec.image", "sha", "sha"),
        ("prometheusOperator.image", "sha", "sha"),
        ("prometheusOperator.prometheusConfigReloader.image", "sha", "sha"),
        ("prometheusOperator.admissionWebhooks.patch.image", "sha", "sha"),
        ("grafana.image", "sha", "sha"),
        ("grafana.sidecar.image", "sha", "sha"),
        ("grafana.initChownData.image", "sha", "sha"),
        ("kube-state-metrics.image", "digest", "sha"),
        ("prometheus-node-exporter.image", "digest", "digest"),
    ),
    "tempo": (("tempo", "tag", "tag"),),
    "opentelemetry-collector": (("image", "digest", "digest"),),
    "dcgm-exporter": (("image", "tag", "tag"),),
    "llm-d-router-standalone": (("router.epp.image", "tag", "tag"),),
    "nvidia-device-plugin": (("image", "tag", "tag"),),
}

# Helm value keys that hold a credential when given a literal...
SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth[_-]?key)",
    re.IGNORECASE,
)
# ...unless they name where the credential lives instead (an existing Secret, a key in it, a file).
SECRET_REFERENCE_KEY = re.compile(
    r"(existing[_-]?secret|secret[_-]?name|secret[_-]?ref|secret[_-]?key[_-]?ref|secretkeyref|"
    r"(password|token|user)[_-]?key$|(file|path|dir|mount|env|annotations?|enabled|create)$)",
    re.IGNORECASE,
)
# Values that are credentials whatever their key: PEM keys, AWS keys, common API-token prefixes, JWTs.
SECRET_VALUE = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|"
    r"\bhf_[A-Za-z0-9]{30,}\b|\bsk-[A-Za-z0-9_-]{20,}\b|\bxox[baprs]-[A-Za-z0-9-]{10,}\b|"
    r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)
# Placeholders that refer to a value provided elsewhere at run time.
REFERENCE_VALUE = re.compile(r"^(\$\{[^}]+\}|\$__(file|env)\{[^}]+\}|\{\{.*\}\})$")


# --- Helpers ------------------------------------------------------------------------------------------


def _get(props: Mapping[str, Any] | None, *path: str) -> Any:
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, value) pair in nested Helm values, lists indexed by position.

    Values not known yet during a preview (outputs of other resources) are skipped, so the rest of the
    values are still checked; the update checks them again once they are known.
    """
    yield path, value
    if isinstance(value, Mapping):
        children = [(str(key), key) for key in value]
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        children = [(str(index), index) for index in range(len(value))]
    else:
        return
    for name, key in children:
        try:
            child = value[key]
        except UnknownValueError:
            continue
        yield from _walk(child, (*path, name))


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path) or "<root>"


def image_problem(image: Any) -> str | None:
    """Why an image reference is not exact (None when it is: a digest, or a tag that does not move)."""
    if not isinstance(image, str) or not image:
        return "has no image"
    if "@sha256:" in image:
        return None
    last_segment = image.rsplit("/", 1)[-1]
    if ":" not in last_segment:
        return f"image {image!r} has no tag (Kubernetes pulls :latest)"
    tag = last_segment.rsplit(":", 1)[1]
    if tag.lower() in FLOATING_TAGS:
        return f"image {image!r} uses the moving tag {tag!r}"
    return None


def chart_version_problem(chart: Any, version: Any) -> str | None:
    if isinstance(chart, str) and chart.startswith((".", "/")):
        return None  # A chart from this repository is pinned by the commit.
    if not isinstance(version, str) or not version:
        return f"chart {chart!r} has no version (Helm takes the newest)"
    if not EXACT_VERSION.match(version):
        return f"chart {chart!r} version {version!r} is not one exact version (no ranges, wildcards or latest)"
    return None


# --- Validations -------------------------------------------------------------------------------------


def too_broad(cidrs: Sequence[Any]) -> str | None:
    """What is wrong with letting these networks in together, or None: judged by the addresses covered."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            return f"{cidr!r} is not a network"
        if isinstance(network, ipaddress.IPv6Network) and any(network.subnet_of(e) for e in IPV4_IN_IPV6):
            return f"{cidr} is IPv4 written as IPv6"
        networks.append(network)
    for version, limit in MAX_INGRESS_ADDRESSES.items():
        family = [n for n in networks if n.version == version]
        covered = sum(n.num_addresses for n in ipaddress.collapse_addresses(family))  # type: ignore[misc]
        if covered > limit:
            share = covered / 2 ** (32 if version == 4 else 128)
            return f"{', '.join(map(str, family))} cover {share:.2%} of all IPv{version} addresses"
    return None


def no_world_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    if args.resource_type == SECURITY_GROUP:
        cidrs = [
            cidr
            for rule in props.get("ingress") or []
            for cidr in [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]
        ]
        problem = too_broad(cidrs)
        if problem:
            report_violation(f"ingress is open too wide: {problem}; allow only the networks that need it (allowedCidrs)", None)
    elif args.resource_type == SECURITY_GROUP_RULE and props.get("type") == "ingress":
        problem = too_broad([*(props.get("cidrBlocks") or []), *(props.get("ipv6CidrBlocks") or [])])
        if problem:
            report_violation(f"ingress rule open too wide: {problem}", None)
    elif args.resource_type == VPC_INGRESS_RULE:
        problem = too_broad([c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c])
        if problem:
            report_violation(f"ingress rule open too wide: {problem}", None)
    elif args.resource_type == EKS_CLUSTER:
        vpc = props.get("vpcConfig") or {}
        if vpc.get("endpointPublicAccess") is False:
            return
        # AWS opens a public endpoint to 0.0.0.0/0 when no CIDRs are given.
        problem = too_broad(list(vpc.get("publicAccessCidrs") or []) or ["0.0.0.0/0"])
        if problem:
            report_violation(
                f"the public Kubernetes API endpoint is open too wide: {problem}; set publicAccessCidrs to the "
                "networks that need it (allowedCidrs) or turn the public endpoint off",
                None,
            )


def imdsv2_required(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (INSTANCE, SPOT_INSTANCE_REQUEST, LAUNCH_TEMPLATE):
        return
    options = args.props.get("metadataOptions") or {}
    if options.get("httpEndpoint") == "disabled":
        return
    if options.get("httpTokens") != "required":
        report_violation(
            "instance metadata must require session tokens (IMDSv2): set metadataOptions.httpTokens = required",
            None,
        )


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def encrypted_volumes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    if args.resource_type in (INSTANCE, SPOT_INSTANCE_REQUEST):
        if not _is_true(_get(props, "rootBlockDevice", "encrypted")):
            report_violation("the root volume must be encrypted: set rootBlockDevice.encrypted = true", None)
        for device in props.get("ebsBlockDevices") or []:
            if not _is_true(device.get("encrypted")):
                report_violation(f"volume {device.get('deviceName')} must be encrypted", None)
    elif args.resource_type == EBS_VOLUME:
        if not _is_true(props.get("encrypted")):
            report_violation("EBS volumes must be encrypted: set encrypted = true", None)
    elif args.resource_type == LAUNCH_TEMPLATE:
        for mapping in props.get("blockDeviceMappings") or []:
            ebs = mapping.get("ebs")
            if ebs is not None and not _is_true(ebs.get("encrypted")):
                report_violation(f"volume {mapping.get('deviceName')} must be encrypted", None)


def exact_chart_versions(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in HELM_TYPES:
        return
    problem = chart_version_problem(args.props.get("chart"), args.props.get("version"))
    if problem:
        report_violation(f"{problem}; pin it in stack/versions.py", None)


def exact_image_versions(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in POD_SPEC_PATHS:
        pod_spec = _get(args.props, *POD_SPEC_PATHS[args.resource_type]) or {}
        for list_name in CONTAINER_LISTS:
            for container in pod_spec.get(list_name) or []:
                problem = image_problem(container.get("image"))
                if problem:
                    report_violation(f"container {container.get('name')!r}: {problem}; pin a tag or digest", None)
    elif args.resource_type in HELM_TYPES:
        for path, value in _walk(args.props.get("values") or {}):
            key = path[-1].lower() if path else ""
            if key == "tag" and isinstance(value, str) and value.lower() in FLOATING_TAGS:
                report_violation(f"Helm value {_dotted(path)} = {value!r} is a moving tag; pin a version", None)
            elif key == "image" and isinstance(value, str) and image_problem(value):
                # A whole image reference as a value (a chart's plain `image:` string).
                report_violation(f"Helm value {_dotted(path)}: {image_problem(value)}", None)


def _tagged(image: Mapping[str, Any]) -> str:
    """registry/repository:tag of a chart's image map (registry where the chart has it apart)."""
    name = "/".join(str(part) for part in (image.get("registry"), image.get("repository")) if part)
    return f"{name}:{str(image.get('tag') or '').split('@')[0]}"


def chart_image_problem(image: Any, style: str, key: str) -> str | None:
    """Why a chart's image map does not pin a digest the chart will use, or None."""
    if not isinstance(image, Mapping):
        return "is not set: the chart's default image has no digest"
    if _tagged(image) in DIGEST_EXCEPTIONS:
        return None
    value = image.get(key)
    if style == "sha" and not (isinstance(value, str) and DIGEST_HEX.fullmatch(value)):
        return f"has no {key} (64 hex digits: the chart writes @sha256: itself)"
    if style == "digest" and not (isinstance(value, str) and DIGEST.fullmatch(value)):
        return f"has no {key} (sha256:<64 hex digits>)"
    if style == "tag" and not (isinstance(value, str) and PINNED_BY_DIGEST.fullmatch(value)):
        return "has no digest in its tag (<tag>@sha256:<64 hex digits>: the chart has no digest key)"
    return None


def images_pinned_by_digest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in POD_SPEC_PATHS:
        pod_spec = _get(args.props, *POD_SPEC_PATHS[args.resource_type]) or {}
        for list_name in CONTAINER_LISTS:
            for container in pod_spec.get(list_name) or []:
                image = container.get("image")
                if not (isinstance(image, str) and (PINNED_BY_DIGEST.fullmatch(image) or image in DIGEST_EXCEPTIONS)):
                    report_violation(
                        f"container {container.get('name')!r}: image {image!r} has no digest; pin "
                        "<image>:<tag>@sha256:<digest> (stack/versions.py)",
                        None,
                    )
    elif args.resource_type in HELM_TYPES:
        values = args.props.get("values") or {}
        chart = str(args.props.get("chart") or "").rsplit("/", 1)[-1]
        for dotted, style, key in CHART_IMAGE_KEYS.get(chart, ()):
            problem = chart_image_problem(_get(values, *dotted.split(".")), style, key)
            if problem:
                report_violation(f"Helm value {dotted} of chart {chart} {problem}; pin it in stack/versions.py", None)
        for path, value in _walk(values):
            if path and path[-1].lower() == "image" and isinstance(value, str):
                if not (PINNED_BY_DIGEST.fullmatch(value) or value in DIGEST_EXCEPTIONS):
                    report_violation(f"Helm value {_dotted(path)}: image {value!r} has no digest", None)


def no_external_services(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SERVICE:
        service_type = _get(args.props, "spec", "type")
        if service_type in EXPOSED_SERVICE_TYPES:
            report_violation(f"Service type {service_type} exposes the cluster; use ClusterIP and the tunnel", None)
    elif args.resource_type in HELM_TYPES:
        for path, value in _walk(args.props.get("values") or {}):
            if (
                path
                and path[-1] == "type"
                and value in EXPOSED_SERVICE_TYPES
                and any("service" in part.lower() for part in path[:-1])
            ):
                report_violation(
                    f"Helm value {_dotted(path)} = {value} exposes the cluster; use ClusterIP and the tunnel",
                    None,
                )


def no_plain_secrets_in_helm_values(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in HELM_TYPES:
        return
    for path, value in _walk(args.props.get("values") or {}):
        if not isinstance(value, str) or not value or REFERENCE_VALUE.match(value):
            continue
        key = path[-1] if path else ""
        if SECRET_VALUE.search(value):
            report_violation(
                f"Helm value {_dotted(path)} holds what looks like a credential; keep it in a Kubernetes "
                "Secret and point the chart at it (existingSecret / secretKeyRef)",
                None,
            )
        elif SECRET_KEY.search(key) and not SECRET_REFERENCE_KEY.search(key) and not key.isdigit():
            report_violation(
                f"Helm value {_dotted(path)} is a credential given in plain values (it lands in the Helm "
                "release and the state); keep it in a Kubernetes Secret and reference it (existingSecret)",
                None,
            )


def _namespace_of(args: ResourceValidationArgs) -> Any:
    return args.props.get("namespace") if args.resource_type in HELM_TYPES else _get(args.props, "metadata", "namespace")


def pod_security_namespaces(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != NAMESPACE:
        return
    name = _get(args.props, "metadata", "name")
    level = (_get(args.props, "metadata", "labels") or {}).get(PSA_ENFORCE)
    allowed = {"baseline", "restricted"} | ({"privileged"} if name == PRIVILEGED_NAMESPACE else set())
    if level not in allowed:
        report_violation(
            f"namespace {name!r} enforces Pod Security level {level!r}; label it {PSA_ENFORCE}=baseline or "
            f"restricted (privileged only in {PRIVILEGED_NAMESPACE})",
            None,
        )


def _pod_host_access(pod_spec: Mapping[str, Any]) -> list[str]:
    found = [f for f in HOST_ACCESS_FIELDS if pod_spec.get(f) is True]
    found += [f"hostPath volume {v.get('name')!r}" for v in pod_spec.get("volumes") or [] if v.get("hostPath")]
    for list_name in CONTAINER_LISTS:
        for container in pod_spec.get(list_name) or []:
            context = container.get("securityContext") or {}
            if context.get("privileged") is True:
                found.append(f"privileged container {container.get('name')!r}")
    return found


def no_privileged_pods(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Host access (privileged, host namespaces, hostPath) only in the exporters' namespace."""
    if _namespace_of(args) == PRIVILEGED_NAMESPACE:
        return
    if args.resource_type in POD_SPEC_PATHS:
        pod_spec = _get(args.props, *POD_SPEC_PATHS[args.resource_type]) or {}
        for access in _pod_host_access(pod_spec):
            report_violation(f"{access} outside {PRIVILEGED_NAMESPACE}; pods elsewhere get no host access", None)
    elif args.resource_type in HELM_TYPES:
        for path, value in _walk(args.props.get("values") or {}):
            if path and path[-1].lower() in HOST_ACCESS_VALUE_KEYS and value is True:
                report_violation(
                    f"Helm value {_dotted(path)} = true gives pods host access outside {PRIVILEGED_NAMESPACE}", None
                )


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = (document or {}).get("Statement") if isinstance(document, Mapping) else None
    return [statements] if isinstance(statements, Mapping) else list(statements or [])


def least_privilege_iam(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in (IAM_ROLE_POLICY, IAM_POLICY):
        for statement in _statements(args.props.get("policy")):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action")
            for action in [actions] if isinstance(actions, str) else list(actions or []):
                if action == "*" or str(action).endswith(":*"):
                    report_violation(f"IAM action {action!r} allows everything of a service; name the actions", None)
    elif args.resource_type == IAM_ATTACHMENT and args.props.get("policyArn") in BROAD_MANAGED_POLICIES:
        report_violation(f"{args.props.get('policyArn')} grants far more than a role of this stack uses", None)


def eks_secrets_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Kubernetes Secrets (the Grafana password, the receiver URLs, the HF token) encrypted with a KMS key."""
    if args.resource_type == EKS_COMPONENT:
        if not args.props.get("encryptionConfigKeyArn"):
            report_violation("EKS Secrets are not envelope-encrypted: set encryptionConfigKeyArn to a KMS key", None)
    elif args.resource_type == EKS_CLUSTER:
        configs = args.props.get("encryptionConfig") or {}
        resources = configs.get("resources") if isinstance(configs, Mapping) else None
        if not resources or "secrets" not in resources:
            report_violation("EKS Secrets are not envelope-encrypted: set encryptionConfig for secrets", None)


def _stack_of(urn: str) -> str:
    """A URN is urn:pulumi:<stack>::<project>::<type>::<name>."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1] if urn.startswith("urn:pulumi:") else ""


def _allowed_networks(block: Mapping[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks an ipBlock lets through: its cidr less every except."""
    remaining = [ipaddress.ip_network(str(block.get("cidr")), strict=False)]
    for excepted in block.get("except") or []:
        cut = ipaddress.ip_network(str(excepted), strict=False)
        kept: list[Any] = []
        for network in remaining:
            if network.version != cut.version or not network.overlaps(cut):
                kept.append(network)
            elif not network.subnet_of(cut):  # type: ignore[arg-type]
                kept.extend(network.address_exclude(cut))  # type: ignore[arg-type]
        remaining = kept
    return remaining


def _overlap(a: Any, b: Any) -> Any:
    """The common part of two networks (CIDRs are nested or disjoint), or None."""
    if a.version != b.version or not a.overlaps(b):
        return None
    return a if a.subnet_of(b) else b


def egress_ip_block_problems(block: Mapping[str, Any], explained: bool) -> list[str]:
    """Why an egress ipBlock reaches too far: the metadata service ever, cluster networks wholesale
    unless the policy says why (`explained`)."""
    try:
        allowed = _allowed_networks(block)
    except ValueError as error:
        return [f"ipBlock {dict(block)!r} is not a network: {error}"]
    problems = []
    cidr = block.get("cidr")
    for network in allowed:
        for metadata in METADATA_NETWORKS:
            if _overlap(network, metadata) is not None:
                problems.append(
                    f"egress ipBlock {cidr} reaches {_overlap(network, metadata)}, where the instance metadata "
                    f"service and the Pod Identity agent hand out credentials; add {metadata} to its except"
                )
        for private in CLUSTER_NETWORKS:
            part = _overlap(network, private)
            if part is not None and part.num_addresses > 1 and not explained:
                problems.append(
                    f"egress ipBlock {cidr} reaches {part} (nodes, pods and the VPC live in {private}); add it "
                    f"to the except, name single addresses, or say why in the annotation {PRIVATE_EGRESS_ANNOTATION}"
                )
    return problems


def egress_avoids_metadata_and_cluster_networks(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != NETWORK_POLICY:
        return
    annotations = _get(args.props, "metadata", "annotations") or {}
    explained = bool(str(annotations.get(PRIVATE_EGRESS_ANNOTATION) or "").strip())
    for rule in _get(args.props, "spec", "egress") or []:
        for peer in rule.get("to") or []:
            block = peer.get("ipBlock")
            if block is not None:
                for problem in egress_ip_block_problems(block, explained):
                    report_violation(problem, None)


def _selects_every_pod(selector: Any) -> bool:
    return isinstance(selector, Mapping) and not selector.get("matchLabels") and not selector.get("matchExpressions")


def default_deny_egress_per_namespace(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A pod taken over reaches only what an allow names: in every namespace the program creates, one
    NetworkPolicy selects every pod for Egress and allows nothing."""
    denied = set()
    for resource in args.resources:
        if resource.resource_type != NETWORK_POLICY:
            continue
        spec = resource.props.get("spec") or {}
        if (
            _selects_every_pod(spec.get("podSelector"))
            and "Egress" in (spec.get("policyTypes") or [])
            and not spec.get("egress")
        ):
            denied.add(_get(resource.props, "metadata", "namespace"))
    for resource in args.resources:
        if resource.resource_type == NAMESPACE:
            name = _get(resource.props, "metadata", "name")
            if name not in denied:
                report_violation(
                    f"namespace {name!r} has no default-deny egress NetworkPolicy (podSelector {{}}, policyTypes "
                    "[Egress], no egress rules): its pods reach the metadata service, the nodes and the internet",
                    resource.urn,
                )


def eks_deletion_protection_in_prod(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A prod cluster holds the data: deleting it takes an explicit step first."""
    if args.resource_type in (EKS_COMPONENT, EKS_CLUSTER) and _stack_of(args.urn) == PROD_STACK:
        if args.props.get("deletionProtection") is not True:
            report_violation("the prod EKS cluster must have deletionProtection (keepData: true)", None)


# --- The pack ----------------------------------------------------------------------------------------

Validation = Callable[[ResourceValidationArgs, ReportViolation], None]

VALIDATIONS: dict[str, tuple[str, Validation]] = {
    "no-world-ingress": (
        "No ingress (security groups, EKS endpoint) wider than a /8 of IPv4 or a /32 of IPv6 in all, nor IPv4 as IPv6.",
        no_world_ingress,
    ),
    "imdsv2-required": ("EC2 instances and launch templates require IMDSv2 session tokens.", imdsv2_required),
    "encrypted-volumes": ("Every EBS volume, root or attached, is encrypted.", encrypted_volumes),
    "exact-chart-versions": ("Helm charts are pinned to one exact version.", exact_chart_versions),
    "exact-image-versions": (
        "Container images (workloads and Helm values) use an exact tag or digest, never latest.",
        exact_image_versions,
    ),
    "images-pinned-by-digest": (
        "Container images (workloads, the charts' image keys, image strings in Helm values) carry a digest, "
        "except the listed tag-only ones.",
        images_pinned_by_digest,
    ),
    "no-external-services": (
        "No LoadBalancer or NodePort Services, in manifests or Helm values: ClusterIP and a tunnel.",
        no_external_services,
    ),
    "no-plain-secrets-in-helm-values": (
        "No credentials as literal Helm values: reference a Kubernetes Secret instead.",
        no_plain_secrets_in_helm_values,
    ),
    "pod-security-namespaces": (
        "Every namespace enforces Pod Security baseline or restricted; privileged only for the exporters.",
        pod_security_namespaces,
    ),
    "no-privileged-pods": (
        "Privileged containers, host namespaces and hostPath only in the exporters' namespace (manifests and Helm values).",
        no_privileged_pods,
    ),
    "least-privilege-iam": (
        "No wildcard IAM actions and no broad AWS managed policies on the stack's roles.",
        least_privilege_iam,
    ),
    "eks-secrets-encrypted": ("EKS clusters envelope-encrypt Kubernetes Secrets with KMS.", eks_secrets_encrypted),
    "eks-deletion-protection-in-prod": (
        "The prod stack's EKS cluster has deletion protection.",
        eks_deletion_protection_in_prod,
    ),
    "egress-avoids-metadata-and-cluster-networks": (
        "Egress ipBlocks never reach link-local (instance metadata), and reach the private networks of nodes "
        "and pods only address by address or with a stated reason.",
        egress_avoids_metadata_and_cluster_networks,
    ),
}


StackValidation = Callable[[StackValidationArgs, ReportViolation], None]

# Rules about how resources relate: they see every resource of the stack at once.
STACK_VALIDATIONS: dict[str, tuple[str, StackValidation]] = {
    "default-deny-egress-per-namespace": (
        "Every namespace the program creates has a NetworkPolicy denying all egress by default.",
        default_deny_egress_per_namespace,
    ),
}


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    kinds: list[tuple[Any, Mapping[str, tuple[str, Any]]]] = [
        (ResourceValidationPolicy, VALIDATIONS),
        (StackValidationPolicy, STACK_VALIDATIONS),
    ]
    return [
        kind(name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY)
        for kind, validations in kinds
        for name, (description, validate) in validations.items()
    ]
