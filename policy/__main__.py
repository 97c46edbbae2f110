"""The llm-observability policy pack: `pulumi preview --policy-pack policy` (CI runs it on every pull request)."""

from guardrails import policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="llm-observability",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(),
)
