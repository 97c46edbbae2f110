"""Answer quality: how much of the workload's traffic is checked against known answers, how much an LLM
judge scores, which model judges, and the targets the quality alerts hold answers to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from stack.config.common import fraction, qualified, shown
from stack.config.workloads import WorkloadConfig

# The workload asks known questions in at most this share of its sessions (the rest exercise tools).
MAX_KNOWN_ANSWER_SHARE = 0.9
_JUDGE_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[\w.\-~/]*)?/v1")
_JUDGE_MODEL = re.compile(r"[A-Za-z0-9][\w.\-:/]{0,199}")


@dataclass(frozen=True)
class QualityConfig:
    known_answer_share: float
    # What the judge scores: judgeSampleShare when traceContent is on, else 0 (judging reads answer text).
    judge_sample_share: float
    # The judge's model name at its endpoint; the endpoint is None for the model servers themselves.
    judge_model: str
    judge_endpoint: str | None
    correctness_objective: float
    judge_score_drop_fraction: float

    @property
    def judging(self) -> bool:
        return self.judge_sample_share > 0


def parse(raw: Mapping[str, Any], workload: WorkloadConfig, problems: list[str]) -> QualityConfig:
    explicit_model = str(raw.get("judgeModel") or "")
    if explicit_model and not _JUDGE_MODEL.fullmatch(explicit_model):
        problems.append(f"{qualified('judgeModel')}: {shown(explicit_model)} is not a model name; allowed: the name "
                        "the judge's endpoint serves, like Qwen/Qwen2.5-7B-Instruct, or empty for the served model")
    endpoint = str(raw.get("judgeEndpoint") or "") or None
    if endpoint is not None and not _JUDGE_ENDPOINT.fullmatch(endpoint):
        problems.append(f"{qualified('judgeEndpoint')}: {shown(endpoint)} is not an OpenAI-compatible base URL; "
                        "allowed: http(s)://host[:port][/path]/v1, or empty for the model servers")
    if endpoint is not None and not raw.get("judgeModel"):
        problems.append(f"{qualified('judgeEndpoint')} is set but {qualified('judgeModel')} is empty; allowed: "
                        "the model name that endpoint serves in judgeModel too")
    share = fraction(raw, "judgeSampleShare", 0.0, 1.0, problems)
    return QualityConfig(
        known_answer_share=fraction(raw, "knownAnswerShare", 0.0, MAX_KNOWN_ANSWER_SHARE, problems),
        judge_sample_share=share if workload.trace_content else 0.0,
        judge_model=explicit_model or workload.model_id,
        judge_endpoint=endpoint,
        correctness_objective=fraction(raw, "answerCorrectnessObjective", 0.5, 1.0, problems),
        judge_score_drop_fraction=fraction(raw, "judgeScoreDropFraction", 0.05, 0.9, problems),
    )
