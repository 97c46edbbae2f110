"""The AI workloads of one environment, in namespace llm: model serving, Llama Stack, the workload."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi

from components.cluster import KubernetesCluster
from components.inference_router import InferenceRouter, InferenceRouterArgs
from components.judge_sampler import JudgeSampler, JudgeSamplerArgs
from components.llama_stack import SHIELD_ID, LlamaStack, LlamaStackArgs
from components.model_serving import POD_LABELS, SERVING_PORT, ModelServing, ModelServingArgs
from components.namespace import Namespace, NamespaceArgs
from components.network_policies import NetworkPolicies, NetworkPoliciesArgs, apps_policies, judge_sampler_ingress
from components.workload_job import WorkloadJob, WorkloadJobArgs
from stack import versions
from stack.config import StackConfig
from stack.platform import Platform

LLM_NAMESPACE = "llm"


@dataclass(frozen=True)
class AiWorkloads:
    model_serving: ModelServing
    llama_stack: LlamaStack
    # The OpenAI-compatible endpoint clients use: the router's when it is on.
    model_endpoint: str


def url_port(url: str) -> int:
    """The TCP port an http(s) URL reaches (stack/config/quality.py has checked its form)."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def workload_outputs(stack: str, workloads: AiWorkloads) -> dict[str, pulumi.Input]:
    return {
        "modelEndpoint": workloads.model_endpoint,
        "llamaStackEndpoint": workloads.llama_stack.endpoint,
        "llamaStackModelId": workloads.llama_stack.model_id,
        "workloadCommand": f"scripts/run-workload.sh {stack}",
    }


def build_ai_workloads(name: str, config: StackConfig, cluster: KubernetesCluster, platform: Platform) -> AiWorkloads:
    """Namespace llm: model serving (optionally behind llm-d's router), Llama Stack, the workload Job.

    None of them waits for the observability platform: only the PodMonitor needs the prometheus-operator
    CRDs (monitoring_crds), and the telemetry endpoints are plain DNS names that start answering when the
    collector does.
    """
    workload = config.workload
    provider = cluster.provider
    monitoring_crds = tuple(platform.crds_ready)
    # vLLM's OTLP exporter takes a URL; the scheme says plain (in-cluster) gRPC.
    otlp_grpc_endpoint = f"http://{platform.otlp_grpc_endpoint}"
    opts = pulumi.ResourceOptions(provider=provider)
    namespace = Namespace(f"{name}-llm", NamespaceArgs(name=LLM_NAMESPACE), opts=opts).resource
    NetworkPolicies(
        f"{name}-llm-policies",
        NetworkPoliciesArgs(
            namespace=LLM_NAMESPACE,
            policies={
                **apps_policies(
                    LLM_NAMESPACE,
                    platform.namespace,
                    cluster.facts,
                    router=workload.router,
                    judge_port=url_port(config.quality.judge_endpoint) if config.quality.judge_endpoint else None,
                ),
                **(judge_sampler_ingress(platform.namespace) if config.quality.judging else {}),
            },
            depends_on=[namespace],
        ),
        opts=opts,
    )
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
            hf_token=workload.hf_token.output() if workload.hf_token else None,
            vllm_image=versions.VLLM_IMAGE,
            simulator_image=versions.LLM_D_INFERENCE_SIM_IMAGE,
            chart=versions.LLM_D_MODELSERVICE,
            otlp_traces_endpoint=otlp_grpc_endpoint,
            monitoring_depends_on=monitoring_crds,
            gpu_node_selector=cluster.facts.gpu_node_selector,
            gpu_tolerations=cluster.facts.gpu_tolerations,
            system_node_selector=cluster.facts.system_node_selector,
            storage_class=cluster.facts.storage_class,
            shared_cache=cluster.facts.gpu_nodes == 1,
        ),
        opts=in_namespace,
    )
    model_endpoint = model_serving.endpoint
    if workload.router:
        router = InferenceRouter(
            f"{name}-router",
            InferenceRouterArgs(
                namespace=LLM_NAMESPACE,
                chart=versions.LLM_D_ROUTER,
                epp_image=versions.LLM_D_EPP_IMAGE,
                proxy_image=versions.ENVOY_PROXY_IMAGE,
                model_server_labels={**POD_LABELS, "llm-d.ai/role": "decode"},
                model_server_port=SERVING_PORT,
                otlp_traces_endpoint=otlp_grpc_endpoint,
                monitoring_depends_on=monitoring_crds,
            ),
            opts=in_namespace,
        )
        model_endpoint = router.endpoint
    shield_id = SHIELD_ID if workload.safety_shield else ""
    # The workload Job and the judge sampler: the same packages, the same judge.
    workload_requirements = tuple(package.requirement for package in versions.WORKLOAD_PACKAGES)
    judge_url = config.quality.judge_endpoint or model_endpoint
    # Llama Stack and the workload read the model servers' API key from its Secret when they start.
    needs_api_key = pulumi.ResourceOptions(provider=provider, depends_on=[namespace, model_serving.api_key_secret])
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
            otlp_http_endpoint=platform.otlp_http_endpoint,
            trace_content=workload.trace_content,
            node_selector=cluster.facts.system_node_selector,
        ),
        opts=needs_api_key,
    )
    if workload.workload_job:
        WorkloadJob(
            f"{name}-workload",
            WorkloadJobArgs(
                namespace=LLM_NAMESPACE,
                image=versions.WORKLOAD_PYTHON_IMAGE,
                requirements=workload_requirements,
                llama_stack_url=llama_stack.endpoint,
                model_url=model_endpoint,
                model_id=workload.model_id,
                stack_model_id=llama_stack.model_id,
                shield_id=shield_id,
                request_rate=workload.load.request_rate,
                requests=workload.load.requests,
                prompt_tokens=workload.load.prompt_tokens,
                output_tokens=workload.load.output_tokens,
                concurrency=workload.load.concurrency,
                known_answer_share=config.quality.known_answer_share,
                judge_sample_share=config.quality.judge_sample_share,
                judge_url=judge_url,
                judge_is_model_servers=not config.quality.judge_endpoint,
                judge_model=config.quality.judge_model,
                otlp_http_endpoint=platform.otlp_http_endpoint,
                schedule=workload.workload_schedule,
                node_selector=cluster.facts.system_node_selector,
            ),
            opts=needs_api_key,
        )
    if config.quality.judging:
        # Other apps' answers, from their traces (only with traceContent on: quality.judging says so).
        JudgeSampler(
            f"{name}-judge-sampler",
            JudgeSamplerArgs(
                namespace=LLM_NAMESPACE,
                image=versions.WORKLOAD_PYTHON_IMAGE,
                requirements=workload_requirements,
                judge_sample_share=config.quality.judge_sample_share,
                judge_url=judge_url,
                judge_is_model_servers=not config.quality.judge_endpoint,
                judge_model=config.quality.judge_model,
                otlp_http_endpoint=platform.otlp_http_endpoint,
                node_selector=cluster.facts.system_node_selector,
            ),
            opts=needs_api_key,
        )
    return AiWorkloads(model_serving=model_serving, llama_stack=llama_stack, model_endpoint=model_endpoint)
