"""Answer quality: every answer of the agent phase counted, known answers checked, a share judged, and
the results sent as metrics and put on the answer's span.

Metrics (OTLP names; Prometheus adds ``_total`` to counters):
- ``llm.quality.answers`` {model, source}: answers given, known-answer or scripted session;
- ``llm.quality.checks`` {model, check, result}: known-answer checks (correct, grounded, refusal) passed or failed;
- ``llm.quality.judge.verdicts`` {model, judge, outcome}: judge verdicts (scored, unparseable, off_scale, error);
- ``llm.quality.judge.score`` {model, judge, criterion}: histogram of the scored verdicts, 1-5;
- ``llm.quality.judge.tokens`` {judge, token_type}: the judge's own tokens, which the cost rules subtract.
Labels hold ids and enumerations only, never prompt or answer text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from workload import judge as judging
from workload.known_answers import KnownAnswer, KnownAnswerScore, score
from workload.metrics import Metrics
from workload.tracing import Attribute, SessionTracer

CHECKS = ("correct", "grounded", "refusal")
SOURCES = ("known_answer", "session")


@dataclass(frozen=True)
class Answer:
    """What one turn produced, read from the Responses API output."""

    question: str
    text: str
    refused: bool
    retrieved: tuple[str, ...]  # document names the file_search returned
    cited: tuple[str, ...]  # document names of file citations in the answer
    context: tuple[str, ...]  # the retrieved chunks, for the judge


def read_answer(question: str, response: Any, documents: dict[str, str]) -> Answer:
    """``documents`` maps uploaded file ids to document names (Llama Stack 0.7.3 reports the id as filename)."""
    text, refused, retrieved, cited, context = "", False, [], [], []

    def name(file_id: str | None, filename: str | None) -> str:
        return documents.get(file_id or "") or documents.get(filename or "") or filename or file_id or ""

    for item in response.output:
        if item.type == "file_search_call":
            for result in getattr(item, "results", None) or []:
                retrieved.append(name(getattr(result, "file_id", None), getattr(result, "filename", None)))
                context.append(getattr(result, "text", "") or "")
        elif item.type == "message":
            for part in item.content if isinstance(item.content, list) else []:
                if getattr(part, "type", None) == "refusal":
                    refused, text = True, getattr(part, "refusal", "") or ""
                elif getattr(part, "type", None) == "output_text":
                    text += getattr(part, "text", "") or ""
                    for annotation in getattr(part, "annotations", None) or []:
                        if getattr(annotation, "type", None) == "file_citation":
                            cited.append(name(getattr(annotation, "file_id", None), getattr(annotation, "filename", None)))
    return Answer(question, text.strip(), refused, tuple(retrieved), tuple(cited), tuple(context))


@dataclass
class QualityRecorder:
    model: str
    metrics: Metrics
    tracer: SessionTracer
    log: Callable[[str], None]
    judge: judging.Judge | None = None
    sampler: judging.Sampler = field(default_factory=lambda: judging.Sampler(0.0))
    shielded: bool = True

    def __post_init__(self) -> None:
        self.answers = self.metrics.counter("llm.quality.answers", "{answer}", "Answers the agent gave")
        self.checks = self.metrics.counter("llm.quality.checks", "{answer}", "Known-answer checks, passed or failed")
        self.verdicts = self.metrics.counter("llm.quality.judge.verdicts", "{verdict}", "Judge verdicts by outcome")
        self.scores = self.metrics.histogram("llm.quality.judge.score", "{score}", "Judge scores per criterion",
                                             range(judging.SCALE[0], judging.SCALE[1] + 1))
        self.judge_tokens = self.metrics.counter("llm.quality.judge.tokens", "{token}", "Tokens the judge used")
        # Every series of the run at zero first, so its first increase is not lost (see workload.metrics).
        for source in SOURCES:
            self.answers.add(0, model=self.model, source=source)
        for check in CHECKS:
            for result in ("pass", "fail"):
                self.checks.add(0, model=self.model, check=check, result=result)
        if self.judge:
            for outcome in judging.OUTCOMES:
                self.verdicts.add(0, model=self.model, judge=self.judge.model, outcome=outcome)
            for criterion in judging.CRITERIA:
                self.scores.declare(model=self.model, judge=self.judge.model, criterion=criterion)
            for token_type in ("prompt", "completion"):
                self.judge_tokens.add(0, judge=self.judge.model, token_type=token_type)
        self.metrics.export()

    def record(self, answer: Answer, known: KnownAnswer | None, span: dict[str, Attribute],
               headers: dict[str, str]) -> None:
        """Scores one answer: counters, and attributes on the answer's span (``span``, still open)."""
        self.answers.add(1, model=self.model, source="known_answer" if known else "session")
        span["llm.quality.refused"] = answer.refused
        if known:
            result = score(known, answer.text, answer.refused, answer.retrieved, answer.cited, self.shielded)
            self._count_checks(result, span)
            span["llm.quality.question_id"] = known.id
        if self.judge and self.sampler.take():
            self._judge(answer, span, headers)

    def _count_checks(self, result: KnownAnswerScore, span: dict[str, Attribute]) -> None:
        for check, passed in (("correct", result.correct), ("grounded", result.grounded),
                              ("refusal", result.refusal_as_expected)):
            if passed is None:
                continue
            self.checks.add(1, model=self.model, check=check, result="pass" if passed else "fail")
            span[f"llm.quality.{check}"] = passed
        self.log("  known answer: " + ", ".join(f"{k} {v}" for k, v in (
            ("correct", result.correct), ("grounded", result.grounded), ("refusal ok", result.refusal_as_expected))
            if v is not None))

    def _judge(self, answer: Answer, span: dict[str, Attribute], headers: dict[str, str]) -> None:
        assert self.judge is not None
        # The judge's call is its own span, tagged, so nothing scores it again or counts it as the app's traffic.
        tag: dict[str, Attribute] = {"llm.quality.judge.call": True, "llm.quality.judge.prompt": judging.PROMPT_VERSION}
        with self.tracer.span("judge", parent=headers, attributes=tag) as judge_headers:
            verdict = self.judge.judge(answer.question, list(answer.context), answer.text, judge_headers)
            tag["llm.quality.judge.outcome"] = verdict.outcome
        labels = {"model": self.model, "judge": self.judge.model}
        self.verdicts.add(1, outcome=verdict.outcome, **labels)
        self.judge_tokens.add(verdict.prompt_tokens, judge=self.judge.model, token_type="prompt")
        self.judge_tokens.add(verdict.completion_tokens, judge=self.judge.model, token_type="completion")
        span["llm.quality.judge.outcome"] = verdict.outcome
        span["llm.quality.judge.model"] = self.judge.model
        for criterion, value in verdict.scores.items():
            self.scores.record(value, criterion=criterion, **labels)
            span[f"llm.quality.judge.{criterion}"] = value
        if verdict.scores:
            span["llm.quality.judge.min_score"] = min(verdict.scores.values())
        self.log(f"  judge: {verdict.outcome} {verdict.scores or verdict.detail}")
