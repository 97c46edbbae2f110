"""What answer-quality checking costs in extra model calls: the real Llama Stack 0.7.3 and the real
workload (tests/real_stack.py: from the declared resources, against the fake vLLM), run with the
stack's default quality settings and with them off, counting the chat completions the model servers get
while the workload runs. The judge sampler's calls for other apps' answers are counted apart: one judge
call per sampled answer (tests/real_stack.py's other app sends OTHER_APP_CALLS, of which
JUDGED_OTHER_APP_CALLS fall in the sample by their trace ids), so judgeSampleShare of those apps' answers.

    python benchmarks/quality_calls.py [--runs 3]

Needs .venv-llama-stack (`make .venv-llama-stack/.installed`). The dev stack's defaults: knownAnswerShare
0.5, judgeSampleShare 0.2 (traceContent on). Known-answer sessions start at a random question, so the
counts are averaged over --runs runs. One run of the workload is one Job; with workloadSchedule
"0 * * * *" that is one run an hour, so the per-run figure is also the per-hour one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.config import raw_from_files  # noqa: E402
from tests import real_stack  # noqa: E402

OFF = {"knownAnswerShare": "0", "judgeSampleShare": "0"}


def model_calls(overrides: dict) -> tuple[int, int, int]:
    """(chat completions the model servers served during the workload, of which the judge's; the judge
    sampler's calls for the other app's answers) in one run."""
    with tempfile.TemporaryDirectory(prefix="quality-calls-") as root:
        for run in real_stack.run(Path(root), overrides):
            if run.workload_exit != 0:
                raise SystemExit(f"the workload failed:\n{run.workload_output[-3000:]}")
            return run.workload_model_calls, run.workload_judged, run.model_server.judged - run.workload_judged
    raise AssertionError("real_stack.run yielded nothing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = {key: value for key, value in real_stack.OVERRIDES.items() if key not in OFF}
    defaults = raw_from_files("dev")
    print(f"dev defaults: knownAnswerShare {defaults['knownAnswerShare']}, judgeSampleShare "
          f"{defaults['judgeSampleShare']}, traceContent {defaults['traceContent']}")
    off = [model_calls({**base, **OFF}) for _ in range(args.runs)]
    on = [model_calls(base) for _ in range(args.runs)]
    calls_off = statistics.mean(calls for calls, _, _ in off)
    calls_on = statistics.mean(calls for calls, _, _ in on)
    judged = statistics.mean(judged for _, judged, _ in on)
    sampled = statistics.mean(sampler for _, _, sampler in on)
    print(f"model calls per run, quality off: {calls_off:.1f} (runs: {[c for c, _, _ in off]})")
    print(f"model calls per run, defaults:    {calls_on:.1f} (runs: {[c for c, _, _ in on]})")
    print(f"extra per run (= per hour at one run an hour): {calls_on - calls_off:.1f}, "
          f"of which the judge: {judged:.1f}, known-answer sessions: {calls_on - calls_off - judged:.1f}")
    print(f"judge sampler: {sampled:.1f} judge calls for {real_stack.JUDGED_OTHER_APP_CALLS} sampled of "
          f"{len(real_stack.OTHER_APP_CALLS)} other-app answers (none with quality off: "
          f"{[s for _, _, s in off]})")


if __name__ == "__main__":
    main()
