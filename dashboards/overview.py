"""One page per role, built from the domains' own panels: the developer (latency next to answer
quality, prefill vs decode, caches), the SRE (saturation, errors, GPU health, pipeline health) and the
business (spend, tokens, cost per token and per correct answer, SLO attainment)."""

from __future__ import annotations

from dataclasses import replace

from dashboards import answers, application, cost, gpu, platform, quality, vllm
from dashboards.config import SignalsSpec
from dashboards.layout import Row
from dashboards.mixin import Dashboard, Group


def rules(spec: SignalsSpec) -> list[Group]:
    return []  # every panel here reads a domain's recorded series


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    v, g, c, pl, qu, a = (m.panels(spec) for m in (vllm, gpu, cost, platform, quality, answers))
    # No-GPU mode: the GPU panels and the GPU dashboard's link are left out, not shown empty.
    gpus = spec.gpus
    links = (("vLLM performance", "/d/llmobs-vllm"), *((("GPUs", "/d/llmobs-gpu"),) if gpus else ()), ("Cost", "/d/llmobs-cost"),
             ("Answer quality", "/d/llmobs-answers"))
    business_rows = [
        Row("Money", (c["spend_hour"], c["spend_today"], c["spend_day"], c["spend_month"], *((c["gpu_hours"],) if gpus else ()))),
        Row("What it buys", (c["per_million"], c["tokens_per_usd"], replace(v["tokens"], width=6))),
        Row("Service level", (v["slo_stat"], replace(v["slo"], width=9), replace(v["requests"], width=9))),
        Row("Answer quality", (a["correctness"], a["usd_per_1k_correct"], replace(a["checks"], width=12))),
    ]
    if "apis" in c:
        business_rows.append(Row("Compared with APIs", (c["apis"],)))
    return [
        Dashboard(
            "llmobs-developer", "Overview: developer",
            "Where a request's time goes (queue, prefill, decode), token latency and cache behaviour, and whether "
            "the answers are any good.",
            (
                Row("Latency", (v["ttft"], v["itl"], v["e2e"])),
                Row("Answer quality", (a["correctness"], replace(a["judge_scores"], width=9),
                                       replace(a["checks"], width=9))),
                Row("Prefill vs decode", (v["phases"], v["queue_over"], v["prefill_over"])),
                Row("Caches", (v["kv_cache"], v["prefix_cache"], v["preemptions"])),
                Row("Requests", (v["prompt_len"], v["gen_len"], v["errors"])),
            ),
            (*vllm.variables(spec), *answers.variables(spec)), ("overview", "developer"), extra_links=links,
        ),
        Dashboard(
            "llmobs-sre", "Overview: SRE",
            "Saturation, errors, GPU health and the telemetry pipeline, on one page.",
            (
                Row("At a glance", vllm.stat_strip(spec)),
                Row("Saturation", (v["running_waiting"], v["kv_cache"], *((g["util"],) if gpus else ()))),
                Row("Errors", tuple(replace(panel, width=6) for panel in (
                    application.panels(spec)["availability"], v["errors"], qu["inference_errors"], qu["tool_errors"]))),
                *((Row("GPU health", (g["temperature"], g["throttle"], g["xid"])),) if gpus else ()),
                Row("Pipeline", (pl["targets"], pl["collector_out"], pl["tempo_in"])),
            ),
            (*vllm.variables(spec), *(gpu.variables(spec) if gpus else ())), ("overview", "sre"), extra_links=links,
        ),
        Dashboard(
            "llmobs-business", "Overview: business",
            "Spend, tokens produced, cost per token and per correct answer, and whether users got the service "
            "level promised.",
            tuple(business_rows), (*vllm.variables(spec), *answers.variables(spec)), ("overview", "business"), time_from="now-24h", extra_links=links,
        ),
    ]
