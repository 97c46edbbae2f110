"""Cost: the instance's hourly price (a recording rule generated at deploy time: the hourlyPriceUsd
setting, else the Spot price from AWS's Spot price history for a Spot host, else the on-demand list
price; labelled pricing="spot|on-demand") turned into spend, GPU-hours of measured GPUs, dollars per
million tokens, tokens per dollar, idle-GPU waste, energy per token and the same token volume priced
at commercial APIs."""

from __future__ import annotations

from dataclasses import replace

from dashboards import promql as q
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row
from dashboards.mixin import Alert, Dashboard, Group, Record

# The cost group is evaluated every minute, so each sample of a per-hour series is 1/60 of an hour.
COST_INTERVAL = "1m"
SAMPLES_PER_HOUR = 60
PRICE = "cluster:instance_price_usd_per_hour:config"
GPU_PRICE = "cluster:gpu_price_usd_per_hour:config"
BUDGET = "cluster:daily_budget_usd:config"
API_PRICE = "cluster:commercial_api_price_usd_per_million_tokens:config"
SPEND_1D = "cluster:spend_usd:sum1d"
IDLE_PER_HOUR = "cluster:gpu_idle_cost_usd_per_hour:current"
GPUS = "cluster:gpu_capacity:count"
TOKENS = {  # token kind -> recorded vLLM rate
    "prompt": "cluster:vllm_prompt_tokens:rate1h",
    "generation": "cluster:vllm_generation_tokens:rate1h",
}


def _application_tokens(spec: SignalsSpec, vllm_counter: str, judge_token_type: str) -> str:
    """vLLM's token rate, less the LLM judge's own tokens when the judge is the stack's model servers:
    judging is not the application's traffic (the judge's tokens are on the answer-quality dashboard)."""
    served = f"sum({q.rate(q.selector(vllm_counter, spec.selectors.vllm), '1h')})"
    if not spec.answers.judge_on_model_servers:
        return served
    judge = q.selector("llm_quality_judge_tokens_total", spec.selectors.workload, token_type=judge_token_type)
    return f"{served} - (sum({q.rate(judge, '1h')}) or vector(0))"


def rules(spec: SignalsSpec) -> list[Group]:
    cost = spec.cost
    vllm = spec.selectors.vllm
    config = [
        Record(PRICE, q.constant(cost.usd_per_hour), (("pricing", cost.pricing),)),
        # A CPU host (no-GPU mode) has no GPUs to share its price: it counts as one.
        Record(GPU_PRICE, q.constant(round(cost.usd_per_hour / max(cost.gpu_count, 1), 6))),
    ]
    if cost.monthly_budget_usd is not None:
        config.append(Record(BUDGET, q.constant(round(cost.monthly_budget_usd / 30, 6))))
    for api in cost.commercial_apis:
        for token_type, price in (("input", api.input_usd_per_million), ("output", api.output_usd_per_million)):
            config.append(Record(API_PRICE, q.constant(price), (("api", api.name), ("token_type", token_type))))
    idle = f"(1 - clamp_max({q.selector('DCGM_FI_DEV_GPU_UTIL', spec.selectors.dcgm)} / 100, 1))"
    derived = [
        Record(SPEND_1D, f"sum_over_time({PRICE}[1d]) / {SAMPLES_PER_HOUR}"),
        Record("cluster:spend_usd:projected_30d", f"{SPEND_1D} * 30"),
        # GPUs as measured (DCGM-Exporter's GPUs), each minute: GPU-hours are what ran, not what was configured.
        Record(GPUS, f"count({q.selector('DCGM_FI_DEV_GPU_UTIL', spec.selectors.dcgm)})"),
        Record("cluster:gpu_hours:sum1d", f"sum_over_time({GPUS}[1d]) / {SAMPLES_PER_HOUR}"),
        Record("cluster:vllm_prompt_tokens:rate1h", _application_tokens(spec, "vllm:prompt_tokens_total", "prompt")),
        Record("cluster:vllm_generation_tokens:rate1h",
               _application_tokens(spec, "vllm:generation_tokens_total", "completion")),
        Record("cluster:vllm_tokens:rate1h", " + ".join(TOKENS.values())),
        # Vector matching, not scalar(): before the price is first recorded scalar() gives NaN, and one NaN
        # sample would make the 24 h sum below NaN for a day.
        Record(IDLE_PER_HOUR, f"sum({idle}) * {GPU_PRICE}"),
        Record("cluster:gpu_idle_cost_usd:sum1d", f"sum_over_time({IDLE_PER_HOUR}[1d]) / {SAMPLES_PER_HOUR}"),
        Record("cluster:energy_joules_per_1k_tokens:rate5m", q.ratio(
            "cluster:dcgm_energy_joules:rate5m",
            f"sum({q.rate(q.selector('vllm:generation_tokens_total', vllm), '5m')}) / 1000")),
    ]
    for kind, rate in TOKENS.items():
        derived.append(Record(f"cluster:usd_per_million_{kind}_tokens:rate1h", q.ratio(f"scalar({PRICE})", f"{rate} * 3600 / 1e6")))
    derived.append(Record("cluster:usd_per_million_tokens:rate1h", q.ratio(f"scalar({PRICE})", "cluster:vllm_tokens:rate1h * 3600 / 1e6")))
    derived.append(Record("cluster:tokens_per_usd:rate1h", f"cluster:vllm_tokens:rate1h * 3600 / scalar({PRICE})"))
    if cost.commercial_apis:
        derived.append(Record(
            "api:commercial_api_equivalent_usd_per_hour:rate1h",
            f'sum without (token_type) ({API_PRICE}{{token_type="input"}} * scalar(cluster:vllm_prompt_tokens:rate1h) * 3600 / 1e6'
            f' or {API_PRICE}{{token_type="output"}} * scalar(cluster:vllm_generation_tokens:rate1h) * 3600 / 1e6)'
        ))
    return [
        Group("llmobs-cost-config.rules", tuple(config), interval=COST_INTERVAL),
        Group("llmobs-cost.rules", tuple(derived), interval=COST_INTERVAL),
        Group("llmobs-cost.alerts", tuple(alerts(spec))),
    ]


