"""The wiring of one environment: which components exist, what each receives, what the stack exports."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

import pulumi_kubernetes as k8s

from components.gpu_host import GpuHost, GpuHostArgs
from components.inference_router import InferenceRouter, InferenceRouterArgs
from components.llama_stack import SHIELD_ID, LlamaStack, LlamaStackArgs
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from components.model_serving import POD_LABELS, SERVING_PORT, ModelServing, ModelServingArgs
from components.workload_job import WorkloadJob, WorkloadJobArgs
from stack import versions
from stack.config import PROJECT, StackConfig

# Fixed by the contract between the work streams (the platform's collector, fullnameOverride'd).
OTLP_GRPC_ENDPOINT = "http://otel-collector.monitoring.svc.cluster.local:4317"
OTLP_HTTP_ENDPOINT = "http://otel-collector.monitoring.svc.cluster.local:4318"
LLM_NAMESPACE = "llm"


@dataclass(frozen=True)
class Environment:
    host: GpuHost
    cluster: MinikubeCluster
    model_serving: ModelServing
    llama_stack: LlamaStack
    model_endpoint: str
    outputs: dict[str, pulumi.Input]


def build(config: StackConfig) -> Environment:
    name = f"{PROJECT}-{config.stack}"
    host = GpuHost(
        name,
        GpuHostArgs(
            instance_type=config.host.instance.name,
            root_volume_gib=config.host.root_volume_gib,
            allowed_cidrs=config.host.allowed_cidrs,
            kube_api_port=config.cluster.api_port,
            ami_id=config.host.ami_id,
            ami_ssm_parameter=versions.GPU_AMI_SSM_PARAMETER,
            subnet_id=config.host.subnet_id,
            ssh_user=config.host.ssh_user,
            minikube_version=config.cluster.minikube_version,
            kubectl_version=config.cluster.kubernetes_version,
            tags=config.tags,
            gpu_count=config.host.instance.gpu_count,
        ),
    )
    cluster = MinikubeCluster(
        name,
        MinikubeClusterArgs(
            host_ip=host.public_ip,
            ssh_user=host.ssh_user,
            private_key=host.private_key_openssh,
            host_id=host.instance_id,
            vcpu=config.host.instance.vcpu,
            memory_gib=config.host.instance.memory_gib,
            gpu_count=config.host.instance.gpu_count,
            kubernetes_version=config.cluster.kubernetes_version,
            api_port=config.cluster.api_port,
        ),
    )
    # monitoring_crds: the platform's prometheus-operator CRDs (contract), wired in at merge.
    model_serving, model_endpoint, llama_stack = _ai_workloads(name, config, cluster.provider, monitoring_crds=())
    key_file = f"~/.ssh/{name}.pem"
    outputs: dict[str, pulumi.Input] = {
        "instanceId": host.instance_id,
        "publicIp": host.public_ip,
        "sshPrivateKey": host.private_key_openssh,
        "sshCommand": pulumi.Output.format(
            "pulumi stack output sshPrivateKey --show-secrets > {0} && chmod 600 {0} && ssh -i {0} {1}@{2}",
            key_file,
            host.ssh_user,
            host.public_ip,
        ),
        "kubeconfig": cluster.kubeconfig,
        "tunnelCommand": f"scripts/tunnel.sh {config.stack}",
        "modelEndpoint": model_endpoint,
        "llamaStackEndpoint": llama_stack.endpoint,
        "workloadCommand": f"scripts/run-workload.sh {config.stack}",
    }
    return Environment(
        host=host,
        cluster=cluster,
        model_serving=model_serving,
        llama_stack=llama_stack,
        model_endpoint=model_endpoint,
        outputs=outputs,
    )


def _ai_workloads(
    name: str, config: StackConfig, provider: k8s.Provider, monitoring_crds: tuple[pulumi.Resource, ...]
) -> tuple[ModelServing, str, LlamaStack]:
    """Namespace llm: model serving (optionally behind llm-d's router), Llama Stack, the workload Job.

    Returns the model servers, the OpenAI-compatible endpoint clients use (the router's when it is on)
    and Llama Stack.

    None of them waits for the observability platform: only the PodMonitor needs the prometheus-operator
    CRDs (monitoring_crds), and the telemetry endpoints are plain DNS names that start answering when the
    collector does.
    """
    workload = config.workload
    opts = pulumi.ResourceOptions(provider=provider)
    namespace = k8s.core.v1.Namespace(f"{name}-llm", metadata={"name": LLM_NAMESPACE}, opts=opts)
    in_namespace = pulumi.ResourceOptions(provider=provider, depends_on=[namespace])
    model_serving = ModelServing(
        f"{name}-model",
        ModelServingArgs(
            namespace=LLM_NAMESPACE,
            simulated=workload.simulated,
            model_id=workload.model_id,
            replicas=workload.replicas,
            tensor_parallel_size=workload.tensor_parallel_size,
            max_model_len=workload.max_model_len,
            gpu_memory_utilization=workload.gpu_memory_utilization,
            tool_call_parser=workload.tool_call_parser,
            cache_gib=workload.model_cache_gib,
            hf_token=workload.hf_token,
            vllm_image=versions.VLLM_IMAGE,
            simulator_image=versions.LLM_D_INFERENCE_SIM_IMAGE,
            chart_version=versions.LLM_D_MODELSERVICE_CHART,
            chart_repo=versions.LLM_D_MODELSERVICE_REPO,
            otlp_traces_endpoint=OTLP_GRPC_ENDPOINT,
            monitoring_depends_on=monitoring_crds,
        ),
        opts=in_namespace,
    )
    model_endpoint = model_serving.endpoint
    if workload.router:
        router = InferenceRouter(
            f"{name}-router",
            InferenceRouterArgs(
                namespace=LLM_NAMESPACE,
                chart=versions.LLM_D_ROUTER_CHART,
                chart_version=versions.LLM_D_ROUTER,
                epp_image_tag=versions.LLM_D_ROUTER,
                model_server_labels={**POD_LABELS, "llm-d.ai/role": "decode"},
                model_server_port=SERVING_PORT,
                otlp_traces_endpoint=OTLP_GRPC_ENDPOINT,
                monitoring_depends_on=monitoring_crds,
            ),
            opts=in_namespace,
        )
        model_endpoint = router.endpoint
    shield_id = SHIELD_ID if workload.safety_shield else ""
    llama_stack = LlamaStack(
        f"{name}-llama-stack",
        LlamaStackArgs(
            namespace=LLM_NAMESPACE,
            image=versions.LLAMA_STACK_IMAGE,
            stack=config.stack,
            inference_url=model_endpoint,
            model_id=workload.model_id,
            max_tokens=min(4096, workload.max_model_len // 2),
            embedding_model=workload.embedding_model,
            embedding_dimension=workload.embedding_dimension,
            safety_shield=workload.safety_shield,
            otlp_http_endpoint=OTLP_HTTP_ENDPOINT,
            trace_content=workload.trace_content,
        ),
        opts=in_namespace,
    )
    if workload.workload_job:
        WorkloadJob(
            f"{name}-workload",
            WorkloadJobArgs(
                namespace=LLM_NAMESPACE,
                image=versions.WORKLOAD_PYTHON_IMAGE,
                requirements=(f"llama-stack-client=={versions.LLAMA_STACK_CLIENT}", f"httpx=={versions.HTTPX}"),
                llama_stack_url=llama_stack.endpoint,
                model_url=model_endpoint,
                model_id=workload.model_id,
                shield_id=shield_id,
                request_rate=workload.load.request_rate,
                requests=workload.load.requests,
                prompt_tokens=workload.load.prompt_tokens,
                output_tokens=workload.load.output_tokens,
                concurrency=workload.load.concurrency,
                otlp_http_endpoint=OTLP_HTTP_ENDPOINT,
                schedule=workload.workload_schedule,
            ),
            opts=in_namespace,
        )
    return model_serving, model_endpoint, llama_stack
