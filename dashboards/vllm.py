"""vLLM performance: latency (TTFT, ITL, end-to-end and its queue/prefill/decode split), throughput,
KV and prefix cache, preemptions, finish reasons, SLO attainment and burn (vLLM 0.33 names)."""

from __future__ import annotations

from dashboards import promql as q
from dashboards.catalogue import FIRST_BUCKET
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row
from dashboards.mixin import Alert, Dashboard, Group, Record, Variable
from dashboards.slo import BURN_WINDOWS, LONG_WINDOWS, burn_alerts

# Rate window of the recorded series (their names say `rate5m`): 20 scrapes at the platform's 15 s.
RATE_WINDOW = "5m"
MODEL = ("namespace", "model_name")
ENGINE = ("namespace", "model_name", "pod")
PHASES = ("request_queue_time_seconds", "request_prefill_time_seconds", "request_decode_time_seconds")
# Latencies shown as quantiles. Queue and prefill times mostly sit inside vLLM's first 0.3 s bucket, where a
# quantile is interpolation, so the phases are shown as means and as shares of requests over real bounds.
LATENCIES = ("time_to_first_token_seconds", "inter_token_latency_seconds", "e2e_request_latency_seconds",
             "request_time_per_output_token_seconds")
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
# The phases shown as shares of requests over bucket bounds of vLLM's request-latency family (seconds).
SHORT_PHASES = ("request_queue_time_seconds", "request_prefill_time_seconds")
PHASE_BOUNDS = (0.3, 1.0, 5.0, 30.0)
BURN_ALERTED = ("ttft", "e2e")
ENGINE_DOWN = "VllmEngineDown"
# What an engine that is down explains, for the other engines of its model: slow requests, queues.
ENGINE_DOWN_MUTES = ("VllmTtftSloBurn", "VllmE2eLatencySloBurn", "VllmQueueBuildUp")
SLIS = {  # name -> (histogram, target attribute, windows recorded: every burn window where alerted on)
    "ttft": ("time_to_first_token_seconds", "ttft_seconds", BURN_WINDOWS),
    "itl": ("inter_token_latency_seconds", "itl_seconds", ("1h",)),
    # Per request: its mean time per output token, against the same target as ITL (the same buckets).
    "tpot": ("request_time_per_output_token_seconds", "itl_seconds", ("1h",)),
    "e2e": ("e2e_request_latency_seconds", "e2e_seconds", BURN_WINDOWS),
}


def variables(spec: SignalsSpec) -> tuple[Variable, ...]:
    job = tuple(spec.selectors.vllm.items())
    return (
        Variable("namespace", "Namespace", "vllm:num_requests_running", "namespace", job),
        Variable("model_name", "Model", "vllm:num_requests_running", "model_name", job, ("namespace",)),
        Variable("pod", "Engine pod", "vllm:num_requests_running", "pod", job, ("namespace", "model_name")),
    )


def raw(spec: SignalsSpec, metric: str, **extra: str) -> str:
    return q.selector(metric, spec.selectors.vllm, **extra)


def bucket_rates(name: str) -> str:
    """Recorded per-model bucket rates of one vLLM histogram."""
    return f"model_le:vllm_{name}_bucket:rate5m"


def slo_error_ratio(sli: str, window: str) -> str:
    return f"model:vllm_{sli}_slo:error_ratio_rate{window}"


def slo_requests(sli: str, window: str) -> str:
    return f"model:vllm_{sli}_slo_requests:increase{window}"


# Availability: a request vLLM finished with an error failed; "abort" is the client going away.
FAILED_REASON = "error"


def over_bound_share(name: str) -> str:
    """Recorded share of requests above each bucket bound of one vLLM histogram."""
    return f"model_le:vllm_{name}_over_bound:ratio_rate5m"



