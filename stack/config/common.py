"""What every domain's settings share: the project's namespace, secrets, the error, small validators."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi

PROJECT = "llm-observability"


class Encrypted:
    """A ``secure:`` value read from a stack file without the engine: set, its plaintext unknown here.

    Checks of a secret's content are skipped for it (the engine run checks the plaintext); nothing
    can deploy from it.
    """

    def __repr__(self) -> str:
        return "<encrypted>"


ENCRYPTED = Encrypted()


@dataclass(frozen=True)
class Secret:
    """A secret setting: never shown by repr or in errors; components hand it to Pulumi as a secret."""

    value: str | Encrypted = field(repr=False)

    def output(self) -> pulumi.Output[str]:
        if isinstance(self.value, Encrypted):
            raise ConfigError(["an encrypted setting read from a stack file has no plaintext: deploy through the engine"])
        return pulumi.Output.secret(self.value)


class ConfigError(pulumi.RunError):
    """Bad settings, reported all at once and before any resource exists."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def qualified(name: str) -> str:
    return f"{PROJECT}:{name}"


def secret(raw: Mapping[str, Any], key: str) -> Secret | None:
    value = raw.get(key) or None
    if value is None:
        return None
    return Secret(value if isinstance(value, Encrypted) else str(value))


def boolean(raw: Mapping[str, Any], key: str, problems: list[str]) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        problems.append(f"{qualified(key)}: {value!r} is not a boolean; allowed: true or false")
        return False
    return value


def is_id(value: object, prefix: str) -> bool:
    return bool(re.match(rf"^{prefix}-[0-9a-f]{{8,17}}$", str(value)))


def optional_id(raw: Mapping[str, Any], key: str, prefix: str, problems: list[str]) -> str | None:
    value = raw.get(key) or None
    if value is not None and not is_id(value, prefix):
        problems.append(f"{qualified(key)}: {value!r} is not an id; allowed: {prefix}-<hex> or empty")
    return value


def count(raw: Mapping[str, Any], key: str, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems.append(f"{qualified(key)}: {value!r} is not a node count; allowed: a whole number, at least 1")
        return 1
    return value


def decimal(raw: Mapping[str, Any], key: str, problems: list[str]) -> float | None:
    """Optional positive decimal, written as a string because Pulumi config has no float type."""
    value = raw.get(key)
    if value in (None, ""):
        return None
    try:
        number = float(str(value))
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        problems.append(f"{qualified(key)}: {value!r} is not a positive amount; allowed: a decimal string like \"12.5\" or empty")
        return None
    return number


def integer(raw: Mapping[str, Any], key: str, low: int, high: int, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{qualified(key)}: {value!r} is out of range; allowed: a whole number from {low} to {high}")
        return low
    return value


def matching(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], allowed: str, problems: list[str]) -> str:
    value = str(raw.get(key) or "")
    if not pattern.match(value) or not any(ch in "123456789" for ch in value):
        problems.append(f"{qualified(key)}: {value!r} is not valid; allowed: {allowed}")
    return value


def fraction(raw: Mapping[str, Any], key: str, low: float, high: float, problems: list[str]) -> float:
    value = raw.get(key)
    try:
        number = float(str(value))
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        problems.append(f"{qualified(key)}: {value!r} is out of range; allowed: a decimal string from {low} to {high}")
        return high
    return number

