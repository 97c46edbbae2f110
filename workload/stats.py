"""Counting what the workload did, and the short summary it prints at the end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


@dataclass
class Stats:
    """One phase's tally: requests, errors, tokens and latencies."""

    phase: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    tool_calls: int = 0
    tool_errors: int = 0
    refusals: int = 0
    error_messages: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        self.errors += 1
        self.error_messages.append(message)

    @property
    def failed(self) -> bool:
        return self.errors > 0 or self.tool_errors > 0

    def summary_lines(self) -> list[str]:
        lines = [
            f"[{self.phase}] requests {self.requests}, errors {self.errors}, "
            f"tokens {self.prompt_tokens} in / {self.completion_tokens} out",
        ]
        if self.ttft:
            lines.append(
                f"[{self.phase}] TTFT p50 {_ms(percentile(self.ttft, 50))}, p95 {_ms(percentile(self.ttft, 95))}; "
                f"latency p50 {_ms(percentile(self.latency, 50))}, p95 {_ms(percentile(self.latency, 95))}"
            )
        elif self.latency:
            lines.append(
                f"[{self.phase}] latency p50 {_ms(percentile(self.latency, 50))}, "
                f"p95 {_ms(percentile(self.latency, 95))}"
            )
        if self.tool_calls or self.refusals:
            lines.append(
                f"[{self.phase}] tool calls {self.tool_calls} ({self.tool_errors} failed), refusals {self.refusals}"
            )
        lines.extend(f"[{self.phase}] error: {message}" for message in self.error_messages[:5])
        if len(self.error_messages) > 5:
            lines.append(f"[{self.phase}] ... and {len(self.error_messages) - 5} more errors")
        return lines