def rules(spec: SignalsSpec) -> list[Group]:
    w = RATE_WINDOW
    records: list[Record] = []
    for name in (*LATENCIES, *SHORT_PHASES):
        records.append(Record(bucket_rates(name), q.sum_by([*MODEL, "le"], q.rate(raw(spec, f"vllm:{name}_bucket"), w))))
    for name in LATENCIES:
        for label, value in QUANTILES.items():
            records.append(Record(f"model:vllm_{name}:{label}_5m",
                                  q.quantile(value, bucket_rates(name), FIRST_BUCKET[f"vllm:{name}"], by=None)))
    for name in PHASES:
        for suffix in ("count", "sum"):
            records.append(Record(f"model:vllm_{name}_{suffix}:rate5m", q.sum_by(MODEL, q.rate(raw(spec, f"vllm:{name}_{suffix}"), w))))
    for name in SHORT_PHASES:
        buckets = bucket_rates(name)
        records.append(Record(over_bound_share(name),
                              f'1 - ({buckets} / ignoring(le) group_left() ({buckets}{{le="+Inf"}} > 0))'))
    for name in ("request_prompt_tokens", "request_generation_tokens"):
        records.append(Record(bucket_rates(name), q.sum_by([*MODEL, "le"], q.rate(raw(spec, f"vllm:{name}_bucket"), w))))
    for counter in ("prompt_tokens", "generation_tokens", "prefix_cache_hits", "prefix_cache_queries"):
        records.append(Record(f"model:vllm_{counter}:rate5m", q.sum_by(MODEL, q.rate(raw(spec, f"vllm:{counter}_total"), w))))
    for counter in ("generation_tokens", "num_preemptions"):
        records.append(Record(f"pod:vllm_{counter}:rate5m", q.sum_by(ENGINE, q.rate(raw(spec, f"vllm:{counter}_total"), w))))
    records += [
        Record("model_source:vllm_prompt_tokens_by_source:rate5m",
               q.sum_by([*MODEL, "source"], q.rate(raw(spec, "vllm:prompt_tokens_by_source_total"), w))),
        Record("model:vllm_iteration_tokens:mean5m", q.ratio(
            q.sum_by(MODEL, q.rate(raw(spec, "vllm:iteration_tokens_total_sum"), w)),
            q.sum_by(MODEL, q.rate(raw(spec, "vllm:iteration_tokens_total_count"), w)))),
        # vLLM's HTTP server (prometheus_fastapi_instrumentator) groups statuses as 2xx/4xx/5xx, per pod.
        Record("pod:vllm_http_5xx:ratio_rate5m", q.share_of(
            q.rate(q.selector("http_requests_total", spec.selectors.vllm, status="5xx"), w),
            q.rate(q.selector("http_requests_total", spec.selectors.vllm), w), ("namespace", "pod"))),
    ]
    if spec.router:
        records += router_records(spec)
    records += [
        Record("model_reason:vllm_request_success:rate5m",
               q.sum_by([*MODEL, "finished_reason"], q.rate(raw(spec, "vllm:request_success_total"), w))),
        Record("model:vllm_requests:rate5m", q.sum_by(MODEL, q.rate(raw(spec, "vllm:request_success_total"), w))),
        Record("model:vllm_prefix_cache_hit:ratio_rate5m",
               q.ratio("model:vllm_prefix_cache_hits:rate5m", "model:vllm_prefix_cache_queries:rate5m")),
        Record("model:vllm_request_errors:ratio_rate5m", q.ratio(
            q.sum_by(MODEL, 'model_reason:vllm_request_success:rate5m{finished_reason=~"error|abort"}'),
            "model:vllm_requests:rate5m")),
    ]
    slo: list[Record] = []
    for sli, (histogram, attribute, windows) in SLIS.items():
        target = getattr(spec.slo, attribute)
        for window in windows:
            good = q.sum_by(MODEL, q.rate(raw(spec, f"vllm:{histogram}_bucket", le=q.le(target)), window))
            total = q.sum_by(MODEL, q.rate(raw(spec, f"vllm:{histogram}_count"), window))
            slo.append(Record(slo_error_ratio(sli, window), f"1 - {q.ratio(good, total)}"))
            if window in LONG_WINDOWS and sli in BURN_ALERTED:
                slo.append(Record(slo_requests(sli, window),
                                  q.sum_by(MODEL, q.increase(raw(spec, f"vllm:{histogram}_count"), window))))
    finished = raw(spec, "vllm:request_success_total")
    failed = raw(spec, "vllm:request_success_total", finished_reason=FAILED_REASON)
    for window in BURN_WINDOWS:
        slo.append(Record(slo_error_ratio("availability", window), q.share_of(q.rate(failed, window), q.rate(finished, window), MODEL)))
        if window in LONG_WINDOWS:
            slo.append(Record(slo_requests("availability", window), q.sum_by(MODEL, q.increase(finished, window))))
    return [
        Group("llmobs-vllm.rules", tuple(records)),
        Group("llmobs-vllm-slo.rules", tuple(slo)),
        Group("llmobs-vllm.alerts", tuple(alerts(spec))),
    ]


