"""Multi-window, multi-burn-rate SLO alerts (the SRE workbook's), shared by every SLO the domains define:
latency SLOs of vLLM, availability of vLLM and of Llama Stack."""

from __future__ import annotations

from typing import Callable

from dashboards.config import SignalsSpec
from dashboards.mixin import Alert

# A long window with a short one that confirms it is still burning.
BURN_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d")
BURN_TIERS = {  # severity -> [(burn factor, long window, short window)], and its `for`
    "critical": ([(14.4, "1h", "5m"), (6.0, "6h", "30m")], "2m"),
    "warning": ([(3.0, "1d", "2h")], "15m"),
}
LONG_WINDOWS = tuple(sorted({long for pairs, _ in BURN_TIERS.values() for _, long, _ in pairs}))


def burn_alerts(
    spec: SignalsSpec,
    alert: str,
    error_ratio: Callable[[str], str],
    requests: Callable[[str], str],
    what: str,
    subject: str,
    missed: str,
) -> list[Alert]:
    """One alert per severity: each window pair needs the long window (it matters) and the short one (it
    is still happening) above the same burn rate, and the long window at least
    thresholds.slo_min_requests requests (``requests(window)``), so a ratio of a handful never pages.
    ``error_ratio(window)`` and ``requests(window)`` name the recorded series of a window."""
    budget = round(1 - spec.slo.objective, 6)
    least = spec.thresholds.slo_min_requests
    out = []
    for severity, (pairs, for_) in BURN_TIERS.items():
        expr = "\nor\n".join(
            f"({error_ratio(long)} > ({factor} * {budget}) and {error_ratio(short)} > ({factor} * {budget})"
            f" and {requests(long)} >= {least})"
            for factor, long, short in pairs
        )
        out.append(Alert(
            alert, expr, severity,
            summary=f"{what.capitalize()} SLO error budget burning at least {pairs[-1][0]}x too fast.",
            description=(
                f"{subject}: {{{{ $value | humanizePercentage }}}} of requests {missed} over the last {pairs[0][1]} "
                f"or longer, against an objective of {spec.slo.objective:.2%}: at this rate the 30-day error budget "
                f"runs out early. (Only with at least {least} requests in the long window.)"
            ),
            for_=for_,
        ))
    return out
