"""A stand-in for vLLM 0.33's OpenAI-compatible server, for the real Llama Stack to talk to on loopback.

It speaks the API the way vLLM does for what Llama Stack sends: the served model names only (any
other id gets vLLM's 404), chat completions streamed or not, with tool calls as vLLM's ``hermes``
parser returns them (``chatcmpl-tool-`` ids, arguments as one JSON string, ``finish_reason``
``tool_calls``), usage in the last chunk when ``stream_options.include_usage`` asks for it,
embeddings, ``/health``, and ``/metrics`` with the catalogue's vLLM names. Started with an API key, it
guards exactly what vLLM 0.33's AuthenticationMiddleware guards (entrypoints/serve/middleware): every path
under /v1 answers 401 ``{"error": "Unauthorized"}`` without ``Authorization: Bearer <key>``; /health and
/metrics stay open.

The "model" is a script, deterministic so assertions can rely on it:
- a Llama Guard prompt is answered ``safe``, or ``unsafe`` with category S1 when the conversation
  asks for a weapon;
- with tool results after the user's last message, it answers from them, citing each file-search
  chunk with the ``<|file-id|>`` marker Llama Stack asks for;
- offered ``file_search``, it searches for the user's words; offered the workload's function tools,
  it calls them; otherwise it answers plainly;
- a known-answer question (workload/known_answers.py) it answers from the search results as
  KNOWN_ANSWER_SCRIPT says: right and cited, wrong, or right without a citation;
- the workload's LLM judge (its rubric prompt) gets the verdicts of JUDGE_VERDICTS in turn,
  an unparseable and an off-scale one among them.
Embeddings are hashed bags of words, so a search for a document's words finds that document.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

from tests.loopback import LoopbackServer
from workload import judge as workload_judge
from workload.known_answers import KNOWN_ANSWERS, tokens

GUARD_TASK = "Check if there is unsafe content"
# How the scripted model answers the known-answer questions: 2 of 8 wrong, 2 right but uncited.
WRONG, UNCITED = "wrong", "uncited"
KNOWN_ANSWER_SCRIPT = {"dev-budget": WRONG, "page-after": WRONG, "host-vcpus": UNCITED, "log-retention": UNCITED}
KNOWN_QUESTIONS = {item.question: item for item in KNOWN_ANSWERS if item.facts}
JUDGE_VERDICTS = (
    '{"relevance": 5, "faithfulness": 4, "harmlessness": 5}',
    "The answer is relevant and accurate.",  # unparseable
    '{"relevance": 9, "faithfulness": 4, "harmlessness": 5}',  # off the 1-5 scale
    '{"relevance": 2, "faithfulness": 1, "harmlessness": 5}',
)
UNSAFE_WORDS = ("bomb", "explosive", "weapon")
# One file_search chunk as Llama Stack 0.7.3 formats it (core/datatypes.py chunk_annotation_template).
CHUNK = re.compile(r"\[\d+\] .*? cite as <\|(file-[^|]+)\|>\n(.*)", re.DOTALL)


@dataclass
class Served:
    """What the server serves: the chat model and the embedding model, by served name."""

    chat_model: str
    embedding_model: str
    embedding_dimension: int


@dataclass
class Counters:
    """The server's own tallies, exported on /metrics under vLLM's names."""

    requests: Counter = field(default_factory=Counter)  # (model, finished_reason) -> count
    prompt_tokens: Counter = field(default_factory=Counter)
    generation_tokens: Counter = field(default_factory=Counter)
    latency_sum: Counter = field(default_factory=Counter)
    unknown_models: list[str] = field(default_factory=list)
    # Requests refused for a missing or wrong API key, by path.
    unauthorized: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def embed(text: str, dimension: int) -> list[float]:
    """A unit vector of hashed word counts: texts sharing words are close."""
    vector = [0.0] * dimension
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if len(word) < 3:
            continue
        bucket = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % dimension
        vector[bucket] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _parts(content: Any) -> list[str]:
    """A message's text parts: Llama Stack sends each file_search chunk as a part of its own."""
    if isinstance(content, list):
        return [part.get("text", "") for part in content if isinstance(part, dict)]
    return [content or ""]


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def reply(request: dict[str, Any]) -> dict[str, Any]:
    """The scripted model's next assistant message: {"content": str} or {"tool_calls": [...]}."""
    messages = request.get("messages") or []
    everything = " ".join(_text(m.get("content")) for m in messages)
    if GUARD_TASK in everything:
        conversation = everything.split("<BEGIN CONVERSATION>")[-1].split("<END CONVERSATION>")[0].lower()
        return {"content": "unsafe\nS1" if any(w in conversation for w in UNSAFE_WORDS) else "safe"}
    if workload_judge.PROMPT_VERSION in everything:
        return {"judge": True}
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    question = _text(messages[last_user].get("content")) if last_user >= 0 else ""
    results = [part for m in messages[last_user + 1:] if m.get("role") == "tool" for part in _parts(m.get("content"))]
    if results and question in KNOWN_QUESTIONS:
        return {"content": _known_answer(question, results)}
    if results:
        return {"content": _answer_from(results, question)}
    offered = {tool["function"]["name"] for tool in request.get("tools") or []}
    if "file_search" in offered:
        return {"tool_calls": [("file_search", {"query": question})]}
    if {"instance_price", "calculate"} <= offered:
        return {"tool_calls": [("instance_price", {"instance_type": "g6.12xlarge"}),
                               ("calculate", {"expression": "4.6016 * 4 * 24 * 30"})]}
    return {"content": f"A short answer to: {question[:80]}"}


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z0-9]+", text.lower()) if len(word) > 3}


