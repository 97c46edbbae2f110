"""python -m workload [all|agent|load]: exercise Llama Stack and the model servers, print a summary.

Settings come from flags or the environment (the Kubernetes Job sets the environment; scripts/run-workload.sh
sets the flags). API keys come from the environment only, never from a flag a process listing would show:
MODEL_API_KEY for the model servers, JUDGE_API_KEY for the judge. Exit status: 0 when everything worked,
1 when a request or a tool failed, 2 when a server cannot be reached at all.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time

import httpx
from llama_stack_client import APIConnectionError, LlamaStackClient

from workload.agent import MAX_KNOWN_ANSWER_SHARE, plan_sessions, run_agent
from workload.auth import bearer
from workload.judge import Judge, Sampler
from workload.load import LoadSettings, run_load
from workload.quality import QualityRecorder
from workload.stats import Stats
from workload.tracing import Telemetry

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 2


class Unreachable(Exception):
    """A server did not answer at all (wrong URL, tunnel down, pod not running)."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workload", description=__doc__.splitlines()[0])
    parser.add_argument("phase", nargs="?", choices=("all", "agent", "load"), default=_env("WORKLOAD_PHASE", "all"))
    parser.add_argument("--llama-stack-url", default=_env("LLAMA_STACK_URL", "http://localhost:8321"))
    parser.add_argument("--model-url", default=_env("MODEL_URL", "http://localhost:8000/v1"),
                        help="OpenAI-compatible base URL of the model servers, ending in /v1")
    parser.add_argument("--model", default=_env("MODEL_ID", "Qwen/Qwen2.5-7B-Instruct"),
                        help="the served model's name at the model servers (load phase)")
    parser.add_argument("--stack-model", default=_env("STACK_MODEL_ID", ""),
                        help="the id Llama Stack registered the served model under, like vllm/<model> "
                             "(agent phase; stack output llamaStackModelId)")
    parser.add_argument("--shield", default=_env("SHIELD_ID", "llama-guard"),
                        help="safety shield for the prompt that should be refused; empty to skip it")
    parser.add_argument("--known-answer-share", type=float, default=float(_env("KNOWN_ANSWER_SHARE", "0")),
                        help="share of agent sessions that ask known-answer questions and check the answers; 0 asks none")
    parser.add_argument("--judge-share", type=float, default=float(_env("JUDGE_SAMPLE_SHARE", "0")),
                        help="share of answers an LLM judge scores; 0 turns the judge off")
    parser.add_argument("--judge-url", default=_env("JUDGE_URL", ""),
                        help="OpenAI-compatible base URL of the judge, ending in /v1 (default: --model-url)")
    parser.add_argument("--judge-model", default=_env("JUDGE_MODEL", ""),
                        help="the judge's model name at --judge-url (default: --model)")
    parser.add_argument("--requests", type=int, default=int(_env("LOAD_REQUESTS", "100")))
    parser.add_argument("--rate", type=float, default=float(_env("LOAD_REQUEST_RATE", "2")),
                        help="load requests per second")
    parser.add_argument("--prompt-tokens", type=int, default=int(_env("LOAD_PROMPT_TOKENS", "512")))
    parser.add_argument("--output-tokens", type=int, default=int(_env("LOAD_OUTPUT_TOKENS", "256")))
    parser.add_argument("--concurrency", type=int, default=int(_env("LOAD_CONCURRENCY", "64")))
    parser.add_argument("--wait", type=float, default=float(_env("WAIT_READY_SECONDS", "0")),
                        help="seconds to wait for the servers to become ready before starting")
    args = parser.parse_args(argv)
    for name in ("requests", "prompt_tokens", "output_tokens", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.rate <= 0:
        parser.error("--rate must be positive")
    if args.phase in ("all", "agent") and not args.stack_model:
        parser.error("--stack-model (or STACK_MODEL_ID) is needed for the agent phase: the id Llama Stack "
                     "registered the served model under (its GET /v1/models, or stack output llamaStackModelId)")
    if not 0 <= args.known_answer_share <= MAX_KNOWN_ANSWER_SHARE:
        parser.error(f"--known-answer-share must be from 0 to {MAX_KNOWN_ANSWER_SHARE}")
    if not 0 <= args.judge_share <= 1:
        parser.error("--judge-share must be from 0 to 1")
    return args


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def wait_ready(url: str, what: str, seconds: float, headers: dict[str, str] | None = None) -> None:
    """Polls url until it answers 200; raises Unreachable with the last reason when time runs out."""
    deadline = time.monotonic() + seconds
    reason = "no answer"
    while True:
        try:
            response = httpx.get(url, timeout=5.0, headers=headers)
            if response.status_code == 200:
                return
            reason = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            raise Unreachable(f"cannot reach {what} at {url} ({reason})")
        log(f"waiting for {what} at {url} ({reason})")
        time.sleep(min(10.0, max(0.5, deadline - time.monotonic())))


def run(args: argparse.Namespace) -> list[Stats]:
    results: list[Stats] = []
    if args.phase in ("all", "agent"):
        wait_ready(f"{args.llama_stack_url}/v1/health", "Llama Stack", args.wait)
        client = LlamaStackClient(base_url=args.llama_stack_url, max_retries=1, timeout=300.0)
        log(f"agent: sessions through Llama Stack at {args.llama_stack_url}, model {args.stack_model}")
        telemetry = Telemetry(log)
        try:
            judge = None
            if args.judge_share > 0:
                # The judge is called on the model servers (or its own endpoint) by its served name.
                judge = Judge(args.judge_url or args.model_url, args.judge_model or args.model,
                              api_key=_env("JUDGE_API_KEY", ""))
                log(f"judge: {judge.model} at {judge.base_url} scores {args.judge_share:g} of the answers")
            quality = QualityRecorder(args.stack_model, telemetry, log, judge, Sampler(args.judge_share),
                                      shielded=bool(args.shield))
            sessions = plan_sessions(args.known_answer_share, random.Random())
            results.append(run_agent(client, args.stack_model, args.shield or None, telemetry, quality, sessions, log))
        except APIConnectionError as error:
            raise Unreachable(f"cannot reach Llama Stack at {args.llama_stack_url} ({error})") from error
        finally:
            telemetry.shutdown()
    if args.phase in ("all", "load"):
        api_key = _env("MODEL_API_KEY", "")
        wait_ready(f"{args.model_url}/models", "the model servers", args.wait, bearer(api_key))
        settings = LoadSettings(
            base_url=args.model_url.rstrip("/"),
            model=args.model,
            requests=args.requests,
            rate=args.rate,
            prompt_tokens=args.prompt_tokens,
            output_tokens=args.output_tokens,
            concurrency=args.concurrency,
            api_key=api_key,
        )
        results.append(run_load(settings, log))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # One line per request from httpx would drown the progress lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        results = run(args)
    except Unreachable as error:
        print(f"workload: {error}. Is the tunnel up (scripts/run-workload.sh) and the pod running?", file=sys.stderr)
        return EXIT_UNREACHABLE
    print("--- summary ---", flush=True)
    for stats in results:
        for line in stats.summary_lines():
            print(line, flush=True)
    failed = [stats.phase for stats in results if stats.failed]
    if failed:
        print(f"workload: failures in {', '.join(failed)} (see the errors above)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
