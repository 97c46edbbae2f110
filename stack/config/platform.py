"""Metrics, traces and alerting on the cluster: retention, volumes, the alert receiver."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from stack.config.common import Encrypted, Problems, Secret, integer, matching, qualified, secret, shown

ALERT_RECEIVERS = ("none", "webhook", "slack")
# Prometheus keeps the WAL and the head block beside the retained blocks: leave it a tenth of the disk.
PROMETHEUS_DISK_HEADROOM = 0.9
_PROMETHEUS_DURATION = re.compile(r"(\d+(y|w|d|h|m|s|ms))+", re.ASCII)
_PROMETHEUS_SIZE = re.compile(r"(\d+)(B|KB|MB|GB|TB|PB)", re.ASCII)
_GO_DURATION = re.compile(r"(\d+(h|m|s))+", re.ASCII)


@dataclass(frozen=True)
class PlatformConfig:
    """Metrics, traces and alerting on the cluster (kube-prometheus-stack, Tempo, Alertmanager)."""

    prometheus_retention: str
    prometheus_retention_size: str
    prometheus_volume_gib: int
    trace_retention: str
    tempo_volume_gib: int
    alert_receiver: str
    alert_receiver_url: Secret | None
    # A dead man's switch (healthchecks.io, Dead Man's Snitch, ...) that pages when the Watchdog stops.
    watchdog_url: Secret | None


def _prometheus_size_bytes(size: str) -> int:
    match = _PROMETHEUS_SIZE.fullmatch(size)
    assert match is not None
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    # Prometheus reads these units as powers of 1024.
    return int(match.group(1)) * 1024 ** units.index(match.group(2))


def parse(raw: Mapping[str, Any], problems: Problems) -> PlatformConfig:
    retention = matching(
        raw, "prometheusRetention", _PROMETHEUS_DURATION, "a Prometheus duration like 15d, 36h or 2w", problems
    )
    volume_gib = integer(raw, "prometheusVolumeGiB", 10, 1000, problems)
    retention_size = matching(
        raw, "prometheusRetentionSize", _PROMETHEUS_SIZE, "a size like 40GB or 500MB (units B, KB, MB, GB, TB, PB)", problems
    )
    if _PROMETHEUS_SIZE.fullmatch(retention_size) and not problems.refused("prometheusVolumeGiB", "prometheusRetentionSize"):
        budget = PROMETHEUS_DISK_HEADROOM * volume_gib * 1024**3
        if _prometheus_size_bytes(retention_size) > budget:
            problems.append(
                f"{qualified('prometheusRetentionSize')}: {shown(retention_size)} does not fit the "
                f"{volume_gib} GiB volume; allowed: at most {int(budget // 1024**3)}GB, or raise "
                f"{qualified('prometheusVolumeGiB')}"
            )
    trace_retention = matching(
        raw, "traceRetention", _GO_DURATION, "a duration in hours, minutes or seconds like 168h or 72h30m", problems
    )
    tempo_volume_gib = integer(raw, "tempoVolumeGiB", 5, 1000, problems)
    receiver = str(raw.get("alertReceiver") or "")
    url = secret(raw, "alertReceiverUrl")
    if receiver not in ALERT_RECEIVERS:
        problems.append(f"{qualified('alertReceiver')}: {shown(receiver)} is not a receiver; allowed: {', '.join(ALERT_RECEIVERS)}")
    elif receiver == "none" and url is not None:
        problems.append(
            f"{qualified('alertReceiverUrl')} is set but {qualified('alertReceiver')} is none; allowed: set "
            f"{qualified('alertReceiver')} to webhook or slack, or remove the URL"
        )
    elif receiver != "none":
        # The URL is a secret: messages say what is wrong with it, never what it is.
        if url is None:
            problems.append(
                f"{qualified('alertReceiverUrl')} is required when {qualified('alertReceiver')} is {receiver}; "
                f"set it with `pulumi config set --secret alertReceiverUrl <url>`"
            )
        elif not isinstance(url.value, Encrypted) and not re.fullmatch(r"https://[^\s/]+(/\S*)?", url.value, re.ASCII):
            problems.append(f"{qualified('alertReceiverUrl')} is not an https:// URL; allowed: an https:// webhook URL")
    watchdog_url = secret(raw, "watchdogUrl")
    if (watchdog_url is not None and not isinstance(watchdog_url.value, Encrypted)
            and not re.fullmatch(r"https://[^\s/]+(/\S*)?", watchdog_url.value)):
        problems.append(f"{qualified('watchdogUrl')} is not an https:// URL; allowed: the https:// URL a dead man's switch pings")
    return PlatformConfig(
        prometheus_retention=retention,
        prometheus_retention_size=retention_size,
        prometheus_volume_gib=volume_gib,
        trace_retention=trace_retention,
        tempo_volume_gib=tempo_volume_gib,
        alert_receiver=receiver,
        alert_receiver_url=url,
        watchdog_url=watchdog_url,
    )
