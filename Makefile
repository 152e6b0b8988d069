# Everyday actions.  Each target sets itself up: a virtualenv at .venv, then an editable install.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench validate clean template local-deploy cost

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,deploy]'
	touch $(STAMP)

demo: $(STAMP)   ## the HTC pilot channel on the bundled sample, real state machine, embedded local AWS
	$(VENV)/bin/de demo

test: $(STAMP)   ## the whole test suite
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check layers tools bridge functions tests
	$(VENV)/bin/ruff format --check layers tools bridge functions tests
	$(VENV)/bin/mypy

bench: $(STAMP)  ## benchmarks that print the figures issues ask for
	$(VENV)/bin/de bench datablock
	$(VENV)/bin/de bench cycle channels/example.jsonnet

template: $(STAMP)  ## regenerate template.yaml from the channel configs (a test fails when it is stale)
	$(VENV)/bin/de deploy generate --list infra/deployed-channels.txt

local-deploy: $(STAMP)  ## sam build + sam deploy into MiniStack, then a scheduled cycle of the example channel
	$(VENV)/bin/de deploy local --channel channels/example.jsonnet

cost: $(STAMP)  ## modelled monthly AWS cost per channel at one cycle a minute
	$(VENV)/bin/de cost channels/example.jsonnet

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
