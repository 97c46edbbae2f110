"""Platform health: scrape targets, the OpenTelemetry Collector's span pipeline and Tempo ingestion,
so a quiet dashboard is known to be quiet and not blind."""

from __future__ import annotations

from dashboards import promql as q
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row
from dashboards.mixin import Alert, Dashboard, Group, Record


def rules(spec: SignalsSpec) -> list[Group]:
    col, tempo = spec.selectors.collector, spec.selectors.tempo
    return [
        Group("llmobs-platform.rules", (
            Record("job:up:ratio", q.sum_by(["job"], "up", op="avg")),
            Record("receiver:otelcol_receiver_accepted_spans:rate5m",
                   q.sum_by(["job", "receiver"], q.rate(q.selector("otelcol_receiver_accepted_spans_total", col), "5m"))),
            Record("receiver:otelcol_receiver_refused_spans:rate5m",
                   q.sum_by(["job", "receiver"], q.rate(q.selector("otelcol_receiver_refused_spans_total", col), "5m"))),
            Record("exporter:otelcol_exporter_sent_spans:rate5m",
                   q.sum_by(["job", "exporter"], q.rate(q.selector("otelcol_exporter_sent_spans_total", col), "5m"))),
            Record("exporter:otelcol_exporter_send_failed_spans:rate5m",
                   q.sum_by(["job", "exporter"], q.rate(q.selector("otelcol_exporter_send_failed_spans_total", col), "5m"))),
            Record("exporter:otelcol_exporter_enqueue_failed_spans:rate5m",
                   q.sum_by(["job", "exporter"], q.rate(q.selector("otelcol_exporter_enqueue_failed_spans_total", col), "5m"))),
            Record("exporter:otelcol_exporter_queue:ratio", q.ratio(
                q.sum_by(["job", "exporter"], q.selector("otelcol_exporter_queue_size", col)),
                q.sum_by(["job", "exporter"], q.selector("otelcol_exporter_queue_capacity", col)))),
            Record("job:tempo_distributor_spans_received:rate5m",
                   q.sum_by(["job"], q.rate(q.selector("tempo_distributor_spans_received_total", tempo), "5m"))),
            Record("reason:tempo_discarded_spans:rate5m",
                   q.sum_by(["job", "reason"], q.rate(q.selector("tempo_discarded_spans_total", tempo), "5m"))),
        )),
        Group("llmobs-platform.alerts", tuple(alerts(spec))),
    ]


# Push-based signals: nothing scrapes them, so `up` cannot say they stopped; their absence can.
ABSENT_FOR = "15m"


def pipeline_alerts(spec: SignalsSpec) -> list[Alert]:
    s = spec.selectors
    pushed = (
        ("LlamaStackMetricsAbsent", q.selector("llama_stack_requests_total", s.llama_stack),
         "Llama Stack's metrics have stopped arriving.",
         "Llama Stack pushes its metrics over OTLP to the collector, which Prometheus scrapes: nothing with"),
        ("SpanMetricsAbsent", q.selector("traces_span_metrics_calls_total", s.llama_stack_spans),
         "Span metrics of Llama Stack's traces have stopped arriving.",
         "The collector's spanmetrics connector turns Llama Stack's spans into metrics: nothing with"),
        ("TempoMetricsGeneratorAbsent", q.selector("traces_spanmetrics_calls_total", s.tempo_generator),
         "Tempo's metrics generator has stopped writing to Prometheus.",
         "Tempo's metrics generator remote-writes span metrics to Prometheus: nothing with"),
    )
    return [
        Alert(name, f"absent({series})", "warning", summary,
              f"{how} {series} for {ABSENT_FOR}. The panels fed by it go blank and its alerts go silent; "
              "check the sender, the collector and the remote-write path.", ABSENT_FOR)
        for name, series, summary, how in pushed
    ]