def _answer_from(results: list[str], question: str) -> str:
    """The chunk line sharing most words with the question, cited; or the function results."""
    chunks = [match.groups() for match in map(CHUNK.match, results) if match]
    cited = [(file_id, line) for file_id, chunk in chunks for line in chunk.splitlines() if line.strip()]
    if cited:
        file_id, line = max(cited, key=lambda item: len(_words(item[1]) & _words(question)))
        return f"{line.strip().lstrip('#-* ')[:200]} <|{file_id}|>."
    return "Based on the tools: " + "; ".join(text[:200] for text in results)


def _known_answer(question: str, results: list[str]) -> str:
    """The fact in its first wording; cited with the marker of the chunk that holds it, unless scripted otherwise."""
    item = KNOWN_QUESTIONS[question]
    how = KNOWN_ANSWER_SCRIPT.get(item.id)
    if how == WRONG:
        return "As far as I know it is 12345, but I am not sure."
    facts = [fact[0] for fact in item.facts]
    text = f"According to our documents: {' and '.join(facts)}"
    if how == UNCITED:
        return text + "."
    chunks = [match for result in results for match in re.findall(r"cite as <\|(file-[^|]+)\|>\n(.*?)(?=cite as <\||$)",
                                                                     result, re.S)]
    holding = [file_id for file_id, chunk in chunks if " ".join(tokens(facts[0])) in " ".join(tokens(chunk))]
    return text + (f" <|{holding[0]}|>." if holding else ".")


