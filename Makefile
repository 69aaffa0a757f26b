# Set-up, demo and tests. Every target installs what it needs, so a fresh clone works.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
BENCH_ARGS ?=
# make demo PORT=8000 PRINTER_PORT=9200: the demo server's port, and its loopback printer's.
PORT ?= 5000
PRINTER_PORT ?= 9100

.PHONY: install browser voice fonts nginx wrk demo serve test test-fast install-check bench bench-national screenshots words lint format clean

# Installing says what it does in a line and prints nothing more unless something goes
# wrong. pip -qq shows errors only: otherwise setuptools' notice about editable installs
# of a top-level (not src/) layout, information and no fault, would look like one.
$(STAMP): setup.cfg pyproject.toml
	@echo "installing novbe and its Python packages into $(VENV)/ (a minute or two)"
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -qq --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -qq --disable-pip-version-check -e '.[test,postgres]'
	@touch $(STAMP)

# Browser packages (the Socket.IO client), pinned by package-lock.json and served by the
# app. npm's output is shown only if it fails.
$(NODE_STAMP): package.json package-lock.json
	@echo "installing the browser packages into node_modules/ (npm ci)"
	@log=$$(mktemp) && npm ci --no-audit --no-fund --loglevel=error >$$log 2>&1 \
		|| { cat $$log; rm -f $$log; exit 1; }; rm -f $$log
	@touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

# Debian's chromium for the browser tests (Playwright drives it; it downloads no browser).
browser:
	@test -x $(CHROMIUM) || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's espeak-ng: the server speaks announcements for displays whose browser
# cannot (hardware/voice.py; voices az, ru, en-us come with it).
voice:
	@command -v espeak-ng >/dev/null || { \
		echo "installing Debian's espeak-ng for the server-side voice"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; }

# Debian's DejaVu Sans: tickets draw text that no printer code page holds (Azerbaijani ə)
# with it (hardware/escpos_render.py; NOVBE_TICKET_FONT names another .ttf).
fonts:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { \
		echo "installing Debian's fonts-dejavu-core for printed tickets"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; }

# Debian's nginx for the multi-process tests (tests/cluster.py starts it unprivileged in
# front of three servers, with deploy/nginx/novbe.conf). RUNLEVEL=1: the package's
# scripts do not start the system service, which would hold port 80.
nginx:
	@test -x /usr/sbin/nginx || { \
		echo "installing Debian's nginx for the multi-process tests"; \
		apt-get update -qq >/dev/null && \
		RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }

# Debian's wrk: the load generator for the benchmarks' ceiling (bench/ceiling.py
# falls back to Python clients without it).
wrk:
	@command -v wrk >/dev/null || { \
		echo "installing Debian's wrk for the benchmarks"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# A port already in use stops it with a line saying which and how to choose another.
demo: install voice fonts
	$(VENV)/bin/novbe demo --port $(PORT) --printer-port $(PRINTER_PORT)

serve: install
	$(VENV)/bin/novbe init-db
	$(VENV)/bin/novbe serve

# Every test: those in-process on every core (as test-fast), then the end-to-end and
# stress ones one at a time (they share a server process, browsers, and the cores).
test: install browser voice fonts nginx
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -m "not e2e and not slow" -n auto $(PYTEST_ARGS)
	$(PY) -m pytest -m "e2e or slow" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory install-check

# The fast loop while working: unit and integration tests, no server process or browser
# (tests/conftest.py marks every test unit, integration or e2e from what it uses), and not
# the few concurrency stress tests (`slow`; make test runs them), on every core.
test-fast: install
	$(PY) -m pytest -m "not e2e and not slow" -n auto $(PYTEST_ARGS)

# A clean install serves (tests/clean_install.py): `pip install .` and a built wheel with
# [postgres,redis], each in a throwaway venv run outside the tree; every screen loads.
install-check: install
	$(PY) tests/clean_install.py

# Benchmarks against production-mode servers (bench/): prints a table, writes
# bench/results/<time>.json and, for a full run, docs/benchmarks.md.
# `make bench BENCH_ARGS=--smoke` for the short mode; BENCH_ARGS="--only fanout" for one.
bench: install wrk nginx
	$(PY) -m bench.run $(BENCH_ARGS)

# The national day (bench/national.py): 66 centers, ~10,000 live screens, PostgreSQL,
# Redis and nginx; ~10 minutes; rewrites only its own section of docs/benchmarks.md.
bench-national: install wrk nginx
	$(PY) -m bench.run --only national

# docs/screenshots/*.png: every screen at two real sizes, in az, ru and en (docs/make_screenshots.py).
screenshots: install browser
	$(PY) docs/make_screenshots.py

# The screens' words (docs/screens.md, "Words"): each gettext domain's messages.pot from
# the code (babel.cfg, server/i18n/extract.py), then every language's .po updated from it:
# new keys come in empty (the tests refuse them until translated), removed ones go.
words: install
	@set -e; folders=$$($(PY) -m server.i18n.extract); for folder in $$folders; do \
		echo "pybabel update $$folder"; \
		$(VENV)/bin/pybabel -q update --no-fuzzy-matching --ignore-obsolete \
			-i $$folder/messages.pot -d $$folder; \
	done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache *.egg-info