def alerts(spec: SignalsSpec) -> list[Alert]:
    vllm_job = spec.selectors.vllm["job"]
    return [
        *pipeline_alerts(spec),
        Alert("ScrapeTargetDown", f'up{{job!="{vllm_job}"}} == 0', "warning",
              "A scrape target is down.",
              "Prometheus cannot scrape {{ $labels.instance }} of job {{ $labels.job }}: its panels go blank and its "
              "alerts go silent. (vLLM engines have their own VllmEngineDown alert.)", "10m"),
        Alert("CollectorRefusingSpans", "receiver:otelcol_receiver_refused_spans:rate5m > 0", "warning",
              "The OpenTelemetry Collector is refusing spans.",
              "Receiver {{ $labels.receiver }} refuses {{ $value | humanize }} spans/s: senders see errors and traces are "
              "lost (memory limiter or a malformed payload).", "5m"),
        Alert("CollectorDroppingSpans",
              "exporter:otelcol_exporter_send_failed_spans:rate5m > 0 or exporter:otelcol_exporter_enqueue_failed_spans:rate5m > 0", "warning",
              "The OpenTelemetry Collector cannot deliver spans.",
              "Exporter {{ $labels.exporter }} fails or cannot queue {{ $value | humanize }} spans/s: traces are being "
              "dropped on the way to Tempo.", "5m"),
        Alert("TempoIngestFailing", "reason:tempo_discarded_spans:rate5m > 0", "warning",
              "Tempo is discarding spans.",
              "Tempo discards {{ $value | humanize }} spans/s (reason {{ $labels.reason }}): traces arrive but are not stored.",
              "10m"),
    ]


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    return {
        "targets": Panel("bargauge", "Scrape targets up, by job", "Share of targets with up == 1 per job (recorded job:up:ratio).",
                         "percentunit", (Query("job:up:ratio", "{{job}}", instant=True),), width=8, min=0, max=1),
        "down": Panel("stat", "Targets down", "How many targets have up == 0, per job: 0 when every target is up, so a "
                      "healthy stack reads 0, not No data (the bars beside say which job).", "none",
                      (Query("count by (job) (up == 0) or on() vector(0)", "{{job}}", instant=True),), width=16),
        "collector_in": Panel("timeseries", "Collector: spans accepted and refused",
                              "Rate of otelcol_receiver_accepted_spans_total and otelcol_receiver_refused_spans_total per receiver.",
                              "short", (Query("receiver:otelcol_receiver_accepted_spans:rate5m", "{{receiver}} accepted"),
                                        Query("receiver:otelcol_receiver_refused_spans:rate5m", "{{receiver}} refused")), width=8),
        "collector_out": Panel("timeseries", "Collector: spans sent and failed",
                               "Rate of otelcol_exporter_sent_spans_total, and of otelcol_exporter_send_failed_spans_total plus "
                               "otelcol_exporter_enqueue_failed_spans_total, per exporter.", "short",
                               (Query("exporter:otelcol_exporter_sent_spans:rate5m", "{{exporter}} sent"),
                                Query("exporter:otelcol_exporter_send_failed_spans:rate5m", "{{exporter}} send failed"),
                                Query("exporter:otelcol_exporter_enqueue_failed_spans:rate5m", "{{exporter}} queue full")), width=8),
        "collector_queue": Panel("timeseries", "Collector: exporter queue fill",
                                 "otelcol_exporter_queue_size over otelcol_exporter_queue_capacity per exporter.", "percentunit",
                                 (Query("exporter:otelcol_exporter_queue:ratio", "{{exporter}}"),), width=8, min=0, max=1),
        "tempo_in": Panel("timeseries", "Tempo: spans received and discarded",
                          "Rate of tempo_distributor_spans_received_total, and of tempo_discarded_spans_total by reason.", "short",
                          (Query("job:tempo_distributor_spans_received:rate5m", "received"),
                           Query("reason:tempo_discarded_spans:rate5m", "discarded {{reason}}")), width=12),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    p = panels(spec)
    return [Dashboard(
        "llmobs-platform", "Platform health",
        "Is the observability stack itself working: scrape targets, the collector's span pipeline, Tempo ingestion.",
        (
            Row("Scraping", (p["targets"], p["down"])),
            Row("Trace pipeline", (p["collector_in"], p["collector_out"], p["collector_queue"], p["tempo_in"])),
        ),
        (), ("platform",),
    )]