def _latency_burn(spec: SignalsSpec, sli: str, alert: str, what: str, target: float) -> list[Alert]:
    return burn_alerts(spec, alert, lambda w: slo_error_ratio(sli, w), lambda w: slo_requests(sli, w), what,
                       "{{ $labels.model_name }} in {{ $labels.namespace }}", f"missed the {what} target of {target}s")


EPP_REQUEST = "llm_d_epp_request_duration_seconds"
EPP_SCHEDULER = "llm_d_epp_scheduler_e2e_duration_seconds"
EPP_PLUGIN = "llm_d_epp_plugin_duration_seconds"


def router_records(spec: SignalsSpec) -> list[Record]:
    """The llm-d router's latencies (request, scheduling, per plugin) and error ratio, when it runs."""
    epp = spec.selectors.epp
    by = {EPP_REQUEST: ["model_name"], EPP_SCHEDULER: [], EPP_PLUGIN: ["extension_point", "plugin_type"]}
    level = {EPP_REQUEST: "model", EPP_SCHEDULER: "cluster", EPP_PLUGIN: "plugin"}
    out = []
    for histogram, labels in by.items():
        out.append(Record(f"{level[histogram]}:{histogram}:p95_5m", q.quantile(
            0.95, q.rate(q.selector(f"{histogram}_bucket", epp), RATE_WINDOW), FIRST_BUCKET[histogram], by=labels)))
    out.append(Record("model:llm_d_epp_request_errors:ratio_rate5m", q.share_of(
        q.rate(q.selector("llm_d_epp_request_error_total", epp), RATE_WINDOW),
        q.rate(q.selector("llm_d_epp_request_total", epp), RATE_WINDOW), ["model_name"])))
    return out


def kv_cache_starving(spec: SignalsSpec) -> str:
    """KV cache over the threshold while requests wait for KV space (reason capacity) or are preempted:
    at healthy high load vLLM fills the cache by design and nobody waits for it."""
    full = f"max by ({', '.join(ENGINE)}) ({raw(spec, 'vllm:kv_cache_usage_perc')}) > {spec.thresholds.kv_cache_full_fraction}"
    waiting = f"max by ({', '.join(ENGINE)}) ({raw(spec, 'vllm:num_requests_waiting_by_reason', reason='capacity')}) > 0"
    preempting = f"sum by ({', '.join(ENGINE)}) ({q.rate(raw(spec, 'vllm:num_preemptions_total'), '5m')}) > 0"
    return f"{full}\nand on({', '.join(ENGINE)})\n({waiting} or {preempting})"


def engine_down(spec: SignalsSpec) -> str:
    """Engines Prometheus cannot scrape, with the model they served in the last day when known (so an
    inhibition rule can mute that model's latency alerts), else without."""
    down = f"({q.selector('up', spec.selectors.vllm)} == 0)"
    served = f"(max by (namespace, pod, model_name) (last_over_time({raw(spec, 'vllm:num_requests_running')}[1d])) * 0)"
    return f"{down} + on(namespace, pod) group_left(model_name) {served}\nor\n({down} unless on(namespace, pod) {served})"


