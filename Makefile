# The README's commands. `make deploy` and `make test` are the two set-up commands.
STACK ?= dev
VENV ?= .venv
# The real Llama Stack server for the container tests (tests/test_containers.py): its pins clash with ours.
LLAMA_STACK_VENV ?= .venv-llama-stack
PYTHON ?= $(shell scripts/find-python.sh)

.PHONY: test deploy preview destroy start tunnel workload render lint

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

$(LLAMA_STACK_VENV)/.installed: requirements-llama-stack.txt
	$(PYTHON) -m venv $(LLAMA_STACK_VENV)
	$(LLAMA_STACK_VENV)/bin/pip install --quiet --upgrade pip
	$(LLAMA_STACK_VENV)/bin/pip install --quiet -r requirements-llama-stack.txt
	touch $@

test: $(VENV)/.installed $(LLAMA_STACK_VENV)/.installed
	$(VENV)/bin/python -m pytest

deploy: $(VENV)/.installed
	scripts/deploy.sh $(STACK)

# What `deploy` would change, with the policy pack applied (CI runs this on every pull request).
preview: $(VENV)/.installed
	scripts/preview.sh $(STACK)

# Everything of the stack, gone; asks for the stack name again first.
destroy:
	scripts/destroy.sh $(STACK)

# A host stopped by the idle guard (or by you) comes back, with MiniKube.
start:
	scripts/start-host.sh $(STACK)

# Grafana, Prometheus, Alertmanager and Tempo on localhost through kubectl port-forward (all ClusterIP).
tunnel:
	scripts/tunnel.sh $(STACK)

workload:
	scripts/run-workload.sh $(STACK)

# Dashboards, rules and alerts rendered to files, for review without a cluster.
render: $(VENV)/.installed
	$(VENV)/bin/python -m dashboards.render --stack $(STACK) --out build/signals

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
