# Fresh clone: `make run` starts the receiver, `make test` runs the suite (and installs what it needs).
PYTHON ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# Two stamps, one venv: `make run` installs orgpulse and its runtime dependencies alone;
# `make test` / `make setup` add pyproject's dev extra (test, lint and docs tools).
RUNTIME := $(VENV)/.runtime
DEV     := $(VENV)/.installed

# Real peer servers that the `peers`-marked tests start once per run. What needs no root is
# installed under .peers/; what comes from Debian is checked first by `make test`
# (system-packages), as `command:package` pairs.
PEERS            := .peers
SYSTEM_NEEDS     := chromium:chromium redis-server:redis-server npm:npm
# The OpenAPI spec Prism serves must be the one of the client we pin (pyproject.toml).
DATADOG_CLIENT   := 2.62.0
PRISM            := 5.16.0
# A real SkyPilot API server for the conformance test, in its own venv (never a
# runtime dependency of orgpulse: docs/sources/skypilot.md).
SKYPILOT         := 0.14.1
# The lowest gunicorn pyproject.toml allows (its `gunicorn>=X,` bound): the receiver's worker
# subclasses gthread's internals, so `make test` runs the worker's tests on it too.
GUNICORN_LOWEST  := $(shell sed -n 's/^ *"gunicorn>=\([^,"]*\)[,"].*/\1/p' pyproject.toml)
LOWEST           := $(VENV)/gunicorn-$(GUNICORN_LOWEST)

# Test files the targets below name.
FUZZ_TESTS   := tests/receiver/test_fuzz.py
# Every test that starts the receiver under a real gunicorn (its worker, `orgpulse serve`).
WORKER_TESTS := tests/receiver/test_server_protocol.py tests/e2e/test_receiver_and_cli.py

.PHONY: setup run demo test test-core test-gunicorn-lowest lint fuzz peers system-packages bench \
        clean constraints docs

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(DEV)

run: $(RUNTIME)
	$(BIN)/orgpulse serve

# Everything against the local fakes (tests/demo/): prints the status page's URL; Ctrl-C
# stops it. DEMO_ARGS: --port, --interval, --pace, --data-dir (see `python -m tests.demo -h`).
demo: $(DEV)
	$(BIN)/python -m tests.demo $(DEMO_ARGS)

# Debian's packages for the peers (Chromium, redis-server, npm for Prism), installed when a
# command is missing: as root directly (CI), else through `sudo -n` when it needs no password;
# otherwise stop at once with the one command to run.
system-packages:
	@missing=$$(for need in $(SYSTEM_NEEDS); do \
	    command -v "$${need%%:*}" >/dev/null 2>&1 || printf '%s ' "$${need#*:}"; done); \
	[ -n "$$missing" ] || exit 0; \
	install="apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing"; \
	if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages: $$missing"; sh -c "$$install"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    echo "installing Debian packages (sudo): $$missing"; sudo -n sh -c "$$install"; \
	else echo "make test needs these Debian packages: $$missing" >&2; \
	    echo "run: sudo make system-packages   (then make test again)" >&2; exit 1; fi

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

# The dev venv with gunicorn swapped for the lowest allowed: a venv holding only that gunicorn
# and orgpulse (editable, for its `orgpulse` command), which reads everything else from .venv's
# site-packages (a .pth line); its own site-packages comes first, so its gunicorn wins. It lives
# inside .venv because it is a view of it (rebuilt with it, removed with it).
$(LOWEST)/.installed: $(DEV)
	rm -rf $(LOWEST) && $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --no-deps gunicorn==$(GUNICORN_LOWEST) -e .
	purelib='import sysconfig; print(sysconfig.get_path("purelib"))'; \
	    echo "import site; site.addsitedir('$$($(BIN)/python -c "$$purelib")')" \
	    > "$$($(LOWEST)/bin/python -c "$$purelib")/orgpulse-dev-venv.pth"
	touch $@

peers: $(PEERS)/prism/.installed $(PEERS)/datadog-spec/.installed $(PEERS)/skypilot/.installed

# ruff (lint and format), mypy, import contracts: every check runs, then the first failure fails.
lint: $(DEV)
	@status=0; for check in "ruff check --output-format=concise ." "ruff format --check --output-format=concise ." mypy lint-imports; do \
	    echo "== $$check"; $(BIN)/$$check || status=1; done; exit $$status

# On every core (at most 4): pytest-xdist, groups as tests/conftest.py sets them.
PARALLEL := -n auto --maxprocesses=4 --dist loadgroup

# System packages first: a machine that lacks one stops here within seconds. Then lint: a
# finding fails the run before any test.
test: system-packages $(DEV) peers
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-gunicorn-lowest
	$(BIN)/python -m pytest -q $(PARALLEL)

# The receiver under the lowest gunicorn pyproject.toml allows (the main suite runs the newest).
test-gunicorn-lowest: $(LOWEST)/.installed
	$(LOWEST)/bin/python -c "import gunicorn, sys; print('gunicorn', gunicorn.__version__, 'from', gunicorn.__file__); \
	    sys.exit(gunicorn.__version__ != '$(GUNICORN_LOWEST)')"
	$(LOWEST)/bin/python -m pytest -q $(PARALLEL) $(WORKER_TESTS)

# The core suite alone (units and in-process fakes): under a minute.
test-core: $(DEV)
	$(BIN)/python -m pytest -q -m "not peers" $(PARALLEL)

# The receiver's fuzz suite at length (make test runs 1,000 per source).
fuzz: $(DEV)
	$(BIN)/python -m pytest -q $(FUZZ_TESTS) --hypothesis-profile=fuzz

# The documentation site (docs/, mkdocs.yml) into site/: first the pages generated from the code
# (docs/generate.py), then a strict build, where a broken link or anchor is an error. make test
# checks the same through tests/docs/ (and fails on a generated page left stale).
docs: $(DEV)
	$(BIN)/python docs/generate.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(DEV)
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
	rm -rf $(VENV) $(PEERS) .orgpulse .pytest_cache .mypy_cache .ruff_cache site
