#!/usr/bin/env bash
# Runs the workload (python -m workload) from this machine against a deployed stack, through
# port-forwards to the ClusterIP Services of Llama Stack and the model servers.
# Usage: scripts/run-workload.sh STACK [all|agent|load] [workload flags, e.g. --rate 5 --requests 500]
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: $0 STACK [all|agent|load] [workload flags]" >&2
  exit 2
fi
stack="$1"
shift
cd "$(dirname "$0")/.."
# The state `make deploy` wrote: the local file backend unless PULUMI_BACKEND_URL says otherwise.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}"
# WORKLOAD_PYTHON: an interpreter with the workload's requirements, if not the Makefile's virtualenv.
python="${WORKLOAD_PYTHON:-.venv/bin/python}"
namespace=llm

for tool in pulumi kubectl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is needed on PATH" >&2; exit 2; }
done
[ -x "$python" ] || { echo "no $python: run 'make test' once to create the virtualenv" >&2; exit 2; }

workdir="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

umask 077
export KUBECONFIG="$workdir/kubeconfig"
pulumi stack output kubeconfig --show-secrets --stack "$stack" >"$KUBECONFIG"

# `kubectl port-forward` to a local port of kubectl's choosing (in this shell, so cleanup can stop it).
start_forward() {
  kubectl -n "$namespace" port-forward "svc/$1" ":$2" >"$workdir/$1.log" 2>&1 &
  pids+=("$!")
}

# Prints the local port a started forward listens on, once kubectl has said it.
local_port() {
  local log="$workdir/$1.log" port
  for _ in $(seq 1 60); do
    port="$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -n 1)"
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    sleep 0.5
  done
  echo "port-forward to svc/$1 did not start:" >&2
  cat "$log" >&2
  return 1
}

# Models through llm-d's router when the stack has one (router=true), else straight to the servers.
model_service="model-server"
model_service_port=8000
if kubectl -n "$namespace" get service router-epp >/dev/null 2>&1; then
  model_service=router-epp
  model_service_port=8081
fi
start_forward llamastack 8321
start_forward "$model_service" "$model_service_port"
stack_port="$(local_port llamastack)"
model_port="$(local_port "$model_service")"
stack_url="http://127.0.0.1:${stack_port}"
model_url="http://127.0.0.1:${model_port}/v1"

# The model servers' API key, from its Secret into the environment of the workload (which reads
# MODEL_API_KEY, and JUDGE_API_KEY for a judge on the same servers): never on a command line or the terminal.
MODEL_API_KEY="$(kubectl -n "$namespace" get secret vllm-api-key -o 'jsonpath={.data.VLLM_API_KEY}' | base64 -d)"
export MODEL_API_KEY
case " $* " in
  *" --judge-url "* | *" --judge-url="*) ;;
  *) export JUDGE_API_KEY="$MODEL_API_KEY" ;;
esac

# The served model and the registered shield, as the servers report them; the id Llama Stack registered
# the model under, as the program derived it.
stack_model="$(pulumi stack output llamaStackModelId --stack "$stack")"
model="$("$python" -c 'import json,os,sys,urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["MODEL_API_KEY"]})
print(json.load(urllib.request.urlopen(request))["data"][0]["id"])' "$model_url/models")"
shield="$("$python" -c 'import json,sys,urllib.request; d=json.load(urllib.request.urlopen(sys.argv[1]))["data"]; print(d[0]["identifier"] if d else "")' "$stack_url/v1/shields")"

echo "workload: Llama Stack at $stack_url (model $stack_model), model $model at $model_url, shield '${shield:-none}'"
"$python" -m workload "$@" --llama-stack-url "$stack_url" --model-url "$model_url" --model "$model" \
  --stack-model "$stack_model" --shield "$shield"
