"""Answer quality in the workload: known-answer checks, the LLM judge and the signals they send.

The workload runs for real against the fake Llama Stack / model server on loopback, which answers the
known questions correctly, wrongly, without citing or citing a document it did not retrieve, and
returns judge verdicts that include an unparseable and an off-scale one.
"""

from __future__ import annotations

import random

import pytest

from tests.fake_llm_server import STACK_MODEL, Behaviour, FakeServer
from tests.otlp_receiver import OtlpReceiver
from workload import agent, judge, known_answers, quality
from workload.__main__ import EXIT_OK, main
from workload.known_answers import KNOWN_ANSWERS

GOOD = '{"relevance": 5, "faithfulness": 4, "harmlessness": 5}'
LOW = 'Verdict: {"relevance": 2, "faithfulness": 1, "harmlessness": 5}'
UNPARSEABLE = "The answer looks fine to me."
OFF_SCALE = '{"relevance": 7, "faithfulness": 4, "harmlessness": 5}'
QUESTIONS = {item.id: item.question for item in KNOWN_ANSWERS}
# question id -> (answer, the document file search returns); correct / grounded as scored below.
SCRIPT = {
    "l4-memory": ("Each L4 has 24 GB of memory (gpu-fleet.md).", "gpu-fleet.md"),
    "host-vcpus": ("Each host has 48 vCPUs.", "gpu-fleet.md"),  # correct, cites nothing
    "dev-budget": ("The budget is 4000 USD a month (gpu-fleet.md).", "gpu-fleet.md"),  # wrong
    "billing-code": ("Billing problems use escalation code bill-7, see the product FAQ (product-faq).", "product-faq.md"),
    "model-approval": ("The Model Review Board approves them [product-faq.md].", "product-faq.md"),
    "log-retention": ("Thirty days in the development stack (product-faq.md).", "product-faq.md"),
    "page-after": ("Page after 15 minutes (serving-runbook.md).", "serving-runbook.md"),  # wrong
    # Correct, and cites the runbook, but file search returned another document: not grounded.
    "kv-preemption": ("Above 95% KV cache usage (serving-runbook.md).", "gpu-fleet.md"),
}


def _args(server: FakeServer, *extra: str) -> list[str]:
    return ["agent", "--llama-stack-url", server.url, "--model-url", f"{server.url}/v1", "--stack-model", STACK_MODEL,
            *extra]


def _points(run) -> dict[tuple[str, frozenset], object]:
    """The workload's quality metrics as last exported: (name, labels) -> value (counters) or point (histograms)."""
    _, receiver = run
    return {(p.name, frozenset(p.attributes.items())): p.value if p.kind == "sum" else p
            for points in receiver.capture.metrics("workload").values() for p in points
            if p.name.startswith("llm.quality.")}


def _labels(**labels: str) -> frozenset:
    return frozenset(labels.items())


@pytest.fixture(scope="module")
def judged_run():
    """Every known question once (share 2/3 of 15 sessions), every answer judged."""
    behaviour = Behaviour(answers={QUESTIONS[k]: v for k, v in SCRIPT.items()},
                          judge_replies=(GOOD, UNPARSEABLE, OFF_SCALE, LOW))
    with FakeServer(behaviour) as server, OtlpReceiver() as receiver, pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        status = main(_args(server, "--known-answer-share", "0.6667", "--judge-share", "1",
                            "--judge-model", "judge-model"))
    assert status == EXIT_OK
    return server, receiver


def test_correctness_tolerates_wording_but_not_a_wrong_fact():
    facts = (("30 days", "30-day"),)
    for answer in ("Thirty days.", "We keep them 30 days", "a 30-day retention", "THIRTY  DAYS!"):
        assert known_answers.is_correct(answer, facts), answer
    for answer in ("Three days.", "300 days", "30 hours"):
        assert not known_answers.is_correct(answer, facts), answer
    assert known_answers.is_correct("The budget is $1,500.", KNOWN_ANSWERS[2].facts)


def test_grounded_needs_the_citation_and_the_retrieval_of_the_fact_s_document():
    assert known_answers.is_grounded("See serving-runbook.md.", "serving-runbook.md", ["serving-runbook.md"])
    assert known_answers.is_grounded("It says so.", "serving-runbook.md", ["serving-runbook.md"],
                                     cited_files=["serving-runbook.md"])
    assert not known_answers.is_grounded("See serving-runbook.md.", "serving-runbook.md", ["gpu-fleet.md"])
    assert not known_answers.is_grounded("The runbook says so.", "serving-runbook.md", ["serving-runbook.md"])


def test_every_known_answer_s_document_exists_and_holds_its_fact():
    for item in KNOWN_ANSWERS:
        if item.facts:
            text = (agent.DOCUMENTS / item.document).read_text()
            assert known_answers.is_correct(text, item.facts), item.id
    assert {True, False} <= {item.should_refuse for item in KNOWN_ANSWERS}


@pytest.mark.parametrize("reply, outcome", [
    (GOOD, "scored"), (LOW, "scored"), (UNPARSEABLE, "unparseable"), (OFF_SCALE, "off_scale"),
    ('{"relevance": "high", "faithfulness": 4, "harmlessness": 5}', "unparseable"),
    ('{"relevance": 0, "faithfulness": 4, "harmlessness": 5}', "off_scale"), ("", "unparseable"),
])
def test_judge_output_is_scored_only_when_complete_and_on_scale(reply, outcome):
    found, scores, why = judge.parse(reply)
    assert found == outcome
    assert bool(scores) == (outcome == "scored") and bool(why) == (outcome != "scored")


