"""Answer quality: whether the answers are any good, from the workload's own scoring (workload/quality.py)
and the judge sampler's scoring of other apps' traced answers (workload/sampler.py).

Known-answer checks (correct, grounded, refused when it should be) and an LLM judge's 1-5 scores
(relevance, faithfulness, harmlessness) arrive as OTLP metrics through the collector (job = the
sender's service name: workload, judge-sampler). The sampler's judge metrics carry the same names and
an ``app`` label, the service whose spans held the answer. Recording rules turn them into hourly rates and means; alerts compare the
judge's last hour with its trailing day, correctness with its objective, and notice a judge that has
gone silent. Windows are an hour because the workload scores a few dozen answers per run.
"""

from __future__ import annotations

from dashboards import cost
from dashboards import promql as q
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row, TraceSearch
from dashboards.mixin import Alert, Dashboard, Group, Record, Variable

CHECKS = "llm_quality_checks_total"
ANSWERS = "llm_quality_answers_total"
VERDICTS = "llm_quality_judge_verdicts_total"
SCORE = "llm_quality_judge_score"
JUDGE_TOKENS = "llm_quality_judge_tokens_total"
CHECK_RATIO = "model_check:llm_quality_checks:ratio_rate1h"
SCORE_MEAN = "model_criterion:llm_quality_judge_score:mean1h"
SCORE_BASELINE = "model_criterion:llm_quality_judge_score:mean1d"
UNSCORABLE = "model:llm_quality_judge_unscorable:ratio_rate1h"
CORRECT_ANSWERS = "model:llm_quality_correct_answers:rate1h"
OBJECTIVE = "cluster:answer_correctness_objective:config"
USD_PER_1K_CORRECT = "cluster:usd_per_1k_correct_answers:rate1h"
JUDGE_TOKEN_RATE = "judge:llm_quality_judge_tokens:rate1h"
APP_SCORE_MEAN = "app_criterion:llm_quality_judge_score:mean1h"
# An hour's mean says little below these counts: the alerts wait for them.
MIN_CHECKS_PER_HOUR = 5
MIN_VERDICTS_PER_HOUR = 3
UNSCORABLE_OUTCOMES = "~unparseable|off_scale"
# A judge that cannot keep to its output format in 1 of 10 verdicts needs a look, in 1 of 4 another judge.
UNSCORABLE_WARNING, UNSCORABLE_BAD = 0.1, 0.25
SCORE_RANGE = (1, 5)


def variables(spec: SignalsSpec) -> tuple[Variable, ...]:
    return (Variable("model", "Model", ANSWERS, "model", tuple(spec.selectors.workload.items())),)


def _selector(spec: SignalsSpec, metric: str, **extra: str) -> str:
    return q.selector(metric, spec.selectors.workload, **extra)


def _judged(spec: SignalsSpec, metric: str, **extra: str) -> str:
    """A judge metric from every judge: the workload's and the sampler's."""
    return q.selector(metric, spec.selectors.judges, **extra)


def rules(spec: SignalsSpec) -> list[Group]:
    checks = _selector(spec, CHECKS)
    verdicts = _judged(spec, VERDICTS)

    def mean(window: str, by: tuple[str, str] = ("model", "criterion"), selectors=spec.selectors.judges) -> str:
        return q.ratio(
            q.sum_by(list(by), q.rate(q.selector(SCORE + "_sum", selectors), window)),
            q.sum_by(list(by), q.rate(q.selector(SCORE + "_count", selectors), window)))

    records = (
        Record(OBJECTIVE, q.constant(spec.answers.correctness_objective)),
        # Per check, the share of known-answer questions that passed: check="correct" is the correctness rate.
        Record(CHECK_RATIO, q.ratio(
            q.sum_by(["model", "check"], q.rate(_selector(spec, CHECKS, result="pass"), "1h")),
            q.sum_by(["model", "check"], q.rate(checks, "1h")))),
        Record(SCORE_MEAN, mean("1h")),
        # The trailing baseline: the last day (the last hour is a 24th of it, so a drop barely moves it).
        Record(SCORE_BASELINE, mean("1d")),
        # Per app: the other apps' answers the sampler judged, by the service that sent them.
        Record(APP_SCORE_MEAN, mean("1h", ("app", "criterion"), spec.selectors.judge_sampler)),
        Record(UNSCORABLE, q.ratio(
            q.sum_by(["model"], q.rate(_judged(spec, VERDICTS, outcome=UNSCORABLE_OUTCOMES), "1h")),
            q.sum_by(["model"], q.rate(verdicts, "1h")))),
        Record("judge:llm_quality_judge_verdicts:rate1h", q.sum_by(["judge", "outcome"], q.rate(verdicts, "1h"))),
        Record(JUDGE_TOKEN_RATE, q.sum_by(["judge", "token_type"], q.rate(_judged(spec, JUDGE_TOKENS), "1h"))),
        # Every answer the workload gave times the measured correctness: correct answers per second.
        Record(CORRECT_ANSWERS, f'sum by (model) ({q.rate(_selector(spec, ANSWERS), "1h")}) '
                                f'* on(model) {CHECK_RATIO}{{check="correct"}}'),
        Record(USD_PER_1K_CORRECT, q.ratio(f"scalar({cost.PRICE})", f"sum({CORRECT_ANSWERS}) * 3600 / 1000")),
    )
    return [Group("llmobs-answers.rules", records), Group("llmobs-answers.alerts", tuple(alerts(spec)))]


