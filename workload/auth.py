"""The model servers' API key as a request header."""

from __future__ import annotations


def bearer(api_key: str) -> dict[str, str]:
    """The header an OpenAI-compatible server with an API key (vLLM's --api-key) wants; none without a key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}
