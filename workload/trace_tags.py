"""The tag the stack's own traffic carries in its W3C ``tracestate``, so the judge sampler never scores it.

Every request the workload or a judge sends carries ``tracestate: llmobs=<tag>`` with its
``traceparent``; Llama Stack and vLLM keep a caller's trace state on every span they make under it, so
each of those spans is exported with the tag. The collector's filter in front of the judge sampler
(components/otel_collector.py) drops the spans that carry it. Plain constants: the Pulumi program reads
them too.
"""

KEY = "llmobs"
# The workload's sessions: it scores its own answers (known answers, its own judge share).
WORKLOAD = "workload"
# A judge's own model calls, from the workload or the sampler: never an answer to score, never app traffic.
JUDGE = "judge"
# An app names itself with ``tracestate: llmobs=app.<name>``: its answers are judged under that name, not
# under the service that made the span (Llama Stack, for every app that calls through it).
APP_PREFIX = "app."