def alerts(spec: SignalsSpec) -> list[Alert]:
    a = spec.answers
    keep = 1 - a.score_drop_fraction
    scored = f"sum by (model, criterion) (increase({_judged(spec, SCORE + '_count')}[1h])) >= {MIN_VERDICTS_PER_HOUR}"
    checked = (f'sum by (model, check) (increase({_selector(spec, CHECKS, check="correct")}[1h])) '
               f">= {MIN_CHECKS_PER_HOUR}")
    asked_unanswered = (
        f'(sum by (judge) (increase({_judged(spec, VERDICTS, outcome="error")}[1h])) > 0) unless on(judge) '
        f'(sum by (judge) (increase({_judged(spec, VERDICTS, outcome="!error")}[1h])) > 0)')
    result = [
        Alert("AnswerScoreDrop",
              f"({SCORE_MEAN} < {keep:g} * {SCORE_BASELINE}) and on(model, criterion) ({scored})", "warning",
              "The judge scores answers lower than over the day before.",
              "The mean {{ $labels.criterion }} score of {{ $labels.model }} over the last hour is "
              "{{ $value | printf \"%.2f\" }}, below " + f"{keep:g}" + " times its trailing-day mean "
              f"(judgeScoreDropFraction {a.score_drop_fraction:g}).", for_="10m"),
        Alert("AnswerCorrectnessBelowObjective",
              f'({CHECK_RATIO}{{check="correct"}} < {a.correctness_objective:g}) and on(model, check) ({checked})',
              "warning", "Known-answer questions are answered correctly less often than the objective.",
              "{{ $labels.model }} answered {{ $value | humanizePercentage }} of its known-answer questions "
              f"correctly in the last hour; the objective (answerCorrectnessObjective) is {a.correctness_objective:g}.",
              for_="10m"),
    ]
    silent = asked_unanswered
    if a.judge_sample_share > 0:
        # Answers kept coming but no verdict at all: the sampler or the judge stopped.
        enough = max(2, round(2 / a.judge_sample_share))
        silent = (f"({asked_unanswered}) or ((sum(increase({_selector(spec, ANSWERS)}[1h])) >= {enough}) unless on() "
                  f"(sum(increase({_selector(spec, VERDICTS)}[1h])) > 0))")
    result.append(Alert(
        "AnswerJudgeSilent", silent, "warning", "The LLM judge has returned no verdict for an hour.",
        "Answers were sent to the judge (or given while judging is on) in the last hour, but no verdict came back. "
        "Answer-quality scores are stale: check the judge's endpoint and the workload's log.", for_="15m"))
    return result


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    a = spec.answers
    model = {"model": "$model"}
    low, high = SCORE_RANGE
    objective = {"thresholds": ((a.correctness_objective, "green"),), "threshold_base": "red"}
    drop_line = round(high * (1 - a.score_drop_fraction), 2)
    return {
        "correctness": Panel(
            "stat", "Correct answers (last hour)",
            f"Share of known-answer questions answered correctly: {CHECKS}{{check=\"correct\"}} passed over all "
            f"(recorded {CHECK_RATIO}); red below the objective {a.correctness_objective:g}.", "percentunit",
            (Query(q.selector(CHECK_RATIO, model, check="correct"), "{{model}}", instant=True),),
            width=6, min=0, max=1, **objective),
        "checks": Panel(
            "timeseries", "Known-answer checks against the objective",
            f"Per check, the share of known-answer questions that passed ({CHECKS} by check, recorded "
            f"{CHECK_RATIO}): correct, grounded (cites the retrieved document that holds the fact), refusal (unsafe "
            f"refused, safe answered); the line is the objective ({OBJECTIVE}).", "percentunit",
            (Query(q.selector(CHECK_RATIO, model), "{{model}} {{check}}"), Query(OBJECTIVE, "objective")),
            width=12, min=0, max=1, **objective),
        "judge_scores": Panel(
            "timeseries", "Judge score by criterion (mean, last hour)",
            f"Mean of {SCORE} (1-5) per criterion over the last hour (recorded {SCORE_MEAN}), next to the trailing "
            f"day ({SCORE_BASELINE}); the line is the top score less judgeScoreDropFraction ({drop_line:g}).", "none",
            (Query(q.selector(SCORE_MEAN, model), "{{model}} {{criterion}}"),
             Query(q.selector(SCORE_BASELINE, model), "{{model}} {{criterion}} (trailing day)")),
            width=12, min=low, max=high, thresholds=((drop_line, "green"),), threshold_base="red"),
        "app_scores": Panel(
            "timeseries", "Judge score by app (traced answers)",
            f"Mean of {SCORE} (1-5) per app and criterion over the last hour (recorded {APP_SCORE_MEAN}): the judge "
            "sampler's scores of a share (judgeSampleShare) of every other app's answers that reach the collector "
            "with content (traceContent on); app is the service whose spans held the answer.", "none",
            (Query(APP_SCORE_MEAN, "{{app}} {{criterion}}"),),
            width=12, min=low, max=high, thresholds=((drop_line, "green"),), threshold_base="red"),
        "unscorable": Panel(
            "timeseries", "Unscorable judge verdicts",
            f"Share of {VERDICTS} that were unparseable or off the 1-5 scale (recorded {UNSCORABLE}); they are counted, "
            "never scored.", "percentunit", (Query(q.selector(UNSCORABLE, model), "{{model}}"),),
            width=12, min=0, thresholds=((UNSCORABLE_WARNING, "orange"), (UNSCORABLE_BAD, "red"))),
        "verdicts": Panel(
            "timeseries", "Judge verdicts by outcome",
            f"Rate of {VERDICTS} by judge and outcome (scored, unparseable, off_scale, error; recorded "
            "judge:llm_quality_judge_verdicts:rate1h).", "reqps",
            (Query("judge:llm_quality_judge_verdicts:rate1h", "{{judge}} {{outcome}}"),), stack=True, width=12),
        "judge_tokens": Panel(
            "timeseries", "Tokens the judge uses",
            f"{JUDGE_TOKENS} per hour by judge and token type (recorded {JUDGE_TOKEN_RATE}); the cost rules subtract "
            "them from the application's tokens.", "short",
            (Query(f"{JUDGE_TOKEN_RATE} * 3600", "{{judge}} {{token_type}}"),), width=12),
        "usd_per_1k_correct": Panel(
            "stat", "Dollars per 1000 correct answers",
            f"Hourly price ({cost.PRICE}) over the answers per hour ({ANSWERS}) times the correctness rate "
            f"({CHECKS}{{check=\"correct\"}}): recorded {USD_PER_1K_CORRECT}.", "currencyUSD",
            (Query(USD_PER_1K_CORRECT, "USD per 1000 correct", instant=True),), width=6),
        "lowest": Panel(
            "traces", "Lowest-scored recent answers",
            "Tempo TraceQL search for the workload's answer spans the judge scored 2 or lower "
            "(llm.quality.judge.min_score), or that failed a known-answer check (llm.quality.correct, "
            "llm.quality.grounded), and the judge sampler's verdicts on other apps' answers scored 2 or lower "
            "(judge answer spans, linked to the judged span; llm.quality.judged.trace_id names its trace); each "
            "row opens the trace.", "none",
            (TraceSearch('{ (name = "answer" && (span.llm.quality.judge.min_score <= 2 || span.llm.quality.correct = '
                         'false || span.llm.quality.grounded = false)) || (name = "judge answer" && '
                         'span.llm.quality.judge.min_score <= 2) } | select(span.llm.quality.question_id, '
                         'span.llm.quality.app, span.llm.quality.judged.trace_id, '
                         'span.llm.quality.judge.min_score, span.llm.quality.judge.relevance, '
                         'span.llm.quality.judge.faithfulness, span.llm.quality.judge.harmlessness)'),),
            width=24, height=9),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    p = panels(spec)
    return [Dashboard(
        "llmobs-answers", "Quality: answers",
        "Whether the answers are any good: known-answer checks (correct, grounded, refused when it should be) and "
        "an LLM judge's scores, with the lowest-scored answers linked to their traces.",
        (
            Row("Known answers", (p["correctness"], p["checks"], p["usd_per_1k_correct"])),
            Row("LLM judge", (p["judge_scores"], p["app_scores"], p["unscorable"], p["verdicts"], p["judge_tokens"])),
            Row("Answers to look at", (p["lowest"],)),
        ),
        variables(spec), ("quality", "answers"), uses_tempo=True, time_from="now-24h",
    )]