class _Handler(BaseHTTPRequestHandler):
    server: "FakeVllm"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        """vLLM's check: a /v1 path needs the bearer token (compared in constant time); others are open."""
        key = self.server.api_key
        if not key or not self.path.startswith("/v1"):
            return True
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(token.encode(), key.encode()):
            return True
        with self.server.counters.lock:
            self.server.counters.unauthorized.append(self.path)
        self._send(401, {"error": "Unauthorized"})
        return False

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self._authorized():
            return
        if self.path == "/health":
            self._send(200, "", "text/plain")
        elif self.path == "/v1/models":
            served = self.server.served
            data = [{"id": name, "object": "model", "created": 0, "owned_by": "vllm", "root": name,
                     "max_model_len": 32768} for name in (served.chat_model, served.embedding_model)]
            self._send(200, {"object": "list", "data": data})
        elif self.path == "/metrics":
            self._send(200, self.server.exposition(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if not self._authorized():
            return
        served = self.server.served
        wanted = {"/v1/chat/completions": served.chat_model, "/v1/embeddings": served.embedding_model}.get(self.path)
        if wanted is None:
            self._send(404, {"detail": "Not Found"})
            return
        if request.get("model") != wanted:
            self.server.counters.unknown_models.append(str(request.get("model")))
            self._send(404, {"error": {"message": f"The model `{request.get('model')}` does not exist.",
                                       "type": "NotFoundError", "param": "model", "code": 404}})
            return
        if self.path == "/v1/embeddings":
            self._embeddings(request)
        elif request.get("stream"):
            self._stream(request)
        else:
            self._complete(request)

    def _embeddings(self, request: dict[str, Any]) -> None:
        inputs = request["input"] if isinstance(request["input"], list) else [request["input"]]
        dimension = request.get("dimensions") or self.server.served.embedding_dimension
        data = [{"object": "embedding", "index": i, "embedding": embed(str(text), dimension)}
                for i, text in enumerate(inputs)]
        tokens = sum(_tokens(str(text)) for text in inputs)
        self._send(200, {"object": "list", "model": request["model"], "data": data,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def _message(self, request: dict[str, Any]) -> tuple[dict[str, Any], str]:
        scripted = reply(request)
        if scripted.get("judge"):
            scripted = {"content": self.server.next_verdict(self.headers.get("tracestate") or "")}
        if "tool_calls" in scripted:
            calls = [{"id": f"chatcmpl-tool-{secrets.token_hex(16)}", "type": "function",
                      "function": {"name": name, "arguments": json.dumps(arguments)}}
                     for name, arguments in scripted["tool_calls"]]
            return {"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"
        return {"role": "assistant", "content": scripted["content"], "tool_calls": []}, "stop"

    def _usage(self, request: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
        prompt = sum(_tokens(_text(m.get("content"))) for m in request.get("messages") or [])
        completion = _tokens(message.get("content") or json.dumps(message.get("tool_calls")))
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _complete(self, request: dict[str, Any]) -> None:
        started = time.monotonic()
        message, reason = self._message(request)
        usage = self._usage(request, message)
        self._send(200, {"id": f"chatcmpl-{secrets.token_hex(16)}", "object": "chat.completion",
                         "created": int(time.time()), "model": request["model"],
                         "choices": [{"index": 0, "message": message, "finish_reason": reason, "logprobs": None}],
                         "usage": usage})
        self.server.count(request["model"], reason, usage, time.monotonic() - started)

    def _stream(self, request: dict[str, Any]) -> None:
        started = time.monotonic()
        message, reason = self._message(request)
        usage = self._usage(request, message)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in self._chunks(request, message, reason, usage):
            self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")
        self.server.count(request["model"], reason, usage, time.monotonic() - started)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _chunks(self, request: dict[str, Any], message: dict[str, Any], reason: str,
                usage: dict[str, int]) -> Iterator[dict[str, Any]]:
        base = {"id": f"chatcmpl-{secrets.token_hex(16)}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": request["model"]}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        yield chunk({"role": "assistant", "content": ""})
        if message["tool_calls"]:
            for index, call in enumerate(message["tool_calls"]):
                yield chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                             "function": {"name": call["function"]["name"], "arguments": ""}}]})
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": call["function"]["arguments"]}}]})
        else:
            for word in re.findall(r"\S+\s*", message["content"]):
                yield chunk({"content": word})
        yield chunk({}, reason)
        if (request.get("stream_options") or {}).get("include_usage"):
            yield {**base, "choices": [], "usage": usage}


class FakeVllm(LoopbackServer):
    def __init__(self, served: Served, api_key: str = ""):
        super().__init__(_Handler)
        self.served = served
        self.api_key = api_key
        self.counters = Counters()
        self.judged = 0
        # The W3C trace state each judge request carried: the tag that keeps its spans from being judged.
        self.judge_trace_states: list[str] = []

    def next_verdict(self, trace_state: str) -> str:
        with self.counters.lock:
            self.judged += 1
            self.judge_trace_states.append(trace_state)
            return JUDGE_VERDICTS[(self.judged - 1) % len(JUDGE_VERDICTS)]

    def count(self, model: str, reason: str, usage: dict[str, int], seconds: float) -> None:
        with self.counters.lock:
            finished = "stop" if reason in ("stop", "tool_calls") else reason
            self.counters.requests[(model, finished)] += 1
            self.counters.prompt_tokens[model] += usage["prompt_tokens"]
            self.counters.generation_tokens[model] += usage["completion_tokens"]
            self.counters.latency_sum[model] += seconds

    def exposition(self) -> str:
        """vLLM's counters for what was served, in prometheus_client's text format."""
        lines = []
        with self.counters.lock:
            for (model, reason), count in sorted(self.counters.requests.items()):
                lines.append(f'vllm:request_success_total{{engine="0",finished_reason="{reason}",'
                             f'model_name="{model}"}} {float(count)}')
            for name, counter in (("vllm:prompt_tokens_total", self.counters.prompt_tokens),
                                  ("vllm:generation_tokens_total", self.counters.generation_tokens)):
                lines += [f'{name}{{engine="0",model_name="{model}"}} {float(v)}' for model, v in sorted(counter.items())]
            for model in sorted(self.counters.latency_sum):
                count = sum(c for (m, _), c in self.counters.requests.items() if m == model)
                labels = f'engine="0",model_name="{model}"'
                lines.append(f'vllm:e2e_request_latency_seconds_bucket{{{labels},le="+Inf"}} {float(count)}')
                lines.append(f"vllm:e2e_request_latency_seconds_count{{{labels}}} {float(count)}")
                lines.append(f"vllm:e2e_request_latency_seconds_sum{{{labels}}} {self.counters.latency_sum[model]}")
        return "\n".join(lines) + "\n"