def alerts(spec: SignalsSpec) -> list[Alert]:
    if spec.cost.monthly_budget_usd is None:
        return []
    daily = spec.cost.monthly_budget_usd / 30
    return [Alert(
        "DailySpendOverBudget", f"{SPEND_1D} > ignoring(pricing) {BUDGET}", "warning",
        "Spend over the last 24 hours is above the daily budget.",
        f"The stack spent ${{{{ $value | printf \"%.2f\" }}}} in the last 24 hours, more than the daily budget of "
        f"${daily:.2f} (monthly budget {spec.cost.monthly_budget_usd:g} / 30).",
    )]


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    price_doc = f"(the {PRICE} recording rule: {spec.cost.price_doc})"
    result = {
        "spend_hour": Panel("stat", "Spend per hour", f"Instance price per hour {price_doc}.", "currencyUSD",
                            (Query(PRICE, "USD/h, {{pricing}}", instant=True),), width=5),
        "spend_today": Panel("stat", "Spend today", f"Sum of {PRICE} since midnight (browser time), one sample per minute: "
                             f"sum_over_time over the panel's range of today.", "currencyUSD",
                             (Query(f"sum_over_time({PRICE}[$__range]) / {SAMPLES_PER_HOUR}", "USD", instant=True),),
                             width=4, time_from="now/d"),
        "spend_day": Panel("stat", "Spend, last 24 h", f"Sum of {PRICE} over the last day, one sample per minute "
                           f"(recorded {SPEND_1D}).", "currencyUSD", (Query(SPEND_1D, "USD", instant=True),), width=5),
        "spend_month": Panel("stat", "Projected month", "The last 24 hours of spend times 30 (recorded "
                             "cluster:spend_usd:projected_30d).", "currencyUSD",
                             (Query("cluster:spend_usd:projected_30d", "USD", instant=True),), width=5),
        "gpu_hours": Panel("stat", "GPU-hours, last 24 h", "GPUs DCGM-Exporter reports (count of DCGM_FI_DEV_GPU_UTIL, "
                           f"recorded each minute as {GPUS}) summed over the last day (recorded cluster:gpu_hours:sum1d).", "short",
                           (Query("cluster:gpu_hours:sum1d", "GPU-hours", instant=True),), width=5),
        "per_million": Panel("timeseries", "Dollars per million tokens",
                             f"Hourly price {price_doc} over the last hour's vllm:prompt_tokens_total, "
                             "vllm:generation_tokens_total and both (each carries the whole bill), less the LLM judge's "
                             "own llm_quality_judge_tokens_total when it runs on these model servers.", "currencyUSD",
                             (Query("cluster:usd_per_million_prompt_tokens:rate1h", "per M prompt tokens"),
                              Query("cluster:usd_per_million_generation_tokens:rate1h", "per M generated tokens"),
                              Query("cluster:usd_per_million_tokens:rate1h", "per M tokens")), width=12),
        "tokens_per_usd": Panel("timeseries", "Tokens per dollar",
                                f"vllm:prompt_tokens_total + vllm:generation_tokens_total per hour (less the judge's "
                                f"llm_quality_judge_tokens_total) over the hourly price {price_doc}.",
                                "short", (Query("cluster:tokens_per_usd:rate1h", "tokens/USD"),), width=6),
        "idle_cost": Panel("timeseries", "Cost of idle GPU time",
                           "Per GPU, (1 - DCGM_FI_DEV_GPU_UTIL/100) times the per-GPU share of the hourly price: dollars per "
                           f"hour paid for GPU time nothing used (recorded {IDLE_PER_HOUR}).",
                           "currencyUSD", (Query(IDLE_PER_HOUR, "idle USD/h"),), width=6),
        "idle_today": Panel("stat", "Idle GPU dollars today", f"Sum of {IDLE_PER_HOUR} (DCGM_FI_DEV_GPU_UTIL not used, "
                            "priced per GPU) since midnight, one sample per minute.", "currencyUSD",
                            (Query(f"sum_over_time({IDLE_PER_HOUR}[$__range]) / {SAMPLES_PER_HOUR}", "USD", instant=True),),
                            width=4, time_from="now/d"),
        "idle_day": Panel("stat", "Idle GPU dollars, last 24 h", f"Sum of {IDLE_PER_HOUR} (DCGM_FI_DEV_GPU_UTIL not used, "
                          "priced per GPU) over the last day (recorded cluster:gpu_idle_cost_usd:sum1d).", "currencyUSD",
                          (Query("cluster:gpu_idle_cost_usd:sum1d", "USD", instant=True),), width=4),
        "energy": Panel("timeseries", "Energy per 1k generated tokens",
                        "Rate of DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (all GPUs, joules) per 1000 vllm:generation_tokens_total "
                        "(recorded cluster:energy_joules_per_1k_tokens:rate5m).", "joule",
                        (Query("cluster:energy_joules_per_1k_tokens:rate5m", "J per 1k tokens"),), width=12),
        "util_vs_cost": Panel("timeseries", "Spend and utilisation",
                              f"Hourly price {price_doc} next to mean DCGM_FI_DEV_GPU_UTIL (cluster:dcgm_gpu_utilization:avg).",
                              "percentunit", (Query("cluster:dcgm_gpu_utilization:avg", "GPU utilisation"),), width=12, min=0, max=1),
    }
    if spec.cost.commercial_apis:
        result["apis"] = Panel(
            "bargauge", "Same tokens on commercial APIs (USD per hour)",
            "The last hour's vllm:prompt_tokens_total and vllm:generation_tokens_total priced at each API's per-million "
            "input/output list price (stack setting commercialApiPrices; recorded "
            "api:commercial_api_equivalent_usd_per_hour:rate1h), next to this instance's hourly price.", "currencyUSD",
            (Query("api:commercial_api_equivalent_usd_per_hour:rate1h", "{{api}}", instant=True),
             Query(PRICE, "self-hosted", instant=True)), width=12)
    if spec.cost.monthly_budget_usd is not None:
        result["budget"] = Panel("timeseries", "Daily spend against budget",
                                 f"{SPEND_1D} against the daily budget ({BUDGET} = monthlyBudgetUsd / 30).", "currencyUSD",
                                 (Query(SPEND_1D, "spent, last 24 h"), Query(BUDGET, "daily budget")), width=12)
    return result


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    p = panels(spec)
    # Without GPUs (no-GPU mode) the GPU-hours, idle-GPU and energy panels would only ever be empty.
    gpu = spec.gpus
    usage = [p["per_million"], replace(p["tokens_per_usd"], width=12), *((p["energy"], p["util_vs_cost"]) if gpu else ())]
    compare = [p[k] for k in ("apis", "budget") if k in p]
    rows = [Row("Spend", (p["spend_hour"], p["spend_today"], p["spend_day"], p["spend_month"], *((p["gpu_hours"],) if gpu else ()))),
            *((Row("Idle GPUs", (p["idle_today"], p["idle_day"], replace(p["idle_cost"], width=16))),) if gpu else ()),
            Row("Unit economics", tuple(usage))]
    if compare:
        rows.append(Row("Budget and alternatives", tuple(compare)))
    return [Dashboard(
        "llmobs-cost", "Cost",
        "What the GPU host costs and what it produces for the money: spend, GPU-hours, dollars per million tokens, "
        "idle waste, energy, and commercial APIs for comparison.",
        tuple(rows), (), ("cost",), time_from="now-24h",
    )]
