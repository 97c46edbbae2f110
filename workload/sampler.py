"""python -m workload.sampler: the LLM judge for every application's answers, read from their traces.

The collector's traces pipeline has a branch to this process (components/otel_collector.py). Its filter
passes only GenAI chat spans that carry message content: the ``chat <model>`` spans Llama Stack 0.7.3
makes for each model call, with ``gen_ai.input.messages`` and ``gen_ai.output.messages`` when
traceContent is on. It drops the stack's own traffic, tagged in the trace state (workload/trace_tags.py):
the workload scores its own answers, and a judge's calls are never answers. Here:

- OTLP/HTTP protobuf at ``/v1/traces`` (gzip or not), as the collector's ``otlp_http`` exporter sends it;
- ``JUDGE_SAMPLE_SHARE`` of the traces, chosen by trace id (its low 64 bits as a fraction of 2^64 below
  the share), so a trace is judged or not whichever of its spans arrives;
- the question (the last user message), the retrieved context (tool results after it) and the answer
  (the assistant's text) read from the span; a span without both is a step, not an answer;
- the judge (workload/judge.py) scores it. The workload judge's metrics are emitted with an ``app`` label
  (the name the app gave in its trace state, ``llmobs=app.<name>``, else the span's ``service.name``;
  labels hold names, never text), and so is a ``judge answer`` span linked to
  the scored span, which carries the scores and the judged trace id.

Settings come from the environment (the judge-sampler Deployment sets them): JUDGE_SAMPLE_SHARE,
JUDGE_URL, JUDGE_MODEL, JUDGE_API_KEY, SAMPLER_HOST, SAMPLER_PORT, and the OTEL_* variables of the SDK.
"""

from __future__ import annotations

import gzip
import json
import os
import queue
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry import propagate
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

from workload import judge as judging
from workload import trace_tags
from workload.quality import JudgeSignals
from workload.tracing import Telemetry

SERVICE = "judge-sampler"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
REQUEST_MODEL = "gen_ai.request.model"
# Answers waiting for the judge; beyond this the answer is counted as an ``error`` verdict, not queued.
QUEUE_SIZE = 1000
# A label value: a service or model name, never free text.
_NAME = re.compile(r"[A-Za-z0-9][\w.\-:/]{0,127}")
UNNAMED = "unknown"


def label(value: Any) -> str:
    return value if isinstance(value, str) and _NAME.fullmatch(value) else UNNAMED


def app_of(resource: dict[str, Any], trace_state: str) -> str:
    """The app an answer belongs to: the name it gave in its trace state (trace_tags.APP_PREFIX), else the
    service whose span held the answer."""
    for member in trace_state.split(","):
        key, _, value = member.strip().partition("=")
        if key == trace_tags.KEY and value.startswith(trace_tags.APP_PREFIX):
            return label(value.removeprefix(trace_tags.APP_PREFIX))
    return label(resource.get("service.name"))


def sampled(trace_id: bytes, share: float) -> bool:
    """The trace's low 64 bits as a fraction of 2^64, below the share."""
    return share > 0 and int.from_bytes(trace_id[-8:], "big") < share * 2**64


@dataclass(frozen=True)
class TracedAnswer:
    """One answer read from a chat span, and where it came from."""

    app: str
    model: str
    trace_id: bytes
    span_id: bytes
    question: str
    context: tuple[str, ...]
    answer: str


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("string_value", "int_value", "bool_value", "double_value") else None


def _messages(text: Any) -> list[dict[str, Any]]:
    try:
        messages = json.loads(text) if isinstance(text, str) else []
    except json.JSONDecodeError:
        return []
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _texts(message: dict[str, Any], part_type: str, key: str) -> list[str]:
    parts = message.get("parts") if isinstance(message.get("parts"), list) else []
    found = [part.get(key) for part in parts if isinstance(part, dict) and part.get("type") == part_type]
    return [item if isinstance(item, str) else json.dumps(item) for item in found if item not in (None, "")]


def read_answer(resource: dict[str, Any], span: Any) -> TracedAnswer | None:
    """The question, context and answer of a GenAI chat span (semantic conventions' message JSON), or None
    when it holds no question or no text answer (a tool-calling step)."""
    attributes = {pair.key: _value(pair.value) for pair in span.attributes}
    inputs = _messages(attributes.get(INPUT_MESSAGES))
    users = [i for i, message in enumerate(inputs) if message.get("role") == "user"]
    if not users:
        return None
    question = "\n".join(_texts(inputs[users[-1]], "text", "content")).strip()
    context = tuple(text for message in inputs[users[-1] + 1:]
                    for text in _texts(message, "tool_call_response", "response"))
    answer = "\n".join(text for message in _messages(attributes.get(OUTPUT_MESSAGES))
                       if message.get("role") == "assistant" for text in _texts(message, "text", "content")).strip()
    if not question or not answer:
        return None
    return TracedAnswer(app=app_of(resource, span.trace_state), model=label(attributes.get(REQUEST_MODEL)),
                        trace_id=bytes(span.trace_id), span_id=bytes(span.span_id), question=question,
                        context=context, answer=answer)


