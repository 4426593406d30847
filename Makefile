# Fresh clone: `make run` starts the receiver, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/orgpulse serve

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/handlers.py
	$(BIN)/python bench/receiver.py
	$(BIN)/python bench/informer.py
	$(BIN)/python bench/poller_api_cost.py

clean:
	rm -rf $(VENV) .orgpulse .pytest_cache
