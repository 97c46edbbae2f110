"""A fake Llama Stack + OpenAI-compatible server on loopback, for testing the workload over real HTTP.

It speaks just enough of both APIs (health, files, vector stores, responses with function calls and
file search, the safety shield, streaming chat completions) for the workload's requests, records what it
received (OTLP/HTTP spans and metrics too, as a collector would), and can be told to misbehave (a tool
call the tool cannot do, a failing file search). The real server is tests/real_stack.py's.

Like the real servers it knows one model, under two names: vLLM serves it as SERVED_MODEL and answers 404
to any other name; Llama Stack 0.7 registers it as ``<provider_id>/<provider_model_id>`` (STACK_MODEL) and
answers 404 to anything else, the bare served name included.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.loopback import LoopbackServer
from tests.otlp_receiver import Capture

SERVED_MODEL = "test-model"
# core/routing_tables/models.py (llama-stack 0.7.3): identifier = f"{provider_id}/{provider_model_id}",
# with the provider id the program's run config gives vLLM.
STACK_MODEL = f"vllm/{SERVED_MODEL}"


@dataclass
class Behaviour:
    # The model asks the calculator for a division by zero.
    bad_tool_call: bool = False
    # File search fails inside Llama Stack: the response comes back with status "failed".
    failing_file_search: bool = False
    # The files API is broken (HTTP 500 on upload).
    failing_upload: bool = False
    # Scripted answers to questions asked with file_search: question -> (answer, document file search returns).
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)
    # What the judge (a non-streaming chat completion) replies, in turn.
    judge_replies: tuple[str, ...] = ('{"relevance": 5, "faithfulness": 4, "harmlessness": 5}',)


@dataclass
class Recorded:
    paths: list[str] = field(default_factory=list)
    # (method and path, Authorization header or "") of every request.
    authorizations: list[tuple[str, str]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    store_polls: int = 0
    chat_completions: int = 0
    chat_models: list[str] = field(default_factory=list)
    judge_requests: list[dict[str, Any]] = field(default_factory=list)
    traceparents: list[str] = field(default_factory=list)
    # What the shield was asked to check, in order.
    shielded: list[str] = field(default_factory=list)
    telemetry: Capture = field(default_factory=Capture)


def _usage() -> dict[str, Any]:
    return {
        "input_tokens": 40,
        "output_tokens": 12,
        "total_tokens": 52,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


def _vllm_model_not_found(model: str) -> dict[str, Any]:
    """vLLM 0.33's answer to an unknown model (entrypoints/serve/engine/serving.py, _check_model)."""
    return {"error": {"message": f"The model `{model}` does not exist. Valid aliases: {SERVED_MODEL}.",
                      "type": "NotFoundError", "param": "model", "code": 404}}


def _stack_model_not_found(model: str) -> dict[str, Any]:
    """Llama Stack 0.7.3's ModelNotFoundError through its exception handler (an OpenAI error body)."""
    return {"error": {"message": f"Model '{model}' not found. Use 'client.models.list()' to list available Models."}}


