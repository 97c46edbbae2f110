"""The load phase: an open-loop stream of chat completions straight to the model servers.

Requests arrive as a Poisson process at the configured rate (open loop: a slow server makes a queue,
as real traffic would), each streaming its answer so time to first token is measured client-side.
Half of every prompt is a shared preamble, so the prefix cache has something to hit.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from workload.auth import bearer
from workload.stats import Stats, percentile

# Roughly one token per short English word for these tokenizers.
_WORDS = (
    "latency token cache prefix decode prefill queue replica budget trace span metric gpu memory model "
    "request answer context window batch throughput schedule kernel tensor weight shard router health"
).split()
PROGRESS_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class LoadSettings:
    base_url: str  # OpenAI-compatible, ending in /v1
    model: str
    requests: int
    rate: float
    prompt_tokens: int
    output_tokens: int
    concurrency: int
    seed: int = 7
    # The model servers' API key (empty: they ask for none).
    api_key: str = field(default="", repr=False)


def prompts(settings: LoadSettings) -> list[str]:
    """Prompts of about prompt_tokens tokens: a shared preamble, then a part unique to the request."""
    rng = random.Random(settings.seed)
    shared = " ".join(rng.choice(_WORDS) for _ in range(settings.prompt_tokens // 2))
    unique_words = max(1, settings.prompt_tokens - settings.prompt_tokens // 2 - 8)
    return [
        f"{shared}\nRequest {number}: "
        + " ".join(rng.choice(_WORDS) for _ in range(unique_words))
        + "\nSummarise the text above."
        for number in range(settings.requests)
    ]


async def _one(client: httpx.AsyncClient, settings: LoadSettings, prompt: str, stats: Stats) -> None:
    body = {
        "model": settings.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": settings.output_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        # vLLM's extension: generate exactly max_tokens, so output lengths are what was asked for.
        "ignore_eos": True,
    }
    started = time.monotonic()
    first_token: float | None = None
    try:
        async with client.stream("POST", f"{settings.base_url}/chat/completions", json=body) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")[:200]
                stats.error(f"HTTP {response.status_code}: {text}")
                return
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                choices = chunk.get("choices") or []
                if first_token is None and any((c.get("delta") or {}).get("content") for c in choices):
                    first_token = time.monotonic() - started
                usage = chunk.get("usage")
                if usage:
                    stats.prompt_tokens += usage.get("prompt_tokens", 0)
                    stats.completion_tokens += usage.get("completion_tokens", 0)
    except (httpx.HTTPError, json.JSONDecodeError) as error:
        stats.error(f"{type(error).__name__}: {error}")
        return
    finally:
        stats.requests += 1
    stats.latency.append(time.monotonic() - started)
    if first_token is not None:
        stats.ttft.append(first_token)


async def _progress(stats: Stats, total: int, log: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)
        p50 = percentile(stats.ttft, 50)
        log(
            f"load: {stats.requests}/{total} done, {stats.errors} errors, "
            f"TTFT p50 {'-' if p50 is None else f'{p50 * 1000:.0f} ms'}"
        )


async def run_load_async(settings: LoadSettings, log: Callable[[str], None]) -> Stats:
    stats = Stats("load")
    rng = random.Random(settings.seed)
    gate = asyncio.Semaphore(settings.concurrency)
    limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
    timeout = httpx.Timeout(connect=10.0, read=600.0, write=30.0, pool=None)
    log(
        f"load: {settings.requests} requests at {settings.rate:g}/s, ~{settings.prompt_tokens} prompt and "
        f"{settings.output_tokens} output tokens, at most {settings.concurrency} in flight"
    )
    async with httpx.AsyncClient(limits=limits, timeout=timeout, headers=bearer(settings.api_key)) as client:

        async def gated(prompt: str) -> None:
            async with gate:
                await _one(client, settings, prompt, stats)

        reporter = asyncio.create_task(_progress(stats, settings.requests, log))
        tasks = []
        try:
            for prompt in prompts(settings):
                tasks.append(asyncio.create_task(gated(prompt)))
                await asyncio.sleep(rng.expovariate(settings.rate))
            await asyncio.gather(*tasks)
        finally:
            reporter.cancel()
    return stats


def run_load(settings: LoadSettings, log: Callable[[str], None]) -> Stats:
    return asyncio.run(run_load_async(settings, log))
