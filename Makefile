# Two commands on a fresh Debian machine:
#   make run    set up, build a demo centre and open the kiosk on it
#   make test   set up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DB ?= demo/accueil-demo.db

.PHONY: run test lint setup setup-test demo hub bench bundle clean i18n

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ui,hub,dev]'
	touch $@

setup: $(VENV)/.installed
	scripts/system-deps.sh run

setup-test: $(VENV)/.installed
	scripts/system-deps.sh test

$(DEMO_DB): | $(VENV)/.installed
	mkdir -p $(dir $(DEMO_DB))
	$(VENV)/bin/kiosk demo --db $(DEMO_DB)

demo: $(DEMO_DB)

# a resizable window with a « Fermer » button; with no screen, kiosk run says
# so and how to draw the screens into images instead (kiosk screenshot)
run: setup $(DEMO_DB)
	$(VENV)/bin/kiosk run --windowed --db $(DEMO_DB)

# lint first: a few seconds, before the suite's minutes. The suite runs in
# TEST_WORKERS processes: many tests wait on a hub process, a browser or the
# Kivy window rather than on the CPU, so there are more workers than cores.
# Tests never share state outside their tmp_path (ports are free ones).
TEST_WORKERS ?= 4
test: setup-test lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

# ruff's rules and its formatting, then mypy (strict on sync/): settings in
# pyproject.toml; a few seconds once mypy's cache is warm
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

hub: setup
	$(VENV)/bin/federation serve --db sqlite:///demo/federation.db

# extract the UI's French msgids, update kiosk/locale/*/accueil.po, compile the committed .mo
i18n: $(VENV)/.installed
	$(PY) -m kiosk.ui.i18n_tools

bench: setup
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

# the kiosk's one-folder bundle, built, then started offscreen to draw the
# home screen (tests/test_packaging.py; about 2 minutes, part of `make test`;
# ACCUEIL_SKIP_BUNDLE=1 make test leaves it out)
bundle: setup-test
	$(PY) -m pytest tests/test_packaging.py -k bundle

clean:
	rm -rf $(VENV) demo .pytest_cache