def answers_in(request: ExportTraceServiceRequest, share: float) -> list[TracedAnswer]:
    """The answers of the request's spans in sampled traces."""
    found = []
    for resource_spans in request.resource_spans:
        resource = {pair.key: _value(pair.value) for pair in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if sampled(span.trace_id, share) and (answer := read_answer(resource, span)):
                    found.append(answer)
    return found


class AnswerJudge:
    """Judges traced answers one at a time and emits what the workload's judge emits, per app."""

    def __init__(self, judge: judging.Judge, telemetry: Telemetry, log):
        self.judge = judge
        self.telemetry = telemetry
        self.log = log
        self.signals = JudgeSignals(telemetry.meter, judge.model)
        self.seen: set[tuple[str, str]] = set()
        self.telemetry.meter_provider.force_flush()

    def _labels(self, answer: TracedAnswer) -> dict[str, str]:
        labels = {"app": answer.app, "model": answer.model}
        if (answer.app, answer.model) not in self.seen:
            self.seen.add((answer.app, answer.model))
            self.signals.start(labels)
        return labels

    def count_unjudged(self, answer: TracedAnswer, why: str) -> None:
        self.signals.verdicts.add(1, {**self._labels(answer), "judge": self.judge.model, "outcome": "error"})
        self.log(f"{answer.app}: answer in trace {answer.trace_id.hex()} not judged ({why})")

    def score(self, answer: TracedAnswer) -> None:
        labels = self._labels(answer)
        judged = SpanContext(int.from_bytes(answer.trace_id, "big"), int.from_bytes(answer.span_id, "big"),
                             is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        attributes = {"llm.quality.app": answer.app, "gen_ai.request.model": answer.model,
                      "llm.quality.judge.prompt": judging.PROMPT_VERSION,
                      "llm.quality.judged.trace_id": answer.trace_id.hex(),
                      "llm.quality.judged.span_id": answer.span_id.hex()}
        with self.telemetry.tracer.start_as_current_span("judge answer", kind=SpanKind.INTERNAL, attributes=attributes,
                                                         links=[Link(judged)]) as span:
            headers: dict[str, str] = {}
            propagate.inject(headers)
            verdict = self.judge.judge(answer.question, list(answer.context), answer.answer, headers)
            self.signals.record(verdict, labels, span)
        self.log(f"{answer.app}: trace {answer.trace_id.hex()} {verdict.outcome} {verdict.scores or verdict.detail}")


class Sampler(ThreadingHTTPServer):
    """The OTLP/HTTP receiver; a worker thread judges what it queues."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], share: float, answer_judge: AnswerJudge):
        super().__init__(address, _Handler)
        self.share = share
        self.answer_judge = answer_judge
        self.pending: queue.Queue[TracedAnswer | None] = queue.Queue(QUEUE_SIZE)
        self.worker = threading.Thread(target=self._work, name="judge", daemon=True)
        self.worker.start()

    def offer(self, answer: TracedAnswer) -> None:
        try:
            self.pending.put_nowait(answer)
        except queue.Full:
            self.answer_judge.count_unjudged(answer, f"{QUEUE_SIZE} answers already wait for the judge")

    def _work(self) -> None:
        while (answer := self.pending.get()) is not None:
            try:
                self.answer_judge.score(answer)
            finally:
                self.pending.task_done()

    def drain(self) -> None:
        """Judges what is queued, then stops the worker."""
        self.pending.put(None)
        self.worker.join()


class _Handler(BaseHTTPRequestHandler):
    server: Sampler

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/health":
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b"", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/traces":
            self._send(404, b"", "text/plain")
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-protobuf":
            self._send(415, b"OTLP/HTTP protobuf only", "text/plain")
            return
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body)
        except Exception:  # noqa: BLE001 (a bad body is the sender's error: 400, as OTLP says)
            self._send(400, b"not an ExportTraceServiceRequest", "text/plain")
            return
        for answer in answers_in(request, self.server.share):
            self.server.offer(answer)
        self._send(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def main() -> int:
    share = float(os.environ.get("JUDGE_SAMPLE_SHARE") or "0")
    url, model = os.environ.get("JUDGE_URL", ""), os.environ.get("JUDGE_MODEL", "")
    if not 0 < share <= 1 or not url or not model:
        print("judge-sampler: JUDGE_SAMPLE_SHARE (above 0, at most 1), JUDGE_URL and JUDGE_MODEL are needed",
              file=sys.stderr)
        return 2
    telemetry = Telemetry(log, service_name=SERVICE, tag=trace_tags.JUDGE)
    judge = judging.Judge(url, model, api_key=os.environ.get("JUDGE_API_KEY", ""))
    address = (os.environ.get("SAMPLER_HOST") or "0.0.0.0", int(os.environ.get("SAMPLER_PORT") or "4318"))
    server = Sampler(address, share, AnswerJudge(judge, telemetry, log))
    # The kubelet stops the pod with SIGTERM: finish the queue and send the last metrics and spans.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log(f"judge-sampler: {judge.model} at {judge.base_url} scores {share:g} of the traced answers; "
        f"OTLP/HTTP on {address[0]}:{address[1]}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        server.drain()
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
