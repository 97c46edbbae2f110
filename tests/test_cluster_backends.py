"""The same program on three backends: MiniKube on one host, a new EKS cluster, an existing cluster."""

from __future__ import annotations

import pytest

from stack.config import ConfigError, parse, raw_from_files
from tests.harness import SAMPLE_KUBECONFIG, run_program
from tests.platform_support import chart_reference

EKS = {"clusterBackend": "eks", "gpuNodes": 2}
EXISTING = {"clusterBackend": "kubeconfig", "kubeconfig": SAMPLE_KUBECONFIG, "allowedCidrs": None, "gpuNodes": 3}
NODE_GROUP = "eks:index:ManagedNodeGroup"


@pytest.fixture(scope="module")
def eks_program():
    return run_program("dev", EKS)


@pytest.fixture(scope="module")
def existing_program():
    return run_program("dev", EXISTING, secret_keys=("kubeconfig",))


def _kubernetes_resources(program):
    return [r for r in program.resources if r.type.startswith("kubernetes:")]


def test_minikube_is_the_default_backend(dev_program):
    assert dev_program.outputs["clusterBackend"] == "minikube"
    assert dev_program.outputs["gpuCount"] == 4
    assert not [r for r in dev_program.resources if r.type.startswith("eks:")]


def test_eks_declares_the_cluster_with_its_api_open_only_to_allowed_cidrs(eks_program):
    cluster = eks_program.one("eks:index:Cluster")
    assert cluster.inputs["version"] == "1.34"
    assert cluster.inputs["publicAccessCidrs"] == ["198.51.100.7/32"]
    assert cluster.inputs["skipDefaultNodeGroup"] is True
    assert cluster.inputs["authenticationMode"] == "API"


def test_eks_gpu_node_group_runs_the_accelerated_ami_tainted_for_gpu_work(eks_program):
    gpu = eks_program.one(NODE_GROUP, "-gpu")
    assert gpu.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu.inputs["instanceTypes"] == ["g6.12xlarge"]
    assert gpu.inputs["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 2}
    assert gpu.inputs["labels"] == {"nvidia.com/gpu.present": "true"}
    assert gpu.inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]


def test_eks_system_node_group_carries_the_observability_stack(eks_program):
    system = eks_program.one(NODE_GROUP, "-system")
    assert system.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert system.inputs["instanceTypes"] == ["m7i.2xlarge"]
    assert system.inputs["labels"] == {"llm-observability/pool": "system"}
    assert "taints" not in system.inputs


def test_eks_node_role_has_only_what_nodes_need(eks_program):
    """The three policies EKS requires of a node; no Session Manager, which nothing uses."""
    node_role = eks_program.one("aws:iam/role:Role", "-dev-node")
    policies = {
        a.inputs["policyArn"]
        for a in eks_program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == node_role.name
    }
    assert policies == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    }


def test_eks_nodes_require_imdsv2_and_encrypt_their_disks(eks_program):
    for template in eks_program.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"
        assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        ebs = template.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and ebs["deleteOnTermination"] == "true"