def alerts(spec: SignalsSpec) -> list[Alert]:
    t = spec.thresholds
    return [
        *_latency_burn(spec, "ttft", "VllmTtftSloBurn", "time-to-first-token", spec.slo.ttft_seconds),
        *_latency_burn(spec, "e2e", "VllmE2eLatencySloBurn", "end-to-end latency", spec.slo.e2e_seconds),
        *burn_alerts(spec, "VllmAvailabilitySloBurn", lambda w: slo_error_ratio("availability", w),
                     lambda w: slo_requests("availability", w), "availability",
                     "{{ $labels.model_name }} in {{ $labels.namespace }}", f'finished with finished_reason="{FAILED_REASON}"'),
        Alert("VllmQueueBuildUp", f"max by (namespace, model_name, pod) ({raw(spec, 'vllm:num_requests_waiting')}) > {t.queue_requests}",
              "warning", "Requests are queueing in a vLLM engine.",
              f"{{{{ $labels.pod }}}} ({{{{ $labels.model_name }}}}) has had more than {t.queue_requests} requests waiting for 10 minutes "
              "({{ $value }} now): the engine is saturated.", "10m"),
        Alert("VllmKvCacheNearFull", kv_cache_starving(spec), "warning", "vLLM KV cache is full and requests wait for it.",
              "{{ $labels.pod }} ({{ $labels.model_name }}) uses {{ $value | humanizePercentage }} of its KV cache while "
              "requests wait for KV space or running ones are preempted: the cache is too small for the load. (A full "
              "cache alone is vLLM working as designed.)", "10m"),
        Alert("VllmPreemptions", f"sum by (namespace, model_name, pod) ({q.rate(raw(spec, 'vllm:num_preemptions_total'), '5m')}) > 0",
              "warning", "vLLM is preempting requests.",
              "{{ $labels.pod }} ({{ $labels.model_name }}) preempts {{ $value | humanize }} requests/s: the KV cache is "
              "too small for the load, and preempted requests are recomputed.", "15m"),
        Alert(ENGINE_DOWN, engine_down(spec),
              "critical", "A vLLM engine cannot be scraped.",
              "Prometheus has failed to scrape {{ $labels.pod }} in {{ $labels.namespace }} for 5 minutes: the engine "
              "is down or hung.", "5m"),
    ]


M = {"namespace": "$namespace", "model_name": "$model_name"}
P = {**M, "pod": "$pod"}
LEG = "{{model_name}}"


def _latency_panel(name: str, title: str, target: float) -> Panel:
    return Panel(
        "timeseries", f"{title} (p50 / p95 / p99)",
        f"Quantiles of vllm:{name} per model, from the recorded series model:vllm_{name}:p50_5m/p95_5m/p99_5m; "
        f"the dashed line is the SLO target, {target}s. A gap: the quantile is under the first bucket bound.",
        "s",
        tuple(Query(q.selector(f"model:vllm_{name}:{label}_5m", M), f"{LEG} {label}") for label in QUANTILES),
        width=8, thresholds=((target, "red"),),
    )


def _heatmap(name: str, title: str) -> Panel:
    # A cell per rate window: the recorded 5-minute rates hold nothing finer, and a day of cells per bucket
    # at the default step costs five times the queries for the same picture.
    return Panel("heatmap", f"{title} distribution",
                 f"Requests per second in each bucket of vllm:{name} (recorded {bucket_rates(name)}), one cell per "
                 f"{RATE_WINDOW}.", "s",
                 (Query(q.sum_by(["le"], q.selector(bucket_rates(name), M)), "{{le}}", min_interval=RATE_WINDOW),), width=8)


def _stat(title: str, description: str, unit: str, expr: str, thresholds=(), base: str = "green", width: int = 3) -> Panel:
    return Panel("stat", title, description, unit, (Query(expr, title),), width=width, height=4,
                 thresholds=thresholds, threshold_base=base)


