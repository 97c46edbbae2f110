"""Answer quality: every answer of the agent phase counted, known answers checked, a share judged, and
the results sent as metrics and put on the answer's span.

Metrics (OTLP names; through the collector, counters get ``_total``, ``{curly}`` units no suffix):
- ``llm.quality.answers`` {model, source}: answers given, to a known-answer question or in a scripted session;
- ``llm.quality.checks`` {model, check, result}: known-answer checks (correct, grounded, refusal), pass or fail;
- ``llm.quality.judge.verdicts`` {model, judge, outcome}: judge verdicts (scored, unparseable, off_scale, error);
- ``llm.quality.judge.score`` {model, judge, criterion}: histogram of the scored verdicts, 1-5;
- ``llm.quality.judge.tokens`` {judge, token_type}: the judge's own tokens, which the cost rules subtract.
Labels hold ids and enumerations only, never prompt or answer text. Counters start at zero (sent
before the first session), so a short run's first answers are counted by Prometheus' ``increase``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from opentelemetry.trace import Span

from workload import judge as judging
from workload.known_answers import KnownAnswer, KnownAnswerScore, score
from workload.tracing import JUDGE_CALL, Telemetry

CHECKS = ("correct", "grounded", "refusal")
SOURCES = ("known_answer", "session")
TOKEN_TYPES = ("prompt", "completion")


@dataclass(frozen=True)
class Answer:
    """What one turn produced, read from the Responses API output (or the shield's refusal)."""

    question: str
    text: str
    refused: bool
    retrieved: tuple[str, ...] = ()  # names of the documents file search returned
    cited: tuple[str, ...] = ()  # names of the documents the answer's file citations point at
    context: tuple[str, ...] = ()  # the retrieved chunks, for the judge

    @classmethod
    def refusal(cls, question: str, message: str) -> "Answer":
        return cls(question, message, refused=True)


def read_answer(question: str, response: Any, documents: dict[str, str]) -> Answer:
    """``documents`` maps uploaded file ids to document names: Llama Stack 0.7.3 reports a file search
    result's file id as its filename too (responses/tool_executor.py)."""
    text, retrieved, cited, context = "", [], [], []

    def name(file_id: str | None, filename: str | None) -> str:
        return documents.get(file_id or "") or documents.get(filename or "") or filename or file_id or ""

    for item in response.output:
        if item.type == "file_search_call":
            for result in getattr(item, "results", None) or []:
                retrieved.append(name(getattr(result, "file_id", None), getattr(result, "filename", None)))
                context.append(getattr(result, "text", "") or "")
        elif item.type == "message":
            for part in item.content if isinstance(item.content, list) else []:
                if getattr(part, "type", None) != "output_text":
                    continue
                text += getattr(part, "text", "") or ""
                for annotation in getattr(part, "annotations", None) or []:
                    if getattr(annotation, "type", None) == "file_citation":
                        cited.append(name(getattr(annotation, "file_id", None), getattr(annotation, "filename", None)))
    return Answer(question, text.strip(), False, tuple(retrieved), tuple(cited), tuple(context))


class JudgeSignals:
    """The judge's metrics and the scores on a span: the same for the workload's judge and the sampler's."""

    def __init__(self, meter: Any, judge_model: str):
        self.judge_model = judge_model
        self.verdicts = meter.create_counter("llm.quality.judge.verdicts", "{verdict}", "LLM judge verdicts by outcome.")
        self.scores = meter.create_histogram(
            "llm.quality.judge.score", "{score}", "LLM judge scores per criterion, 1-5.",
            explicit_bucket_boundaries_advisory=[float(v) for v in range(judging.SCALE[0], judging.SCALE[1] + 1)])
        self.tokens = meter.create_counter("llm.quality.judge.tokens", "{token}", "Tokens the LLM judge used.")
        for token_type in TOKEN_TYPES:
            self.tokens.add(0, {"judge": judge_model, "token_type": token_type})

    def start(self, labels: dict[str, str]) -> None:
        """Every outcome's counter at zero for these labels, so Prometheus' increase() counts the first verdicts."""
        for outcome in judging.OUTCOMES:
            self.verdicts.add(0, {**labels, "judge": self.judge_model, "outcome": outcome})

    def record(self, verdict: judging.Verdict, labels: dict[str, str], span: Span) -> None:
        labels = {**labels, "judge": self.judge_model}
        self.verdicts.add(1, {**labels, "outcome": verdict.outcome})
        self.tokens.add(verdict.prompt_tokens, {"judge": self.judge_model, "token_type": "prompt"})
        self.tokens.add(verdict.completion_tokens, {"judge": self.judge_model, "token_type": "completion"})
        span.set_attribute("llm.quality.judge.outcome", verdict.outcome)
        span.set_attribute("llm.quality.judge.model", self.judge_model)
        for criterion, value in verdict.scores.items():
            self.scores.record(value, {**labels, "criterion": criterion})
            span.set_attribute(f"llm.quality.judge.{criterion}", value)
        if verdict.scores:
            span.set_attribute("llm.quality.judge.min_score", min(verdict.scores.values()))


@dataclass
class QualityRecorder:
    model: str
    telemetry: Telemetry
    log: Callable[[str], None]
    judge: judging.Judge | None = None
    sampler: judging.Sampler = field(default_factory=lambda: judging.Sampler(0.0))
    # Without a shield nothing is expected to be refused, so refusals are not checked.
    shielded: bool = True

    def __post_init__(self) -> None:
        meter = self.telemetry.meter
        self.answers = meter.create_counter("llm.quality.answers", "{answer}", "Answers the agent gave.")
        self.checks = meter.create_counter("llm.quality.checks", "{answer}", "Known-answer checks, passed or failed.")
        self.judge_signals = JudgeSignals(meter, self.judge.model) if self.judge else None
        for source in SOURCES:
            self.answers.add(0, {"model": self.model, "source": source})
        for check in CHECKS:
            for result in ("pass", "fail"):
                self.checks.add(0, {"model": self.model, "check": check, "result": result})
        if self.judge_signals:
            self.judge_signals.start({"model": self.model})
        self.telemetry.meter_provider.force_flush()

    def record(self, answer: Answer, known: KnownAnswer | None, span: Span, headers: dict[str, str]) -> None:
        """Scores one answer: counters, and attributes on the answer's span (still open)."""
        self.answers.add(1, {"model": self.model, "source": "known_answer" if known else "session"})
        span.set_attribute("llm.quality.refused", answer.refused)
        if known:
            span.set_attribute("llm.quality.question_id", known.id)
            self._count_checks(score(known, answer.text, answer.refused, answer.retrieved, answer.cited,
                                     self.shielded), span)
        if self.judge and self.sampler.take():
            self._judge(answer, span)

    def _count_checks(self, result: KnownAnswerScore, span: Span) -> None:
        outcomes = {"correct": result.correct, "grounded": result.grounded, "refusal": result.refusal_as_expected}
        for check, passed in outcomes.items():
            if passed is None:
                continue
            self.checks.add(1, {"model": self.model, "check": check, "result": "pass" if passed else "fail"})
            span.set_attribute(f"llm.quality.{check}", passed)
        self.log("  known answer: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in outcomes.items()
                                                if v is not None))

    def _judge(self, answer: Answer, span: Span) -> None:
        assert self.judge is not None and self.judge_signals is not None
        # The judge's call is its own tagged span, so nothing scores it again or counts it as the app's traffic.
        with self.telemetry.child("judge", **{JUDGE_CALL: True,
                                              "llm.quality.judge.prompt": judging.PROMPT_VERSION}) as (call, headers):
            verdict = self.judge.judge(answer.question, list(answer.context), answer.text, headers)
            call.set_attribute("llm.quality.judge.outcome", verdict.outcome)
        self.judge_signals.record(verdict, {"model": self.model}, span)
        self.log(f"  judge: {verdict.outcome} {verdict.scores or verdict.detail}")
