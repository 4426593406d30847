# Fresh clone: `make run` starts the receiver, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Real peer servers that the `peers`-marked tests start once per run. What needs no
# root is installed here, under .peers/; the system packages (SYSTEM_PACKAGES) come
# from .ci/run, and a test that misses one fails with the command that installs it.
PEERS            := .peers
SYSTEM_PACKAGES  := chromium redis-server
# The OpenAPI spec Prism serves must be the one of the client we pin (pyproject.toml).
DATADOG_CLIENT   := 2.62.0
PRISM            := 5.16.0
# A real SkyPilot API server for the conformance test, in its own venv (never a
# runtime dependency of orgpulse: docs/sources/skypilot.md).
SKYPILOT         := 0.14.1

.PHONY: setup run demo test test-core fuzz peers system-packages bench clean constraints docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/orgpulse serve

# Everything against the local fakes (tests/demo/): prints the status page's URL; Ctrl-C
# stops it. DEMO_ARGS: --port, --interval, --pace, --data-dir (see `python -m tests.demo -h`).
demo: $(STAMP)
	$(BIN)/python -m tests.demo $(DEMO_ARGS)

$(PEERS)/prism/.installed:
	npm install --silent --no-audit --no-fund --prefix $(PEERS)/prism @stoplight/prism-cli@$(PRISM)
	touch $@

$(PEERS)/datadog-spec/.installed:
	rm -rf $(PEERS)/datadog-spec && mkdir -p $(PEERS)/datadog-spec
	$(PYTHON) -m pip download --quiet --no-binary :all: --no-deps \
	    datadog-api-client==$(DATADOG_CLIENT) -d $(PEERS)/datadog-spec
	tar -xzf $(PEERS)/datadog-spec/datadog_api_client-$(DATADOG_CLIENT).tar.gz -C $(PEERS)/datadog-spec \
	    --strip-components=1 datadog_api_client-$(DATADOG_CLIENT)/.generator/schemas \
	    datadog_api_client-$(DATADOG_CLIENT)/LICENSE
	touch $@

$(PEERS)/skypilot/.installed:
	$(PYTHON) -m venv $(PEERS)/skypilot
	$(PEERS)/skypilot/bin/python -m pip install --quiet skypilot==$(SKYPILOT)
	touch $@

peers: $(PEERS)/prism/.installed $(PEERS)/datadog-spec/.installed $(PEERS)/skypilot/.installed

# Debian's packages for the peers that need root (CI runs as root: .ci/run).
system-packages:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES)

# On every core (at most 4): pytest-xdist, groups as tests/conftest.py sets them.
PARALLEL := -n auto --maxprocesses=4 --dist loadgroup

test: $(STAMP) peers
	$(BIN)/python -m pytest -q $(PARALLEL)

# The core suite alone (units and in-process fakes): under a minute.
test-core: $(STAMP)
	$(BIN)/python -m pytest -q -m "not peers" $(PARALLEL)

# The receiver's fuzz suite at length (tests/test_fuzz.py; make test runs 1,000 per source).
fuzz: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_fuzz.py --hypothesis-profile=fuzz

# The documentation site (docs/, mkdocs.yml) into site/: first the pages generated from the code
# (docs/generate.py), then a strict build, where a broken link or anchor is an error. make test
# checks the same through tests/docs/ (and fails on a generated page left stale).
docs: $(STAMP)
	$(BIN)/python docs/generate.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python bench/handlers.py
	$(BIN)/python bench/receiver.py
	$(BIN)/python bench/informer.py
	$(BIN)/python bench/poller_api_cost.py
	$(BIN)/python bench/dora_api_cost.py
	$(BIN)/python bench/footprint.py

# The image's pinned versions (Dockerfile: --constraint constraints.txt), from a fresh venv
# with the runtime dependencies only; run with the image's Python minor version (3.11).
constraints:
	rm -rf $(PEERS)/constraints && $(PYTHON) -m venv $(PEERS)/constraints
	$(PEERS)/constraints/bin/python -m pip install --quiet .
	{ sed -n '/^#/p' constraints.txt; $(PEERS)/constraints/bin/python -m pip freeze --exclude orgpulse; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(PEERS)/constraints build

clean:
	rm -rf $(VENV) $(PEERS) .orgpulse .pytest_cache site
