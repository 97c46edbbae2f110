"""The stack's settings: declared in Pulumi.yaml, read once, validated, frozen.

Pulumi.yaml's ``config:`` block is the single declaration of every setting (type, default, description).
This package reads the values (from the Pulumi engine, or from the YAML files for tools that run
outside it), checks them all before any resource is declared, and hands the program frozen
dataclasses. Components never see ``pulumi.Config``. Each domain's settings live in their own module
(host, cluster, platform, workloads, quality, signals, guards); ``parse`` is the one entry that runs them all.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pulumi
import yaml

from stack.config import cluster, guards, host, platform, quality, signals, workloads
from stack.config.cluster import ClusterConfig
from stack.config.common import (
    ENCRYPTED,
    PROJECT,
    ConfigError,
    Problems,
    Secret,
    decimal,
    qualified,
    refuse_unprintable,
    shown,
)
from stack.config.guards import CostGuardsConfig
from stack.config.host import HostConfig
from stack.config.platform import PlatformConfig
from stack.config.quality import QualityConfig
from stack.config.signals import ApiPrice, CostConfig, SignalsConfig
from stack.config.workloads import LoadConfig, WorkloadConfig

__all__ = [
    "PROJECT", "PROJECT_DIR", "ApiPrice", "ClusterConfig", "ConfigError", "CostConfig", "CostGuardsConfig",
    "HostConfig", "LoadConfig", "PlatformConfig", "QualityConfig", "Secret", "SignalsConfig", "StackConfig", "WorkloadConfig",
    "declared_settings", "load", "load_from_files", "parse", "raw_from_files", "raw_from_pulumi",
]

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class StackConfig:
    stack: str
    host: HostConfig
    cluster: ClusterConfig
    cost: CostConfig
    signals: SignalsConfig
    tags: Mapping[str, str]
    platform: PlatformConfig
    cost_guards: CostGuardsConfig
    workload: WorkloadConfig
    quality: QualityConfig


# --- Reading -----------------------------------------------------------------------------------------


def declared_settings() -> dict[str, dict[str, Any]]:
    """The ``config:`` block of Pulumi.yaml: the one place settings and their defaults are written."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    return project["config"]


def _typed(kind: str | None, text: str | None) -> Any:
    """A setting as the program reads it: the engine hands every value over as text, and the SDK's
    ``get_int``/``get_bool``/``get_object`` read numbers, ``true``/``false`` and JSON from it. Text that
    does not read as its declared type is left as text, for the checks to name."""
    if text is None:
        return None
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", text, re.ASCII):
        return int(text)
    if kind == "boolean" and text in ("true", "True", "false", "False"):
        return text in ("true", "True")
    if kind == "array":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _as_engine_text(value: Any) -> str | None:
    """What the CLI hands the program for a stack-file value: strings as written, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def raw_from_pulumi() -> dict[str, Any]:
    """Values as the Pulumi engine hands them to the program (defaults already applied by the CLI).

    Keys in the project's namespace that Pulumi.yaml does not declare are kept, for parse() to refuse.
    """
    config = pulumi.Config()
    declared = declared_settings()
    # Secret settings are read as plain values only to be validated; parse() wraps them in Secret.
    raw = {key: _typed(d["type"], config.get(key)) for key, d in declared.items()}
    prefix = f"{PROJECT}:"
    engine = {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    for name, text in engine.items():
        key = name[len(prefix):]
        if name.startswith(prefix) and key not in declared:
            raw[key] = text
    return raw


def raw_from_files(stack: str, stack_file: Path | None = None) -> dict[str, Any]:
    """Values read from Pulumi.yaml defaults and Pulumi.<stack>.yaml, the way the CLI combines them.

    For tools that run without the engine (rendering dashboards, the test harness). Each value goes
    through the same reading as the engine's (numbers and booleans written as strings by
    `pulumi config set` read as such); keys count with or without the project's prefix; a ``secure:``
    value is ENCRYPTED, a secret whose plaintext is unknown here.
    """
    declared = declared_settings()
    raw = {key: _typed(d["type"], _as_engine_text(d.get("default"))) for key, d in declared.items()}
    stack_file = stack_file or PROJECT_DIR / f"Pulumi.{stack}.yaml"
    values = (yaml.safe_load(stack_file.read_text()) or {}).get("config", {}) or {}
    for name, value in values.items():
        namespace, _, key = str(name).rpartition(":")
        if namespace not in ("", PROJECT):
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            raw[key] = ENCRYPTED
        else:
            raw[key] = _typed(declared.get(key, {}).get("type"), _as_engine_text(value))
    return raw


# Settings that hold secrets but cannot be declared `secret: true` in Pulumi.yaml: the CLI then
# requires them in every stack (no default may be given to a secret), even where they are unused.
# The program reads them as secrets and refuses a value that was not stored encrypted.
SECRET_SETTINGS = ("alertReceiverUrl", "watchdogUrl", "kubeconfig", "hfToken")


def _refuse_unknown_settings(raw: Mapping[str, Any], declared: Mapping[str, Any], problems: Problems) -> None:
    """A misspelt key would be ignored, and the guard it meant to set left off."""
    by_lower = {key.lower(): key for key in declared}
    for key in sorted(set(raw) - set(declared)):
        close = [by_lower[key.lower()]] if key.lower() in by_lower else difflib.get_close_matches(key, declared, n=1)
        hint = f"did you mean {qualified(close[0])}? " if close else ""
        problems.append(
            f"{qualified(shown(key).strip(chr(39)))} is not a setting of this project and would be ignored; "
            f"{hint}allowed: the settings declared in Pulumi.yaml"
        )


def _volumes_fit_the_data_volume(
    host_config: HostConfig, platform_config: PlatformConfig, workload: WorkloadConfig, problems: Problems
) -> None:
    """MiniKube's claims all live on the data volume: their sizes must add up to no more than it holds."""
    if problems.refused("dataVolumeGiB", "prometheusVolumeGiB", "tempoVolumeGiB", "modelCacheGiB", "servingMode"):
        return
    claims = {
        "prometheusVolumeGiB": platform_config.prometheus_volume_gib,
        "tempoVolumeGiB": platform_config.tempo_volume_gib,
        **({} if workload.simulated else {"modelCacheGiB": workload.model_cache_gib}),
    }
    if sum(claims.values()) > host_config.data_volume_gib:
        listed = " + ".join(f"{key} {size}" for key, size in claims.items())
        problems.append(
            f"{qualified('dataVolumeGiB')}: {host_config.data_volume_gib} GiB cannot hold the volumes it carries "
            f"({listed} = {sum(claims.values())} GiB); allowed: at least {sum(claims.values())}, or smaller volumes"
        )


