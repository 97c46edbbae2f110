"""The judge sampler on the real components (tests/real_stack.py): an other app's chat completions through
the real Llama Stack 0.7.3 with traceContent on, the spans it really exported, the collector's declared
judge-sampler filter applied to everything captured (tests/ottl.py), and the real sampler process,
started from its declared Deployment, judging what passed with the fake model's verdicts in turn."""

from __future__ import annotations

from tests.collector_translation import export_request
from tests.fake_vllm import JUDGE_VERDICTS
from tests.ottl import kept_by_filter
from tests.platform_support import values_of
from tests.real_stack import JUDGED_OTHER_APP_CALLS, OTHER_APP_CALLS, OTHER_APP_NAME, OTHER_APP_SHIELD_CHECK
from workload import judge, sampler, trace_tags

# The name the other app gave in its trace state, which Llama Stack kept on the span that held the answer.
APP = OTHER_APP_NAME
JUDGED = {trace_id for trace_id, _, _ in OTHER_APP_CALLS[:JUDGED_OTHER_APP_CALLS]}
OTHER_APP = {trace_id for trace_id, _, _ in OTHER_APP_CALLS}


def _judge_spans(run) -> list:
    return [s for s in run.capture.spans if s.service == "judge-sampler" and s.name == "judge answer"]


def test_the_filter_passes_exactly_the_other_app_s_answer_spans(real_run):
    forwarded = real_run.forwarded
    assert forwarded, real_run.server_log[-3000:]
    assert {s.trace_id for s in forwarded} == OTHER_APP
    assert all(s.name.startswith("chat ") and s.attributes["gen_ai.operation.name"] == "chat" for s in forwarded)
    assert len(forwarded) == len(OTHER_APP_CALLS)
    # Llama Stack's chat spans of the workload's sessions carry content too, and the workload's tag.
    workload_traces = {s.trace_id for s in real_run.capture.spans if s.service == "workload"}
    workload_chats = [s for s in real_run.capture.spans if s.trace_id in workload_traces and s.name.startswith("chat ")
                      and "gen_ai.output.messages" in s.attributes]
    assert workload_chats and all(trace_tags.KEY + "=" in s.trace_state for s in workload_chats)
    assert not workload_traces & {s.trace_id for s in forwarded}


def test_a_shield_s_model_call_is_no_answer(real_run):
    guard = [s for s in real_run.capture.spans if s.trace_id == OTHER_APP_SHIELD_CHECK[0] and s.name.startswith("chat ")]
    assert guard and all("gen_ai.output.messages" in s.attributes for s in guard), real_run.server_log[-3000:]
    assert OTHER_APP_SHIELD_CHECK[0] not in {s.trace_id for s in real_run.forwarded}


def test_the_judge_s_own_calls_are_tagged_and_never_forwarded(real_run):
    # Every judge request, the workload's and the sampler's, carried the judge tag to the model servers.
    assert real_run.model_server.judge_trace_states == [f"{trace_tags.KEY}={trace_tags.JUDGE}"] * (
        real_run.workload_judged + JUDGED_OTHER_APP_CALLS)
    own = [s for s in real_run.capture.spans if s.service in ("judge-sampler", "workload")]
    assert _judge_spans(real_run) and all(s.trace_state == f"{trace_tags.KEY}={trace_tags.JUDGE}"
                                          for s in _judge_spans(real_run))
    collector = values_of(real_run.program, "opentelemetry-collector")["alternateConfig"]
    assert kept_by_filter(collector["processors"]["filter/judge_sampler"], own) == []


def test_sampled_answers_are_judged_and_counted_per_app(real_run):
    points = {(p.name, frozenset(p.attributes.items())): p for points in real_run.capture.metrics("judge-sampler").values()
              for p in points}
    model = real_run.forwarded[0].attributes["gen_ai.request.model"]
    labels = {"app": APP, "model": model, "judge": model}
    verdicts = {o: points[("llm.quality.judge.verdicts", frozenset({**labels, "outcome": o}.items()))].value
                for o in judge.OUTCOMES}
    # After the workload's four, the verdicts start again: good, unparseable, off-scale.
    assert real_run.workload_judged == len(JUDGE_VERDICTS)
    assert verdicts == {"scored": 1, "unparseable": 1, "off_scale": 1, "error": 0}, real_run.judge_sampler_log
    relevance = points[("llm.quality.judge.score", frozenset({**labels, "criterion": "relevance"}.items()))]
    assert (relevance.count, relevance.total) == (1, 5)
    tokens = points[("llm.quality.judge.tokens", frozenset({"judge": model, "token_type": "prompt"}.items()))]
    assert tokens.value > 0
    assert {key for key, _ in next(iter(points))[1]} <= {"app", "model", "judge", "outcome", "criterion", "token_type"}


def test_each_verdict_is_a_span_linked_to_the_judged_answer(real_run):
    spans = _judge_spans(real_run)
    forwarded = {s.trace_id: s for s in real_run.forwarded}
    assert {s.attributes["llm.quality.judged.trace_id"] for s in spans} == JUDGED
    for span in spans:
        judged = forwarded[span.attributes["llm.quality.judged.trace_id"]]
        assert span.links == ((judged.trace_id, judged.span_id),)
        assert span.attributes["llm.quality.app"] == APP
    scored = [s.attributes for s in spans if s.attributes["llm.quality.judge.outcome"] == "scored"]
    assert len(scored) == 1
    assert (scored[0]["llm.quality.judge.relevance"], scored[0]["llm.quality.judge.faithfulness"],
            scored[0]["llm.quality.judge.min_score"]) == (5, 4, 4)
    unscored = [s.attributes for s in spans if s.attributes["llm.quality.judge.outcome"] != "scored"]
    assert not any("llm.quality.judge.relevance" in a for a in unscored)


def test_the_question_context_and_answer_are_read_from_the_real_span(real_run):
    """The other app's call with a tool result after its question, as Llama Stack's span really holds it."""
    trace_id, _, messages = OTHER_APP_CALLS[1]
    span = next(s for s in real_run.forwarded if s.trace_id == trace_id)
    encoded = export_request([span]).resource_spans[0].scope_spans[0].spans[0]
    answer = sampler.read_answer(span.resource, encoded)
    assert answer is not None and answer.app == APP
    assert (answer.question, answer.context) == (messages[0]["content"], (messages[2]["content"],))
    assert answer.answer.startswith("Based on the tools:")
