"""Answer quality on the real components: the real Llama Stack 0.7.3 server and the real workload, run from
the declared resources (tests/real_stack.py), against the fake vLLM, which answers the known questions
right, wrong or without a citation (KNOWN_ANSWER_SCRIPT) and gives the judge's verdicts in turn, an
unparseable and an off-scale one among them (JUDGE_VERDICTS). What the OTLP receiver captured must hold
exactly the scores, counts and span attributes that script implies."""

from __future__ import annotations

from tests.fake_vllm import JUDGE_VERDICTS, KNOWN_ANSWER_SCRIPT, UNCITED, WRONG
from workload import agent
from workload.known_answers import KNOWN_ANSWERS

FACTUAL = [item.id for item in KNOWN_ANSWERS if item.facts]


def _points(run, name: str) -> dict[frozenset, object]:
    return {frozenset((k, v) for k, v in p.attributes.items() if k not in ("model", "judge")): p
            for p in run.capture.metrics("workload").get(name, [])}


def _answers(run) -> list[dict]:
    return [span.attributes for span in run.capture.spans if span.service == "workload" and span.name == "answer"]


def test_every_known_question_is_asked_once_and_answered(real_run):
    asked = [a["llm.quality.question_id"] for a in _answers(real_run) if "llm.quality.question_id" in a]
    assert sorted(asked) == sorted(item.id for item in KNOWN_ANSWERS), real_run.workload_output[-3000:]


def test_known_answer_counts_match_the_fake_model_s_script(real_run):
    checks = {tuple(sorted(k)): p.value for k, p in _points(real_run, "llm.quality.checks").items()}

    def count(check: str, result: str) -> float:
        return checks[tuple(sorted({("check", check), ("result", result)}))]

    wrong = sum(1 for how in KNOWN_ANSWER_SCRIPT.values() if how == WRONG)
    uncited = sum(1 for how in KNOWN_ANSWER_SCRIPT.values() if how == UNCITED)
    assert (count("correct", "pass"), count("correct", "fail")) == (len(FACTUAL) - wrong, wrong)
    # Grounded: the right fact's document cited and retrieved; wrong and uncited answers cite nothing.
    assert (count("grounded", "pass"), count("grounded", "fail")) == (len(FACTUAL) - wrong - uncited, wrong + uncited)
    # The real shield (llama-guard on the fake model) refuses the unsafe question and answers the safe one.
    assert (count("refusal", "pass"), count("refusal", "fail")) == (len(KNOWN_ANSWERS), 0)


def test_span_attributes_say_which_answer_failed_which_check(real_run):
    by_question = {a["llm.quality.question_id"]: a for a in _answers(real_run) if "llm.quality.question_id" in a}
    for question, how in KNOWN_ANSWER_SCRIPT.items():
        assert by_question[question]["llm.quality.correct"] is (how != WRONG), question
        assert by_question[question]["llm.quality.grounded"] is False, question
    assert by_question["l4-memory"]["llm.quality.grounded"] is True
    assert by_question["unsafe-weapon"]["llm.quality.refused"] is True
    assert by_question["safe-kill"]["llm.quality.refused"] is False


def test_judge_verdicts_are_counted_by_outcome_and_only_scored_ones_give_scores(real_run):
    answers = _answers(real_run)
    scripted_turns = sum(len(session.turns) for session in agent.SESSIONS)
    assert len(answers) == scripted_turns + len(KNOWN_ANSWERS)
    judged = len(answers) // 5  # judgeSampleShare 0.2 of the dev stack: the first answer, then every fifth
    assert real_run.workload_judged == judged == len(JUDGE_VERDICTS)
    verdicts = {dict(k)["outcome"]: p.value for k, p in _points(real_run, "llm.quality.judge.verdicts").items()}
    assert verdicts == {"scored": 2, "unparseable": 1, "off_scale": 1, "error": 0}
    scores = {dict(k)["criterion"]: p for k, p in _points(real_run, "llm.quality.judge.score").items()}
    assert (scores["relevance"].count, scores["relevance"].total) == (2, 5 + 2)
    assert (scores["faithfulness"].count, scores["faithfulness"].total) == (2, 4 + 1)
    outcomes = sorted(a["llm.quality.judge.outcome"] for a in answers if "llm.quality.judge.outcome" in a)
    assert outcomes == ["off_scale", "scored", "scored", "unparseable"]
    judge_spans = [s for s in real_run.capture.spans if s.service == "workload" and s.name == "judge"]
    assert len(judge_spans) == judged and all(s.attributes["llm.quality.judge.call"] for s in judge_spans)