def _budget(raw: Mapping[str, Any], problems: Problems) -> float | None:
    budget = decimal(raw, "monthlyBudgetUsd", problems)
    # AWS Budgets gets the amount in cents (components/cost_guards.py): under a cent it would be 0.00.
    if budget is not None and round(budget, 2) == 0:
        problems.append(
            f"{qualified('monthlyBudgetUsd')}: {shown(raw.get('monthlyBudgetUsd'))} rounds to 0.00 USD; "
            'allowed: at least "0.01", or empty for no budget'
        )
        return None
    return budget


def parse(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate every setting and return the frozen config, or raise one error listing every problem."""
    problems = Problems()
    declared = declared_settings()
    _refuse_unknown_settings(raw, declared, problems)
    raw = {key: value for key, value in raw.items() if key in declared}
    refuse_unprintable(raw, SECRET_SETTINGS, problems)
    cluster_config = cluster.parse(raw, problems)
    host_config = host.parse(raw, cluster_config.backend, problems)
    instance = host_config.instance if host_config else None
    tags = host.tags(stack, raw, problems)
    hourly_price = decimal(raw, "hourlyPriceUsd", problems)
    monthly_budget = _budget(raw, problems)
    platform_config = platform.parse(raw, problems)
    cost_guards = guards.parse(raw, cluster_config.backend, monthly_budget, problems)
    workload = workloads.parse(raw, instance, cluster_config.gpu_nodes, cluster_config.backend, problems)
    signals_config = signals.parse(raw, problems)
    if cluster_config.backend == "minikube" and host_config:
        _volumes_fit_the_data_volume(host_config, platform_config, workload, problems)
    guards.production(
        raw, platform_config.alert_receiver, platform_config.alert_receiver_url, cost_guards.budget_alert_emails, problems
    )
    quality_config = quality.parse(raw, workload, problems)
    if problems:
        raise ConfigError(list(problems))
    assert host_config is not None and instance is not None
    return StackConfig(
        stack=stack,
        host=host_config,
        cluster=cluster_config,
        cost=CostConfig(
            usd_per_hour=hourly_price or signals.hourly_cost(cluster_config, instance),
            price_from_setting=hourly_price is not None,
            gpu_count=instance.gpu_count * cluster_config.gpu_nodes,
            monthly_budget_usd=monthly_budget,
        ),
        signals=signals_config,
        tags=tags,
        platform=platform_config,
        cost_guards=cost_guards,
        workload=workload,
        quality=quality_config,
    )


def _refuse_plaintext_secrets(raw: Mapping[str, Any]) -> None:
    problems = [
        f"{qualified(name)} must be stored encrypted; allowed: `pulumi config set --secret {name} <value>`"
        for name in SECRET_SETTINGS
        if raw.get(name) and not pulumi.runtime.config.is_config_secret(qualified(name))
    ]
    if problems:
        raise ConfigError(problems)


def load() -> StackConfig:
    """The program's entry: the engine's values for the current stack, validated."""
    raw = raw_from_pulumi()
    _refuse_plaintext_secrets(raw)
    return parse(pulumi.get_stack(), raw)


def load_from_files(stack: str) -> StackConfig:
    return parse(stack, raw_from_files(stack))

