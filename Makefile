# Two commands on a fresh machine: `make study` runs the default study, export and report;
# `make test` runs the tests. Each installs what it needs first, as root or with sudo, and
# writes apt's and pip's output to $(LOG), one line per step on screen.
VENV ?= .venv
BIN := $(VENV)/bin
LOG ?= .setup.log
# In a variable: a comma inside $(call ...)'s arguments would split them.
TEST_EXTRAS := .[cpu,jax,dev,deploy]
# dataset-fashion-mnist: the images; chromium: the report's static figures and PDF.
STUDY_APT ?= dataset-fashion-mnist chromium
# postgresql: the worker tests' server; poppler-utils: the report test renders a PDF page;
# chromium also drives the dashboard test's browser.
TEST_APT ?= $(STUDY_APT) postgresql poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Runs $(2) with its output appended to $(LOG) after saying $(1); on failure, shows the log's end.
logged = echo "$(1) (log: $(LOG))"; { $(2); } >>$(LOG) 2>&1 \
  || { echo "failed: $(1); the end of $(LOG):"; tail -n 30 $(LOG); exit 1; }

.PHONY: setup setup-test study accurate pareto quick test lint bench clean

# $(1): the Debian packages; those already installed are skipped.
define apt_install
@if command -v apt-get >/dev/null; then \
  missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
  if [ -n "$$missing" ]; then \
    $(call logged,installing system packages: $$(echo $$missing),\
      $(SUDO) apt-get update && \
      $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing); fi; \
else echo "no apt-get: Fashion-MNIST will be downloaded by Keras on first use"; fi
endef

$(BIN)/lenet-study: pyproject.toml
	@$(call logged,installing Python packages into $(VENV),\
	  python3 -m venv $(VENV) && $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[cpu]')
	@touch $@

# JAX (the tests run on both backends), the ONNX and LiteRT exporters and runtimes, and the
# test tools, on top of the study's packages.
$(VENV)/.dev: $(BIN)/lenet-study
	@$(call logged,installing JAX with the exporters and the test tools into $(VENV),$(BIN)/pip install -e '$(TEST_EXTRAS)')
	@touch $@

setup: $(BIN)/lenet-study
	$(call apt_install,$(STUDY_APT))

setup-test: $(VENV)/.dev
	$(call apt_install,$(TEST_APT))

study: setup
	$(BIN)/lenet-study run
	$(BIN)/lenet-study export
	$(BIN)/lenet-study report

# The accuracy study (docs/results.md): the accurate space, 70 minutes of new trials.
accurate: setup
	$(BIN)/lenet-study run --preset accurate --study-name accurate --timeout 4200
	$(BIN)/lenet-study export --study-name accurate
	$(BIN)/lenet-study report --study-name accurate

# The accuracy-size study (docs/results.md): the pareto space, 40 minutes of new trials, the
# smallest model on its front at 90 % validation accuracy or more, and the report with the
# front; about an hour on 2 cores.
pareto: setup
	$(BIN)/lenet-study run --preset pareto --study-name pareto
	$(BIN)/lenet-study export --study-name pareto --smallest-above 0.9
	$(BIN)/lenet-study report --study-name pareto

quick: setup
	$(BIN)/lenet-study run --quick --study-name quick

# The whole suite on TensorFlow, then the backend-sensitive tests again on JAX.
test: setup-test
	$(BIN)/pytest
	KERAS_BACKEND=jax $(BIN)/pytest -m backends

lint: $(VENV)/.dev
	$(BIN)/ruff check lenet study tests
	$(BIN)/ruff format --check lenet study tests
	$(BIN)/mypy lenet study

bench: setup
	$(BIN)/lenet-study bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache $(LOG)