def stat_strip(spec: SignalsSpec) -> tuple[Panel, ...]:
    """The numbers an on-call engineer reads first, each coloured by the stack's own targets."""
    slo, t = spec.slo, spec.thresholds
    engines = q.selector("up", spec.selectors.vllm, namespace="$namespace")
    return (
        _stat("Requests/s", "Finished requests per second: rate of vllm:request_success_total (model:vllm_requests:rate5m).",
              "reqps", f"sum({q.selector('model:vllm_requests:rate5m', M)})"),
        _stat("Tokens/s", "Generated tokens per second: rate of vllm:generation_tokens_total (model:vllm_generation_tokens:rate5m).",
              "short", f"sum({q.selector('model:vllm_generation_tokens:rate5m', M)})"),
        _stat("TTFT p95", f"Worst model's p95 of vllm:time_to_first_token_seconds; red over the {slo.ttft_seconds}s target.",
              "s", f"max({q.selector('model:vllm_time_to_first_token_seconds:p95_5m', M)})", ((slo.ttft_seconds, "red"),)),
        _stat("ITL p95", f"Worst model's p95 of vllm:inter_token_latency_seconds; red over the {slo.itl_seconds}s target.",
              "s", f"max({q.selector('model:vllm_inter_token_latency_seconds:p95_5m', M)})", ((slo.itl_seconds, "red"),), width=2),
        _stat("E2E p95", f"Worst model's p95 of vllm:e2e_request_latency_seconds; red over the {slo.e2e_seconds}s target.",
              "s", f"max({q.selector('model:vllm_e2e_request_latency_seconds:p95_5m', M)})", ((slo.e2e_seconds, "red"),)),
        _stat("Errors", "Worst model's share of vllm:request_success_total finished with error or abort; red over the "
              f"error budget, {1 - slo.objective:.2%}.", "percentunit",
              f"max({q.selector('model:vllm_request_errors:ratio_rate5m', M)})", ((round(1 - slo.objective, 6), "red"),), width=2),
        _stat("Waiting", f"Requests waiting in all engines (vllm:num_requests_waiting); amber over {t.queue_requests} "
              "(queueAlertRequests, per engine).", "short",
              f"sum({q.selector('vllm:num_requests_waiting', spec.selectors.vllm, **P)})", ((t.queue_requests, "orange"),), width=2),
        _stat("KV cache", f"Fullest engine's vllm:kv_cache_usage_perc; amber over {t.kv_cache_full_fraction:.0%} "
              "(VllmKvCacheNearFull's threshold).", "percentunit",
              f"max({q.selector('vllm:kv_cache_usage_perc', spec.selectors.vllm, **P)})", ((t.kv_cache_full_fraction, "orange"),)),
        _stat("Engines up", "vLLM engines Prometheus scrapes (up == 1) against all engines (count of up); red when none.",
              "none", f"count({engines} == 1) or vector(0)", ((1, "green"),), base="red"),
    )