def test_eks_gets_encrypted_gp3_storage_and_the_pinned_device_plugin(eks_program):
    storage = eks_program.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage.inputs["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert storage.inputs["provisioner"] == "ebs.csi.aws.com"
    plugin = eks_program.one("kubernetes:helm.sh/v3:Release", "device-plugin")
    assert plugin.inputs["version"] == "0.19.0"
    assert plugin.inputs["repositoryOpts"]["repo"] == "https://nvidia.github.io/k8s-device-plugin"
    addon = eks_program.one("aws:eks/addon:Addon", "ebs-csi")
    assert addon.inputs["podIdentityAssociations"][0]["serviceAccount"] == "ebs-csi-controller-sa"


def test_eks_declares_no_single_host(eks_program):
    assert eks_program.of_type("aws:ec2/instance:Instance") == []
    assert eks_program.of_type("command:remote:Command") == []
    assert eks_program.outputs["gpuCount"] == 8


def test_every_kubernetes_object_uses_the_backends_provider(eks_program, existing_program, dev_program):
    for program in (eks_program, existing_program, dev_program):
        provider = program.one("pulumi:providers:kubernetes")
        for resource in _kubernetes_resources(program):
            assert resource.provider.startswith(provider.urn), resource.name


def test_existing_cluster_declares_no_aws_resources_at_all(existing_program):
    assert existing_program.aws_resources() == []
    provider = existing_program.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs
    assert existing_program.outputs["gpuCount"] == 12
    assert "kubeconfig" in existing_program.secret_outputs


def test_a_kubeconfig_that_is_not_one_is_refused_without_being_shown():
    with pytest.raises(ConfigError) as caught:
        run_program("dev", {**EXISTING, "kubeconfig": "hunter2-not-yaml: ["}, secret_keys=("kubeconfig",))
    assert "llm-observability:kubeconfig" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_kubeconfig_set_without_secret_is_refused():
    with pytest.raises(ConfigError, match="llm-observability:kubeconfig must be stored encrypted"):
        run_program("dev", EXISTING)


def test_cost_counts_every_gpu_node_and_on_eks_the_system_nodes_and_control_plane():
    raw = raw_from_files("dev")
    eks = parse("dev", {**raw, **EKS})
    assert eks.cost.usd_per_hour == pytest.approx(2 * 4.6016 + 2 * 0.4032 + 0.10)
    assert eks.cost.gpu_count == 8
    existing = parse("dev", {**raw, **EXISTING})
    assert existing.cost.usd_per_hour == pytest.approx(3 * 4.6016)


def _modelservice_values(program):
    return program.one("kubernetes:helm.sh/v3:Release", "modelservice").inputs["values"]


def test_every_backend_installs_the_same_platform_workloads_and_signals(eks_program, existing_program, dev_program):
    def installed(program):
        releases = {r.inputs["chart"] for r in program.of_type("kubernetes:helm.sh/v3:Release")}
        dashboards = {r.name for r in program.of_type("kubernetes:core/v1:ConfigMap") if "dashboard" in r.name}
        rules = {r.name for r in program.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")}
        return releases - {"nvidia-device-plugin"}, dashboards, rules

    assert installed(eks_program) == installed(existing_program) == installed(dev_program)
    assert installed(dev_program)[1] and installed(dev_program)[2]


def test_on_several_gpu_nodes_model_servers_go_to_the_gpu_nodes_one_per_gpu(eks_program):
    decode = _modelservice_values(eks_program)["decode"]
    assert decode["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert decode["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert decode["replicas"] == 8, "every GPU of both g6.12xlarge nodes"


def test_on_several_gpu_nodes_each_model_server_fetches_its_own_weights(eks_program, dev_program):
    assert _modelservice_values(eks_program)["modelArtifacts"]["uri"] == "hf://Qwen/Qwen2.5-7B-Instruct"
    assert not [r for r in eks_program.of_type("kubernetes:core/v1:PersistentVolumeClaim") if "model-cache" in r.name]
    # One node shares one persistent cache, on the backend's storage class.
    assert _modelservice_values(dev_program)["modelArtifacts"]["uri"].startswith("pvc+hf://")
    claim = dev_program.one("kubernetes:core/v1:PersistentVolumeClaim", "model-cache")
    assert claim.inputs["spec"]["storageClassName"] == "standard"


def _model_storage_volume(values: dict) -> dict:
    """The weights volume llm-d-modelservice v0.4.12 renders (templates/_helpers.tpl, mountModelVolumeVolumes):
    hf:// becomes an emptyDir whose sizeLimit is modelArtifacts.size (values.yaml default 5Mi); pvc+hf://
    mounts the claim named first in the path."""
    artifacts = {**chart_reference("llm-d-modelservice")["modelArtifacts"], **values["modelArtifacts"]}
    protocol, path = artifacts["uri"].split("://")
    if protocol == "hf":
        return {"name": "model-storage", "emptyDir": {"sizeLimit": artifacts.get("size") or "0"}}
    return {"name": "model-storage", "persistentVolumeClaim": {"claimName": path.split("/")[0], "readOnly": artifacts["readOnly"]}}


def test_on_several_gpu_nodes_each_model_servers_weight_volume_is_sized_by_model_cache_gib(eks_program, dev_program):
    assert _model_storage_volume(_modelservice_values(eks_program))["emptyDir"] == {"sizeLimit": "100Gi"}
    larger = run_program("dev", {"clusterBackend": "eks", "gpuNodes": 2, "modelCacheGiB": 150})
    assert _model_storage_volume(_modelservice_values(larger))["emptyDir"] == {"sizeLimit": "150Gi"}
    # One node: the claim, sized by the same setting where it is created.
    claim = _model_storage_volume(_modelservice_values(dev_program))["persistentVolumeClaim"]
    assert claim == {"claimName": "model-cache", "readOnly": False}


def test_everything_without_a_gpu_runs_on_the_system_nodes(eks_program):
    llama_stack = eks_program.one("kubernetes:apps/v1:Deployment", "llama-stack")
    assert llama_stack.inputs["spec"]["template"]["spec"]["nodeSelector"] == {"llm-observability/pool": "system"}


def test_a_tensor_parallel_pod_must_fit_one_node_even_on_many():
    with pytest.raises(ConfigError, match="tensorParallelSize: 8 does not fit g6.12xlarge"):
        run_program("dev", {**EKS, "tensorParallelSize": 8})


def test_eks_add_ons_wait_for_the_nodes_their_pods_run_on(eks_program):
    node_groups = {r.urn for r in eks_program.of_type(NODE_GROUP)}
    for addon in eks_program.of_type("aws:eks/addon:Addon"):
        assert node_groups <= set(addon.dependencies), addon.name


def test_eks_refuses_ipv6_allowed_cidrs_its_public_endpoint_cannot_take():
    with pytest.raises(ConfigError) as raised:
        run_program("dev", {**EKS, "allowedCidrs": ["198.51.100.7/32", "2001:db8::/64"]})
    assert "allowedCidrs" in str(raised.value) and "IPv4 CIDRs only" in str(raised.value)
    assert raised.value.program.resources == []


def test_eks_encrypts_kubernetes_secrets_with_a_rotated_key_of_its_own(eks_program):
    key = eks_program.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    cluster = eks_program.one("eks:index:Cluster").inputs
    assert cluster["encryptionConfigKeyArn"] == f"arn:aws:kms:us-east-1:123456789012:key/{key.name}"
