"""What every domain's settings share: the project's namespace, secrets, the error, small validators."""

from __future__ import annotations

import re
import unicodedata
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


# Settings whose values are documents of many lines.
MULTILINE_SETTINGS = frozenset({"kubeconfig"})
MAX_SHOWN = 60


def shown(value: object) -> str:
    """A value as an error message echoes it: its repr, cut when long."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


class Problems(list[str]):
    """Every problem found, and the settings they name first, so a check whose input was already
    refused is skipped: one mistake, one message."""

    def __init__(self) -> None:
        super().__init__()
        self.refused_keys: set[str] = set()
        self._silenced: set[str] = set()

    def append(self, message: str) -> None:
        match = re.match(rf"{re.escape(PROJECT)}:(\w+)", message)
        key = match.group(1) if match else ""
        if key in self._silenced:
            return
        self.refused_keys.add(key)
        super().append(message)

    def silence(self, key: str) -> None:
        """Nothing more about ``key``: its one message is recorded."""
        self._silenced.add(key)

    def refused(self, *keys: str) -> bool:
        return any(key in self.refused_keys for key in keys)


def _unprintable(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def refuse_unprintable(raw: Mapping[str, Any], secrets: tuple[str, ...], problems: Problems) -> None:
    """Newlines, control and invisible formatting characters are refused in every setting (a trailing
    newline would pass a pattern checked with ``$``, and reach a shell or a label as written)."""
    for key, value in raw.items():
        if key in MULTILINE_SETTINGS:
            continue
        for text in value if isinstance(value, list) else [value]:
            character = _unprintable(text) if isinstance(text, str) else None
            if character:
                what = "the value (not shown)" if key in secrets else shown(text)
                problems.append(
                    f"{qualified(key)}: {what} contains the control or invisible character {character}; "
                    "allowed: printable text without newlines"
                )
                problems.silence(key)
                break


def secret(raw: Mapping[str, Any], key: str) -> Secret | None:
    value = raw.get(key) or None
    if value is None:
        return None
    return Secret(value if isinstance(value, Encrypted) else str(value))


def boolean(raw: Mapping[str, Any], key: str, problems: list[str]) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        problems.append(f"{qualified(key)}: {shown(value)} is not a boolean; allowed: true or false")
        return False
    return value


def is_id(value: object, prefix: str) -> bool:
    return bool(re.fullmatch(rf"{prefix}-[0-9a-f]{{8,17}}", str(value), re.ASCII))


def optional_id(raw: Mapping[str, Any], key: str, prefix: str, problems: list[str]) -> str | None:
    value = raw.get(key) or None
    if value is not None and not is_id(value, prefix):
        problems.append(f"{qualified(key)}: {shown(value)} is not an id; allowed: {prefix}-<hex> or empty")
    return value


# EKS's quota of nodes in one managed node group.
MAX_NODES = 450


def count(raw: Mapping[str, Any], key: str, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_NODES:
        problems.append(
            f"{qualified(key)}: {shown(value)} is not a node count; allowed: a whole number from 1 to {MAX_NODES} "
            "(EKS's limit per node group)"
        )
        return 1
    return value


def _plain_decimal(value: object) -> float | None:
    """Digits with an optional fraction: what every consumer reads alike (no exponent, sign, inf or nan)."""
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", str(value), re.ASCII):
        return None
    return float(str(value))


def decimal(raw: Mapping[str, Any], key: str, problems: list[str]) -> float | None:
    """Optional positive decimal, written as a string because Pulumi config has no float type."""
    value = raw.get(key)
    if value in (None, ""):
        return None
    number = _plain_decimal(value)
    if number is None or not number > 0:
        problems.append(f"{qualified(key)}: {shown(value)} is not a positive amount; allowed: a decimal string like \"12.5\" or empty")
        return None
    return number


def integer(raw: Mapping[str, Any], key: str, low: int, high: int, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{qualified(key)}: {shown(value)} is out of range; allowed: a whole number from {low} to {high}")
        return low
    return value


def matching(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], allowed: str, problems: list[str]) -> str:
    value = str(raw.get(key) or "")
    if not pattern.fullmatch(value) or not any(ch in "123456789" for ch in value):
        problems.append(f"{qualified(key)}: {shown(value)} is not valid; allowed: {allowed}")
    return value


def fraction(raw: Mapping[str, Any], key: str, low: float, high: float, problems: list[str]) -> float:
    value = raw.get(key)
    number = _plain_decimal(value)
    if number is None or not low <= number <= high:
        problems.append(f"{qualified(key)}: {shown(value)} is out of range; allowed: a decimal string from {low} to {high}")
        return high
    return number

