# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
ADMIN_USER ?= admin
PORT ?= 8080
# This machine only; `make run HOST=0.0.0.0` listens on every interface (then /metrics needs
# GATEWAY_METRICS_TOKEN: the server refuses to start without it).
HOST ?= 127.0.0.1
# pytest-xdist workers of `make test` (one per core; each has its own Redis and gunicorn).
TEST_WORKERS ?= auto

.PHONY: run test test-fast lint format bench icount corpus install migrate boot-check

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The Node clients of the conformance suite (tests/conformance/node), when npm is installed
# (.ci/run installs Debian's nodejs and npm); without it their tests are skipped.
NODE_CLIENTS := tests/conformance/node

$(NODE_CLIENTS)/node_modules/.installed: $(NODE_CLIENTS)/package.json $(NODE_CLIENTS)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(NODE_CLIENTS) --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm is not installed: the Node clients' conformance tests are skipped" >&2; \
	fi

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	@TOKEN=$$($(PY) manage.py create_admin_token --username $(ADMIN_USER) --reuse-stored); \
	echo ""; \
	echo "Admin token:  $$TOKEN  (kept in var/admin_token, mode 0600; manage.py admin_tokens list|revoke)"; \
	echo "Admin API:    http://localhost:$(PORT)/api/v1/gateways  (Authorization: Bearer <token>)"; \
	echo "API docs:     http://localhost:$(PORT)/api/v1/docs"; \
	echo "Django admin: http://localhost:$(PORT)/admin/  ($(PY) manage.py changepassword $(ADMIN_USER))"; \
	echo "Gateways:     http://<subdomain>.localhost:$(PORT)/..."; \
	echo ""
	GATEWAY_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c gateway_project/gunicorn.conf.py

test: install $(NODE_CLIENTS)/node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# The suite without the end-to-end tests (no gunicorn started): the quick loop while editing.
test-fast: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not e2e"

# requirements.txt alone in a fresh venv boots gunicorn and answers (a production image).
boot-check:
	PYTHON=$(PYTHON) .ci/boot-check

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(MAKE) -C bench run PY=$(abspath $(PY)) BENCH_QUICK=$(BENCH_QUICK) BENCH_PEERS=$(BENCH_PEERS)

# Instructions per request under callgrind (bench/README.md): bench/results/icount.json.
icount: install
	$(MAKE) -C bench icount PY=$(abspath $(PY))

# The detectors on the labelled corpus (tests/corpus): caught, missed, false alarms per type.
corpus: install
	$(PY) -m tests.corpus
