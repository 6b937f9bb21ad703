# One obvious command for each job. See README.md.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell cat requirements/*.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: run test lint format bench bench-realtime bench-serving install system-deps migrate screenshots

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/chatterbox.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

system-deps:
	@bash deploy/system-deps.sh $(SYSTEM_DEPS)

migrate: install
	$(PY) manage.py migrate --noinput

run: SYSTEM_DEPS = run
run: system-deps install migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py provenance_keys --if-missing
	@echo "Timbre is starting at http://$${TIMBRE_BIND:-127.0.0.1:8000}/  (Ctrl-C stops web and workers)"
	$(VENV)/bin/honcho start -f Procfile

test: SYSTEM_DEPS = test
test: system-deps install
	$(PY) -m pytest $(PYTEST_ARGS)

# Each main page at 1280 and 390 px (and a few in dark mode) as PNGs in screenshots/ (git-ignored).
screenshots: SYSTEM_DEPS = test
screenshots: system-deps install
	TIMBRE_SCREENSHOTS=1 $(PY) -m pytest tests/ui/test_screenshots.py -q -s -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) deploy/lint/import_cycles.py

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) manage.py bench $(BENCH_ARGS)
	$(PY) manage.py bench_chatterbox $(CHATTERBOX_BENCH_ARGS)

# WebSocket stream-input: first text -> first audio, and idle connections one uvicorn holds.
bench-realtime: migrate
	$(PY) manage.py bench_realtime $(BENCH_ARGS)

# Many users at once: the synthesis worker with the serving scheduler off (prefork -c 1) and on.
bench-serving: migrate
	$(PY) manage.py bench_serving $(BENCH_ARGS)