def _message(text: str, cites: str = "") -> dict[str, Any]:
    annotations = [{"type": "file_citation", "file_id": "file-1", "filename": cites, "index": len(text)}] if cites else []
    part = {"type": "output_text", "text": text, "annotations": annotations}
    return {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed", "content": [part]}


class _Handler(BaseHTTPRequestHandler):
    server: "FakeServer"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802
        self.server.recorded.paths.append(f"GET {self.path}")
        self.server.recorded.authorizations.append((f"GET {self.path}", self.headers.get("Authorization") or ""))
        if self.path == "/v1/health":
            self._send(200, {"status": "OK"})
        elif self.path == "/v1/vector_stores/vs_1":
            self.server.recorded.store_polls += 1
            self._send(200, self.server.vector_store(indexing=False))
        elif self.path == "/v1/shields":
            self._send(200, {"data": [{"identifier": "llama-guard", "provider_id": "llama-guard", "type": "shield"}]})
        elif self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": SERVED_MODEL, "object": "model"}]})
        else:
            self._send(404, {"detail": f"no route {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        self.server.recorded.paths.append(f"POST {self.path}")
        self.server.recorded.authorizations.append((f"POST {self.path}", self.headers.get("Authorization") or ""))
        body = self._body()
        now = int(time.time())
        if self.path == "/v1/files" and self.server.behaviour.failing_upload:
            self._send(500, {"detail": "files provider unavailable"})
        elif self.path == "/v1/files":
            self.server.recorded.files += 1
            number = self.server.recorded.files
            uploaded = re.search(rb'filename="([^"]+)"', body)
            self.server.uploaded[f"file-{number}"] = uploaded.group(1).decode() if uploaded else f"doc-{number}.md"
            self._send(200, {"id": f"file-{number}", "object": "file", "bytes": len(body), "created_at": now,
                             "filename": f"doc-{number}.md", "purpose": "assistants"})
        elif self.path == "/v1/vector_stores":
            request = json.loads(body)
            self.server.store_files = len(request.get("file_ids") or [])
            self._send(200, self.server.vector_store(indexing=True))
        elif self.path in ("/v1/traces", "/v1/metrics"):  # the OTLP/HTTP receiver of a collector
            self._otlp(body)
        elif self.path == "/v1/safety/run-shield":
            self.server.recorded.traceparents.append(self.headers.get("traceparent", ""))
            messages = json.loads(body)["messages"]
            self.server.recorded.shielded.extend(message["content"] for message in messages)
            self._send(200, {"violation": self.server.shield(messages)})
        elif self.path == "/v1/responses":
            self.server.recorded.traceparents.append(self.headers.get("traceparent", ""))
            request = json.loads(body)
            self.server.recorded.responses.append(request)
            if request.get("model") != STACK_MODEL:
                self._send(404, _stack_model_not_found(request.get("model")))
            else:
                self._send(200, self.server.respond(request))
        elif self.path == "/v1/chat/completions" and json.loads(body).get("stream") is False:
            self._judge(json.loads(body))
        elif self.path == "/v1/chat/completions":
            self.server.recorded.chat_completions += 1
            request = json.loads(body)
            self.server.recorded.chat_models.append(request.get("model"))
            # vLLM accepts a request without a model (its only one), and no other name.
            if request.get("model") not in (None, "", SERVED_MODEL):
                self._send(404, _vllm_model_not_found(request["model"]))
            else:
                self._stream_chat(request)
        else:
            self._send(404, {"detail": f"no route {self.path}"})

    def _judge(self, request: dict[str, Any]) -> None:
        self.server.recorded.judge_requests.append({**request, "traceparent": self.headers.get("traceparent", "")})
        self._send(200, {"id": "j1", "object": "chat.completion", "model": request["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": next(self.server.judge_replies)}}],
                         "usage": {"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320}})

    def _otlp(self, body: bytes) -> None:
        capture = self.server.recorded.telemetry
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            capture.add_traces(request)
        else:
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            capture.add_metrics(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _stream_chat(self, request: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        tokens = int(request.get("max_tokens") or 4)
        for index in range(tokens):
            chunk = {"id": "c1", "object": "chat.completion.chunk", "model": request["model"],
                     "choices": [{"index": 0, "delta": {"content": f"t{index} "}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        usage = {"id": "c1", "object": "chat.completion.chunk", "model": request["model"], "choices": [],
                 "usage": {"prompt_tokens": 100, "completion_tokens": tokens, "total_tokens": 100 + tokens}}
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())


class FakeServer(LoopbackServer):
    def __init__(self, behaviour: Behaviour | None = None):
        super().__init__(_Handler)
        self.behaviour = behaviour or Behaviour()
        self.recorded = Recorded()
        self._ids = 0
        self.store_files = 0
        self.uploaded: dict[str, str] = {}  # file id -> uploaded file name
        self.judge_replies = itertools.cycle(self.behaviour.judge_replies)

    def vector_store(self, indexing: bool) -> dict[str, Any]:
        """Like Llama Stack: files are still being indexed when the create call returns."""
        count = self.store_files
        return {"id": "vs_1", "object": "vector_store", "created_at": int(time.time()), "name": "docs",
                "status": "in_progress" if indexing else "completed", "usage_bytes": 0, "metadata": {},
                "file_counts": {"cancelled": 0, "completed": 0 if indexing else count, "failed": 0,
                                "in_progress": count if indexing else 0, "total": count}}

    def shield(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        """llama-guard's verdict as Llama Stack 0.7.3 returns it: a violation for a request for a weapon."""
        if not any("bomb" in message["content"] for message in messages):
            return None
        return {"violation_level": "error", "user_message": "I can't answer that. Can I help with something else?",
                "metadata": {"violation_type": "S1"}}

    def respond(self, request: dict[str, Any]) -> dict[str, Any]:
        """A scripted model: calls tools when offered, answers from file search."""
        self._ids += 1
        response: dict[str, Any] = {"id": f"resp_{self._ids}", "object": "response", "created_at": int(time.time()),
                                    "model": request["model"], "status": "completed", "store": True,
                                    "usage": _usage(), "output": []}
        tools = {tool["type"] for tool in request.get("tools") or []}
        names = {tool.get("name") for tool in request.get("tools") or []}
        prompt = request["input"]
        if isinstance(prompt, list):  # function results: answer with them
            results = "; ".join(item["output"] for item in prompt)
            response["output"] = [_message(f"Based on the tools: {results}")]
        elif "calculate" in names and "instance_price" in names:
            expression = "1/0" if self.behaviour.bad_tool_call else "4.6016 * 4 * 24 * 30"
            response["output"] = [
                {"type": "function_call", "id": "fc_1", "call_id": f"call_{self._ids}a", "name": "instance_price",
                 "arguments": json.dumps({"instance_type": "g6.12xlarge"}), "status": "completed"},
                {"type": "function_call", "id": "fc_2", "call_id": f"call_{self._ids}b", "name": "calculate",
                 "arguments": json.dumps({"expression": expression}), "status": "completed"},
            ]
        elif "file_search" in tools and prompt in self.behaviour.answers:
            text, document = self.behaviour.answers[prompt]
            file_id = next(i for i, name in self.uploaded.items() if name == document)
            # Llama Stack 0.7.3 reports the file id as the result's filename too (tool_executor.py).
            response["output"] = [
                {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": [prompt],
                 "results": [{"file_id": file_id, "filename": file_id, "score": 0.9, "text": f"From {document}.",
                              "attributes": {}}]},
                _message(text),
            ]
        elif "file_search" in tools:
            if self.behaviour.failing_file_search:
                response["status"] = "failed"
                response["error"] = {"code": "server_error", "message": "vector store query failed: sqlite-vec unavailable"}
            else:
                response["output"] = [
                    {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": [prompt],
                     "results": [{"file_id": "file-1", "filename": "serving-runbook.md", "score": 0.9,
                                  "text": "Look at the queue.", "attributes": {}}]},
                    _message("Check the queue first.", cites="serving-runbook.md"),
                ]
        else:
            response["output"] = [_message("I can answer that without tools.")]
        return response
