"""The judge sampler's parts: which traces it takes, what it reads from a GenAI chat span, the collector's
filter decision on each kind of span, the stack's own traffic tagged, and the declared Deployment."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from components import judge_sampler, model_serving, otel_collector
from tests import ottl, pods
from tests.otlp_receiver import Span
from tests.platform_support import values_of
from workload import sampler, trace_tags
from workload.tracing import JUDGE_CALL, Telemetry

# The attributes of a `chat <model>` span Llama Stack 0.7.3 exported in tests/real_stack.py's run
# (gen_ai_latest_experimental, SPAN_ONLY), for an app's call with a tool result after its question.
INPUT = [
    {"role": "system", "parts": [{"content": "Be brief.", "type": "text"}]},
    {"role": "user", "parts": [{"content": "How much memory does each L4 have?", "type": "text"}]},
    {"role": "assistant", "parts": [{"type": "tool_call", "id": "call-1", "name": "search_docs", "arguments": {}}]},
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call-1",
                                "response": "Each NVIDIA L4 has 24 GB of GPU memory."}]},
]
OUTPUT = [{"role": "assistant", "parts": [{"content": "24 GB each.", "type": "text"}], "finish_reason": "stop"}]
CHAT = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "Qwen/Qwen2.5-7B-Instruct",
        "gen_ai.input.messages": json.dumps(INPUT), "gen_ai.output.messages": json.dumps(OUTPUT)}


def _proto(attributes: dict, trace_id: bytes = bytes(15) + b"\x01") -> ProtoSpan:
    return ProtoSpan(trace_id=trace_id, span_id=b"\x02" * 8, name="chat Qwen/Qwen2.5-7B-Instruct",
                     attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attributes.items()])


def _span(attributes: dict, trace_state: str = "", service: str = "llama-stack", name: str = "chat m") -> Span:
    return Span(resource={"service.name": service}, scope="s", name=name, kind="SPAN_KIND_CLIENT", trace_id="0" * 32,
                span_id="0" * 16, parent_span_id="", attributes=attributes, status="STATUS_CODE_UNSET",
                duration_seconds=0.1, trace_state=trace_state)


def test_a_trace_is_taken_by_its_id_so_every_span_of_it_gets_the_same_decision():
    low = bytes(8) + (2**64 // 10).to_bytes(8, "big")  # 0.1 of the way
    assert sampler.sampled(low, 0.2) and not sampler.sampled(low, 0.05)
    assert not sampler.sampled(low, 0) and sampler.sampled(b"\xff" * 16, 1)
    ids = [i.to_bytes(16, "big") * 1 for i in range(0, 2**64, 2**64 // 1000)]
    assert sum(sampler.sampled(i, 0.2) for i in ids) == pytest.approx(200, abs=1)


def test_question_context_and_answer_are_read_from_the_chat_span_s_messages():
    answer = sampler.read_answer({"service.name": "support-bot"}, _proto(CHAT))
    assert answer is not None
    assert (answer.app, answer.model) == ("support-bot", "Qwen/Qwen2.5-7B-Instruct")
    assert answer.question == "How much memory does each L4 have?"
    assert answer.context == ("Each NVIDIA L4 has 24 GB of GPU memory.",)
    assert answer.answer == "24 GB each."


def test_a_tool_calling_step_or_a_span_without_content_is_no_answer():
    tool_step = [{"role": "assistant", "parts": [{"type": "tool_call", "id": "c", "name": "f", "arguments": {}}]}]
    assert sampler.read_answer({}, _proto({**CHAT, "gen_ai.output.messages": json.dumps(tool_step)})) is None
    assert sampler.read_answer({}, _proto({"gen_ai.operation.name": "chat"})) is None
    assert sampler.read_answer({}, _proto({**CHAT, "gen_ai.input.messages": "not json"})) is None


def test_an_answer_belongs_to_the_app_named_in_its_trace_state_else_to_the_service_of_its_span():
    named = ProtoSpan(trace_id=bytes(16), trace_state="vendor=x, llmobs=app.support-bot")
    assert sampler.app_of({"service.name": "llama-stack"}, named.trace_state) == "support-bot"
    assert sampler.app_of({"service.name": "llama-stack"}, "") == "llama-stack"
    assert sampler.app_of({"service.name": "llama-stack"}, "llmobs=app.no spaces please") == sampler.UNNAMED
    assert sampler.app_of({}, "llmobs=workload") == sampler.UNNAMED


def test_labels_hold_names_never_text():
    assert sampler.label("support-bot") == "support-bot"
    assert sampler.label("How much memory does each L4 have?") == sampler.UNNAMED
    assert sampler.label("x" * 300) == sampler.UNNAMED and sampler.label(None) == sampler.UNNAMED


@pytest.mark.parametrize("span, kept", [
    (_span(CHAT), True),
    (_span(CHAT, "vendor=1"), True),
    (_span(CHAT, f"{trace_tags.KEY}={trace_tags.WORKLOAD}"), False),
    (_span(CHAT, f"vendor=1,{trace_tags.KEY}={trace_tags.JUDGE}"), False),
    # traceContent off: the chat span has no messages.
    (_span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}), False),
    (_span({**CHAT, "gen_ai.operation.name": "embeddings"}), False),
    # Llama Guard's model call for a shield (llama_guard.py's PROMPT_TASK starts its prompt).
    (_span({**CHAT, "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content":
           "Task: Check if there is unsafe content in 'User' messages in conversations according our safety policy"}]}])}),
     False),
    (_span({"http.method": "POST"}, name="POST /v1/chat/completions"), False),
])
def test_the_declared_filter_passes_only_untagged_chat_spans_with_content(dev_program, span, kept):
    processor = values_of(dev_program, "opentelemetry-collector")["alternateConfig"]["processors"][
        otel_collector.JUDGE_SAMPLER_FILTER]
    assert ottl.kept_by_filter(processor, [span]) == ([span] if kept else [])


def test_the_workload_s_requests_carry_its_tag_and_a_judge_call_the_judge_s(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    telemetry = Telemetry(lambda _: None)
    with telemetry.session("session") as headers:
        with telemetry.child("judge", **{JUDGE_CALL: True}) as (_, judge_headers):
            with telemetry.child("inside") as (_, inner_headers):
                pass
        with telemetry.child("answer") as (_, answer_headers):
            pass
    assert headers["tracestate"] == answer_headers["tracestate"] == f"{trace_tags.KEY}={trace_tags.WORKLOAD}"
    assert judge_headers["tracestate"] == inner_headers["tracestate"] == f"{trace_tags.KEY}={trace_tags.JUDGE}"
    sampler_telemetry = Telemetry(lambda _: None, service_name="judge-sampler", tag=trace_tags.JUDGE)
    with sampler_telemetry.session("judge answer") as headers:
        assert headers["tracestate"] == f"{trace_tags.KEY}={trace_tags.JUDGE}"


def test_the_sampler_pod_is_hardened_and_gets_the_api_key_from_its_secret(dev_program):
    deployment = pods.one_named(dev_program, "kubernetes:apps/v1:Deployment", judge_sampler.NAME)
    spec = pods.pod_spec(deployment)
    container = spec["containers"][0]
    assert spec["enableServiceLinks"] is False and spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    key = next(v for v in container["env"] if v["name"] == "JUDGE_API_KEY")
    assert key["valueFrom"]["secretKeyRef"]["name"] == model_serving.API_KEY_SECRET
    assert container["command"][-1].endswith("exec python -m workload.sampler")
    env = {v["name"]: v.get("value") for v in container["env"]}
    assert env["JUDGE_SAMPLE_SHARE"] == "0.2" and env["OTEL_SERVICE_NAME"] == judge_sampler.NAME
    service = pods.one_named(dev_program, "kubernetes:core/v1:Service", judge_sampler.NAME)
    assert service.inputs["spec"]["type"] == "ClusterIP"
    assert service.inputs["spec"]["ports"][0]["port"] == judge_sampler.PORT
