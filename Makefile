# Two commands on a fresh machine: `make study` runs the default study, export and report;
# `make test` runs the tests. Each installs what it needs first.
VENV ?= .venv
BIN := $(VENV)/bin
# postgresql: the worker tests' server; chromium: the dashboard test's browser, the
# report's static figures and PDF; poppler-utils: the report test renders a PDF page.
APT_PACKAGES ?= dataset-fashion-mnist postgresql chromium poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-packages study accurate quick test lint bench clean

$(BIN)/lenet-study: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[cpu,jax,dev]'
	touch $@

system-packages:
	@if command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; fi; \
	else echo "no apt-get: Fashion-MNIST will be downloaded by Keras on first use"; fi

setup: system-packages $(BIN)/lenet-study

study: setup
	$(BIN)/lenet-study run
	$(BIN)/lenet-study export
	$(BIN)/lenet-study report

# The accuracy study of README "Results": the accurate space, 70 minutes of new trials.
accurate: setup
	$(BIN)/lenet-study run --preset accurate --study-name accurate --timeout 4200
	$(BIN)/lenet-study export --study-name accurate
	$(BIN)/lenet-study report --study-name accurate

quick: setup
	$(BIN)/lenet-study run --quick --study-name quick

# The whole suite on TensorFlow, then the backend-sensitive tests again on JAX.
test: setup
	$(BIN)/pytest
	KERAS_BACKEND=jax $(BIN)/pytest -m backends

lint: setup
	$(BIN)/ruff check lenet study tests
	$(BIN)/ruff format --check lenet study tests
	$(BIN)/mypy lenet study

bench: setup
	$(BIN)/lenet-study bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