def _over_bound_panel(name: str, title: str) -> Panel:
    bounds = ", ".join(f"{b:g}" for b in PHASE_BOUNDS)
    return Panel(
        "timeseries", f"{title} {bounds} s",
        f"Share of requests above each of the real bucket bounds {bounds} s of vllm:{name} (recorded "
        f"{over_bound_share(name)}). No quantile: most requests fall in the first 0.3 s bucket, where one "
        "would only be interpolated.", "percentunit",
        (Query(q.selector(over_bound_share(name), M, le=q.le_any(PHASE_BOUNDS)), f"{LEG} over {{{{le}}}} s"),),
        width=8, min=0, max=1,
    )


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    """Every vLLM panel, by key, so the role overviews reuse them."""
    slo = spec.slo
    attainment = tuple(
        Query(f"1 - {q.selector(slo_error_ratio(sli, '1h'), M)}", f"{LEG} {sli}") for sli in (*SLIS, "availability")
    )
    return {
        "requests": Panel("timeseries", "Finished requests by reason",
                          "Rate of vllm:request_success_total by finished_reason (stop, length, abort, error, repetition).",
                          "reqps", (Query(q.sum_by(["finished_reason"], q.selector("model_reason:vllm_request_success:rate5m", M)), "{{finished_reason}}"),),
                          stack=True, width=8),
        "running_waiting": Panel("timeseries", "Running and waiting requests",
                                 "vllm:num_requests_running and vllm:num_requests_waiting per engine pod.", "short",
                                 (Query(q.selector("vllm:num_requests_running", spec.selectors.vllm, **P), "{{pod}} running"),
                                  Query(q.selector("vllm:num_requests_waiting", spec.selectors.vllm, **P), "{{pod}} waiting")), width=8),
        "waiting_reason": Panel("timeseries", "Waiting requests by reason",
                                "vllm:num_requests_waiting_by_reason: capacity (no KV space) vs deferred.", "short",
                                (Query(q.sum_by(["reason"], q.selector("vllm:num_requests_waiting_by_reason", spec.selectors.vllm, **P)), "{{reason}}"),),
                                stack=True, width=8),
        "ttft": _latency_panel("time_to_first_token_seconds", "Time to first token", slo.ttft_seconds),
        "itl": _latency_panel("inter_token_latency_seconds", "Inter-token latency", slo.itl_seconds),
        "e2e": _latency_panel("e2e_request_latency_seconds", "End-to-end latency", slo.e2e_seconds),
        "tpot": _latency_panel("request_time_per_output_token_seconds", "Time per output token, per request", slo.itl_seconds),
        "ttft_heatmap": _heatmap("time_to_first_token_seconds", "Time to first token"),
        "itl_heatmap": _heatmap("inter_token_latency_seconds", "Inter-token latency"),
        "e2e_heatmap": _heatmap("e2e_request_latency_seconds", "End-to-end latency"),
        "prompt_sources": Panel("timeseries", "Prompt tokens: cached or computed",
                                "Rate of vllm:prompt_tokens_by_source_total by source: local_compute (prefilled), "
                                "local_cache_hit (prefix cache) and external_kv_transfer "
                                "(recorded model_source:vllm_prompt_tokens_by_source:rate5m).", "short",
                                (Query(q.sum_by(["source"], q.selector("model_source:vllm_prompt_tokens_by_source:rate5m", M)),
                                       "{{source}}"),), stack=True, width=8),
        "step_tokens": Panel("timeseries", "Tokens per engine step",
                             "Mean tokens an engine step processes: rate of vllm:iteration_tokens_total_sum over its _count "
                             "(recorded model:vllm_iteration_tokens:mean5m); low means small batches.", "short",
                             (Query(q.selector("model:vllm_iteration_tokens:mean5m", M), LEG),), width=8),
        "http_5xx": Panel("timeseries", "HTTP 5xx responses",
                          "Share of http_requests_total (vLLM's HTTP server) with status 5xx, per engine pod "
                          "(recorded pod:vllm_http_5xx:ratio_rate5m).", "percentunit",
                          (Query(q.selector("pod:vllm_http_5xx:ratio_rate5m", {"namespace": "$namespace", "pod": "$pod"}),
                                 "{{pod}}"),), width=8, min=0, thresholds=((round(1 - slo.objective, 6), "red"),)),
        "engines": Panel("stat", "Engines up and unreachable",
                         "vLLM engines Prometheus scrapes (up == 1) and cannot scrape (up == 0): both read 0, never No data.",
                         "none", (Query(f"count({q.selector('up', spec.selectors.vllm, namespace='$namespace')} == 1) or vector(0)",
                                        "up", instant=True),
                                  Query(f"count({q.selector('up', spec.selectors.vllm, namespace='$namespace')} == 0) or vector(0)",
                                        "unreachable", instant=True)), width=6),
        "summary": Panel("table", "Models at a glance",
                         "Per model, now: requests/s (vllm:request_success_total), generated tokens/s "
                         "(vllm:generation_tokens_total), TTFT and end-to-end p95 (vllm:time_to_first_token_seconds, "
                         "vllm:e2e_request_latency_seconds) and error ratio, from the recorded model:* series.", "short",
                         (Query(q.selector("model:vllm_requests:rate5m", M), "requests/s", instant=True),
                          Query(q.selector("model:vllm_generation_tokens:rate5m", M), "tokens/s", instant=True),
                          Query(q.selector("model:vllm_time_to_first_token_seconds:p95_5m", M), "TTFT p95 s", instant=True),
                          Query(q.selector("model:vllm_e2e_request_latency_seconds:p95_5m", M), "E2E p95 s", instant=True),
                          Query(q.selector("model:vllm_request_errors:ratio_rate5m", M), "error ratio", instant=True)),
                         width=18),
        "phases": Panel("timeseries", "Where request time goes: mean queue, prefill, decode",
                        "Mean seconds per request in each phase: rate of vllm:request_queue_time_seconds_sum, "
                        "vllm:request_prefill_time_seconds_sum, vllm:request_decode_time_seconds_sum over their _count.",
                        "s", tuple(Query(q.ratio(q.selector(f"model:vllm_request_{p}_time_seconds_sum:rate5m", M),
                                                 q.selector(f"model:vllm_request_{p}_time_seconds_count:rate5m", M)), f"{LEG} {p}")
                                   for p in ("queue", "prefill", "decode")), stack=True, width=8),
        "queue_over": _over_bound_panel("request_queue_time_seconds", "Requests queued longer than"),
        "prefill_over": _over_bound_panel("request_prefill_time_seconds", "Requests with prefill longer than"),
        "tokens": Panel("timeseries", "Prompt and generation tokens per second",
                        "Rate of vllm:prompt_tokens_total and vllm:generation_tokens_total per model.", "short",
                        (Query(q.selector("model:vllm_prompt_tokens:rate5m", M), f"{LEG} prompt"),
                         Query(q.selector("model:vllm_generation_tokens:rate5m", M), f"{LEG} generated"))),
        "kv_cache": Panel("timeseries", "KV-cache use",
                          "vllm:kv_cache_usage_perc per engine: a 0-1 fraction despite its name (1 = full); the dashed "
                          f"line is VllmKvCacheNearFull's threshold, {spec.thresholds.kv_cache_full_fraction}.", "percentunit",
                          (Query(q.selector("vllm:kv_cache_usage_perc", spec.selectors.vllm, **P), "{{pod}}"),), width=8, min=0, max=1,
                          thresholds=((spec.thresholds.kv_cache_full_fraction, "orange"),)),
        "prefix_cache": Panel("timeseries", "Prefix-cache hit rate",
                              "Rate of vllm:prefix_cache_hits_total over vllm:prefix_cache_queries_total (tokens).",
                              "percentunit", (Query(q.selector("model:vllm_prefix_cache_hit:ratio_rate5m", M), LEG),), width=8, min=0, max=1),
        "preemptions": Panel("timeseries", "Preemptions",
                             "Rate of vllm:num_preemptions_total per engine: requests evicted for lack of KV cache.", "short",
                             (Query(q.selector("pod:vllm_num_preemptions:rate5m", P), "{{pod}}"),), width=8),
        "errors": Panel("timeseries", "Aborted and failed requests",
                        "Share of vllm:request_success_total with finished_reason error or abort.", "percentunit",
                        (Query(q.selector("model:vllm_request_errors:ratio_rate5m", M), LEG),), width=8, min=0),
        "prompt_len": Panel("heatmap", "Prompt length distribution",
                            "Buckets of vllm:request_prompt_tokens (recorded model_le:vllm_request_prompt_tokens_bucket:rate5m).",
                            "short", (Query(q.sum_by(["le"], q.selector(bucket_rates("request_prompt_tokens"), M)), "{{le}}",
                                            min_interval=RATE_WINDOW),), width=8),
        "gen_len": Panel("heatmap", "Generation length distribution",
                         "Buckets of vllm:request_generation_tokens (recorded model_le:vllm_request_generation_tokens_bucket:rate5m).",
                         "short", (Query(q.sum_by(["le"], q.selector(bucket_rates("request_generation_tokens"), M)), "{{le}}",
                                            min_interval=RATE_WINDOW),), width=8),
        "slo": Panel("timeseries", "SLO attainment (1 h)",
                     f"Share of requests meeting TTFT <= {slo.ttft_seconds}s, ITL <= {slo.itl_seconds}s and end-to-end <= "
                     f"{slo.e2e_seconds}s, from the le buckets of vllm:time_to_first_token_seconds, "
                     f"vllm:inter_token_latency_seconds and vllm:e2e_request_latency_seconds, and of requests not failed "
                     f"(vllm:request_success_total without finished_reason {FAILED_REASON}) (model:vllm_*_slo:error_ratio_rate1h). "
                     f"Objective {slo.objective}.", "percentunit", attainment, width=8, max=1),
        "router_pool": Panel("timeseries", "Router: ready endpoints, queue and KV cache",
                             "llm-d EPP (optional, job llm-d-epp): llm_d_epp_ready_endpoints, llm_d_epp_average_queue_size and "
                             "llm_d_epp_average_kv_cache_utilization per InferencePool.", "short",
                             (Query(q.selector("llm_d_epp_ready_endpoints", spec.selectors.epp), "{{name}} ready endpoints"),
                              Query(q.selector("llm_d_epp_average_queue_size", spec.selectors.epp), "{{name}} mean queue"),
                              Query(q.selector("llm_d_epp_average_kv_cache_utilization", spec.selectors.epp), "{{name}} mean KV cache")),
                             width=12),
        "router_requests": Panel("timeseries", "Router: requests and errors",
                                 "Rate of llm_d_epp_request_total per model and of llm_d_epp_request_error_total per error_code "
                                 "(llm-d EPP, optional).", "reqps",
                                 (Query(q.sum_by(["model_name"], q.rate(q.selector("llm_d_epp_request_total", spec.selectors.epp), "5m")),
                                        "{{model_name}}"),
                                  Query(q.sum_by(["error_code"], q.rate(q.selector("llm_d_epp_request_error_total", spec.selectors.epp), "5m")),
                                        "error {{error_code}}")), width=12),
        "router_latency": Panel("timeseries", "Router: request, scheduling and plugin latency p95",
                                f"p95 of {EPP_REQUEST} per model, {EPP_SCHEDULER} and {EPP_PLUGIN} per plugin type "
                                "(llm-d EPP; recorded *:llm_d_epp_*_duration_seconds:p95_5m).", "s",
                                (Query(f"model:{EPP_REQUEST}:p95_5m", "request {{model_name}}"),
                                 Query(f"cluster:{EPP_SCHEDULER}:p95_5m", "scheduling"),
                                 Query(f"plugin:{EPP_PLUGIN}:p95_5m", "{{extension_point}} {{plugin_type}}")), width=12),
        "router_errors": Panel("timeseries", "Router: error ratio",
                               "Share of llm_d_epp_request_total that ended in llm_d_epp_request_error_total, per model "
                               "(recorded model:llm_d_epp_request_errors:ratio_rate5m).", "percentunit",
                               (Query("model:llm_d_epp_request_errors:ratio_rate5m", "{{model_name}}"),), width=12, min=0,
                               thresholds=((round(1 - slo.objective, 6), "red"),)),
        "slo_stat": Panel("stat", "SLO attainment, TTFT (1 d)",
                          f"Share of requests with vllm:time_to_first_token_seconds <= {slo.ttft_seconds}s over a day "
                          "(model:vllm_ttft_slo:error_ratio_rate1d).", "percentunit",
                          (Query(f"1 - max({q.selector(slo_error_ratio('ttft', '1d'), M)})", "TTFT"),), width=6),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    p = panels(spec)
    return [Dashboard(
        "llmobs-vllm", "vLLM performance",
        "Latency, throughput, caches and SLOs of the vLLM engines (vLLM 0.33 metrics).",
        (
            Row("At a glance", stat_strip(spec)),
            Row("Requests and engines", (p["requests"], p["running_waiting"], p["waiting_reason"], p["engines"], p["summary"])),
            Row("Latency", (p["ttft"], p["itl"], p["e2e"], p["ttft_heatmap"], p["itl_heatmap"], p["e2e_heatmap"],
                            p["tpot"], p["phases"], p["queue_over"], p["prefill_over"])),
            Row("Tokens and caches", (p["tokens"], p["kv_cache"], p["prefix_cache"], p["preemptions"],
                                      p["prompt_sources"], p["step_tokens"])),
            Row("Errors, lengths and SLOs", (p["errors"], p["http_5xx"], p["slo"], p["prompt_len"], p["gen_len"])),
            *router_rows(spec, p),
        ),
        variables(spec), ("vllm", "performance"),
    )]


def router_rows(spec: SignalsSpec, p: dict[str, Panel]) -> tuple[Row, ...]:
    """The llm-d router's panels, only on a stack that deploys it (`router: true`)."""
    if not spec.router:
        return ()
    return (Row("Router (llm-d EPP)", (p["router_pool"], p["router_requests"], p["router_latency"], p["router_errors"])),)
