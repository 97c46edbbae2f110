# The README's commands. `make deploy` and `make test` are the two set-up commands.
STACK ?= dev
VENV ?= .venv
PYTHON ?= $(shell scripts/find-python.sh)

.PHONY: test deploy signals

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest

deploy:
	scripts/deploy.sh $(STACK)

# Every dashboard JSON and rule file of $(STACK), for review or import elsewhere (see README).
signals: $(VENV)/.installed
	$(VENV)/bin/python -m dashboards.render --stack $(STACK) --out build/signals
