"""The one config every domain reads: selectors per scrape job, thresholds, SLO targets, cost inputs.

Like kubernetes-mixin's ``_config``: change the job of the model servers here and every panel,
recording rule and alert follows. Built from the validated stack config, so a price or a target is
a `pulumi config set`, never an edit of a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stack.config import ApiPrice, StackConfig


@dataclass(frozen=True)
class Selectors:
    """Label matchers per source, exactly as the scrape configs in CONTRACT.md attach them."""

    vllm: dict[str, str] = field(default_factory=lambda: {"job": "vllm"})
    epp: dict[str, str] = field(default_factory=lambda: {"job": "llm-d-epp"})
    dcgm: dict[str, str] = field(default_factory=lambda: {"job": "dcgm-exporter"})
    collector: dict[str, str] = field(default_factory=lambda: {"job": "otel-collector"})
    tempo: dict[str, str] = field(default_factory=lambda: {"job": "tempo"})
    # Llama Stack's OTLP metrics arrive through the collector with honorLabels: job = service.name.
    llama_stack: dict[str, str] = field(default_factory=lambda: {"job": "llama-stack"})
    # The workload's own metrics (its function tools), through the collector like Llama Stack's.
    workload: dict[str, str] = field(default_factory=lambda: {"job": "workload"})
    # Span metrics from the collector's spanmetrics connector carry the span's service as a label.
    llama_stack_spans: dict[str, str] = field(default_factory=lambda: {"service_name": "llama-stack"})
    # The workload's own OTLP metrics (answer quality), job = its service.name.
    workload: dict[str, str] = field(default_factory=lambda: {"job": "workload"})
    # The LLM judge's metrics: the workload's judge, and the judge sampler's for other apps' traced answers.
    judges: dict[str, str] = field(default_factory=lambda: {"job": "~workload|judge-sampler"})
    judge_sampler: dict[str, str] = field(default_factory=lambda: {"job": "judge-sampler"})
    # Tempo's metrics generator remote-writes with this external label (components/tempo.py).
    tempo_generator: dict[str, str] = field(default_factory=lambda: {"source": "tempo"})


@dataclass(frozen=True)
class Thresholds:
    # From the stack's settings (Pulumi.yaml holds their defaults).
    gpu_idle_utilisation_percent: int
    queue_requests: int
    # The mixin's own judgement: near full is near full on any stack.
    kv_cache_full_fraction: float = 0.9
    gpu_memory_full_fraction: float = 0.95
    # Hot, with a margin before the temperature where data-centre GPUs start slowing their clocks.
    gpu_temperature_celsius: int = 85
    # A burn alert needs this many requests in its long window: with six requests an hour, one slow
    # request is a 17% error ratio, which would page at 14.4x burn for what is noise.
    slo_min_requests: int = 50
    # Tool and retrieval error ratios that warn, with at least this many calls in 5 minutes.
    tool_error_ratio: float = 0.1
    retrieval_error_ratio: float = 0.05
    min_calls_5m: int = 10


@dataclass(frozen=True)
class Slo:
    ttft_seconds: float
    itl_seconds: float
    e2e_seconds: float
    objective: float


PRICE_SOURCES = {
    "setting": "the stack's hourlyPriceUsd setting",
    "spot-history": "AWS's Spot price history for the instance type, read at deploy time",
    "list": "the on-demand list price in stack/catalogue.py",
}


@dataclass(frozen=True)
class Cost:
    usd_per_hour: float
    gpu_count: int
    monthly_budget_usd: float | None
    commercial_apis: tuple[ApiPrice, ...]
    pricing: str = "on-demand"  # spot | on-demand: the capacity the instance runs on
    price_source: str = "list"  # a key of PRICE_SOURCES

    @property
    def price_doc(self) -> str:
        return f"${self.usd_per_hour}/h, {self.pricing}, from {PRICE_SOURCES[self.price_source]}"


@dataclass(frozen=True)
class AnswerQuality:
    correctness_objective: float
    score_drop_fraction: float
    # 0 when the judge is off (traceContent off): then no judge alert can fire.
    judge_sample_share: float
    # The judge is the stack's own model servers: its tokens are in vLLM's counters, and cost subtracts them.
    judge_on_model_servers: bool


@dataclass(frozen=True)
class SignalsSpec:
    """Everything the domains need; pure data, so every module is a pure function of it."""

    thresholds: Thresholds
    slo: Slo
    cost: Cost
    answers: AnswerQuality
    selectors: Selectors = field(default_factory=Selectors)
    # The llm-d router is deployed: its panels are rendered (a switched-off feature gets no panel).
    router: bool = False
    runbook_url: str = "https://github.com/llm-observability/llm-observability/blob/main/docs/runbook.md"
    folder: str = "LLM Observability"
    tempo_datasource_uid: str = "tempo"

    @property
    def gpus(self) -> bool:
        """The stack has GPUs (not no-GPU mode): GPU dashboards and panels are rendered."""
        return self.cost.gpu_count > 0


def price(config: StackConfig, spot_usd_per_hour: float | None) -> tuple[float, str, str]:
    """(USD per hour, pricing, price source): hourlyPriceUsd wins; a Spot host is priced at its Spot
    price when deploy time could read it; else the on-demand list price."""
    pricing = "spot" if config.cost_guards.spot_instances else "on-demand"
    if config.cost.price_from_setting:
        return config.cost.usd_per_hour, pricing, "setting"
    if pricing == "spot" and spot_usd_per_hour is not None:
        return round(spot_usd_per_hour * config.cluster.gpu_nodes, 6), pricing, "spot-history"
    # Rendered offline (no AWS to ask), a Spot host is shown at the list price, labelled as such.
    return config.cost.usd_per_hour, "on-demand", "list"


def from_stack(config: StackConfig, spot_usd_per_hour: float | None = None) -> SignalsSpec:
    """The spec of a stack; ``spot_usd_per_hour`` is the instance type's Spot price, when known."""
    signals = config.signals
    usd_per_hour, pricing, source = price(config, spot_usd_per_hour)
    return SignalsSpec(
        thresholds=Thresholds(
            gpu_idle_utilisation_percent=signals.gpu_idle_utilisation_percent,
            queue_requests=signals.queue_alert_requests,
        ),
        slo=Slo(
            ttft_seconds=signals.ttft_target_seconds,
            itl_seconds=signals.itl_target_seconds,
            e2e_seconds=signals.e2e_target_seconds,
            objective=signals.slo_objective,
        ),
        cost=Cost(
            usd_per_hour=usd_per_hour,
            gpu_count=config.cost.gpu_count,
            monthly_budget_usd=config.cost.monthly_budget_usd,
            commercial_apis=signals.commercial_api_prices,
            pricing=pricing,
            price_source=source,
        ),
        router=config.workload.router,
        answers=AnswerQuality(
            correctness_objective=config.quality.correctness_objective,
            score_drop_fraction=config.quality.judge_score_drop_fraction,
            judge_sample_share=config.quality.judge_sample_share,
            judge_on_model_servers=config.quality.judge_endpoint is None,
        ),
    )