def test_sampler_takes_exactly_its_share_starting_with_the_first():
    sampler = judge.Sampler(0.2)
    taken = [sampler.take() for _ in range(20)]
    assert taken[0] and sum(taken) == 4
    assert not any(judge.Sampler(0).take() for _ in range(10))


@pytest.mark.parametrize("share, known", [(0, 0), (0.5, 5), (0.6667, 10), (0.9, 45)])
def test_a_run_asks_known_questions_in_the_configured_share_of_its_sessions(share, known):
    plan = agent.plan_sessions(share, random.Random(7))
    asked = [session.known.id for session in plan if session.known]
    assert len(asked) == known and [s for s in plan if not s.known] == list(agent.SESSIONS)
    if known >= len(KNOWN_ANSWERS):
        assert set(asked) == set(QUESTIONS)


def test_known_answers_are_counted_correct_grounded_and_refused_as_scored(judged_run):
    points = _points(judged_run)

    def checks(check: str, result: str) -> float:
        return points[("llm.quality.checks", _labels(model=STACK_MODEL, check=check, result=result))]

    assert (checks("correct", "pass"), checks("correct", "fail")) == (6, 2)
    assert (checks("grounded", "pass"), checks("grounded", "fail")) == (6, 2)
    assert (checks("refusal", "pass"), checks("refusal", "fail")) == (10, 0)
    scripted_turns = sum(len(s.turns) for s in agent.SESSIONS)
    assert points[("llm.quality.answers", _labels(model=STACK_MODEL, source="known_answer"))] == 10
    assert points[("llm.quality.answers", _labels(model=STACK_MODEL, source="session"))] == scripted_turns


def test_bad_judge_output_is_counted_never_dropped_nor_scored(judged_run):
    points = _points(judged_run)
    labels = {"model": STACK_MODEL, "judge": "judge-model"}
    answers = len(judged_run[0].recorded.judge_requests)
    assert answers == 10 + sum(len(s.turns) for s in agent.SESSIONS)
    verdicts = {outcome: points[("llm.quality.judge.verdicts", _labels(outcome=outcome, **labels))]
                for outcome in judge.OUTCOMES}
    # Four replies in turn: good, unparseable, off-scale, low.
    assert verdicts == {"scored": answers // 2, "unparseable": answers // 4, "off_scale": answers // 4, "error": 0}
    relevance = points[("llm.quality.judge.score", _labels(criterion="relevance", **labels))]
    assert relevance.count == answers // 2 and relevance.total == (5 + 2) * answers // 4
    assert relevance.bounds == (1, 2, 3, 4, 5)
    tokens = points[("llm.quality.judge.tokens", _labels(judge="judge-model", token_type="prompt"))]
    assert tokens == 300 * answers


def test_scores_are_on_the_answer_span_and_the_judge_call_is_a_tagged_child(judged_run):
    server, receiver = judged_run
    spans = [span for span in receiver.capture.spans if span.service == "workload"]
    answers = [s.attributes for s in spans if s.name == "answer"]
    by_question = {a["llm.quality.question_id"]: a for a in answers if "llm.quality.question_id" in a}
    assert by_question["dev-budget"]["llm.quality.correct"] is False
    assert by_question["host-vcpus"]["llm.quality.grounded"] is False
    assert by_question["l4-memory"]["llm.quality.correct"] is True
    assert by_question["unsafe-weapon"]["llm.quality.refused"] is True
    assert "llm.quality.correct" not in by_question["unsafe-weapon"]
    outcomes = [a["llm.quality.judge.outcome"] for a in answers]
    assert outcomes.count("unparseable") == len(answers) // 4
    low = [a for a in answers if a.get("llm.quality.judge.relevance") == 2]
    assert low and all(a["llm.quality.judge.min_score"] == 1 for a in low)
    assert not any("llm.quality.judge.relevance" in a for a in answers if a["llm.quality.judge.outcome"] != "scored")
    judges = [s for s in spans if s.name == "judge"]
    answer_ids = {s.span_id for s in spans if s.name == "answer"}
    assert len(judges) == len(answers) and all(s.parent_span_id in answer_ids for s in judges)
    assert all(s.attributes["llm.quality.judge.call"] is True for s in judges)
    # The judge's request carries its own span's context, so its model spans join that span, not the answer's.
    judge_ids = {s.span_id for s in judges}
    assert {r["traceparent"].split("-")[2] for r in server.recorded.judge_requests} == judge_ids


def test_no_metric_label_carries_prompt_or_answer_text(judged_run):
    """Every label is an id or one of a few fixed values; none holds a question, prompt or answer."""
    texts = [item.question for item in KNOWN_ANSWERS] + [answer for answer, _ in SCRIPT.values()]
    texts += [turn for session in agent.SESSIONS for turn in session.turns]
    allowed = {
        "model": {STACK_MODEL}, "judge": {"judge-model"}, "source": set(quality.SOURCES),
        "check": set(quality.CHECKS), "result": {"pass", "fail"}, "outcome": set(judge.OUTCOMES),
        "criterion": set(judge.CRITERIA), "token_type": {"prompt", "completion"},
    }
    seen = set()
    for (name, labels) in _points(judged_run):
        for key, value in labels:
            assert value in allowed.get(key, set()), (name, key, value)
            assert not any(text in value for text in texts)
            seen.add(key)
    assert seen == set(allowed)
