# One task runner for people and CI. `make demo` and `make test` do all set-up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= data/index
CORPUS ?= data/corpus

# Nothing may be fetched from a model hub, ever.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

# The demo index is built (and asked) with the int8 ONNX backend; chunk vectors are composed
# from the sentence pass (the library default): 0.24x the time of the old ingest at the same
# retrieval quality (docs/benchmarks.md, issue 12). RAG_EMBED_BACKEND=torch make demo: PyTorch.
ingest demo eval: export RAG_EMBED_BACKEND ?= onnx

.PHONY: setup browser demo ingest ui test test-fast lint typecheck pytest bench eval clean

setup: $(VENV)/.installed

# torch is pinned to the CPU build that lies on disk; a bare `torch` would pull CUDA.
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,milvus]'
	$(BIN)/python -c "import rag, torch; assert torch.__version__.endswith('+cpu'), torch.__version__"
	touch $@

# Debian's Chromium drives the browser tests (Playwright's own download is not reachable).
browser:
	@test -x /usr/bin/chromium && fc-list :lang=zh | grep -q . || { \
	  echo "installing Debian's chromium and a Chinese font for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $$SUDO apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; }

ingest: setup
	$(BIN)/rag ingest $(CORPUS) --index $(INDEX)

demo: ingest
	$(BIN)/rag info --index $(INDEX)
	$(BIN)/rag ask "湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？" --index $(INDEX)
	$(BIN)/rag ui --index $(INDEX)

eval: ingest
	$(BIN)/rag eval --index $(INDEX) --out artifacts/eval

bench: ingest
	$(BIN)/python -m rag.evals.bench ingest --corpus $(CORPUS)
	$(BIN)/python -m rag.evals.bench ask --index $(INDEX)
	$(BIN)/python -m rag.evals.bench cold --index $(INDEX)
	$(BIN)/python -m rag.evals.bench load --index $(INDEX)
	$(BIN)/python -m rag.evals.bench serve --index $(INDEX)

lint: setup
	$(BIN)/ruff check rag ingest ui evals tests
	$(BIN)/ruff format --check rag ingest ui evals tests

# mypy cannot follow setuptools' package-dir mapping, so it checks a link tree laid out
# the way the package installs (rag/, rag/ingest, rag/ui, rag/evals).
typecheck: setup
	rm -rf build/typecheck && mkdir -p build/typecheck
	cp -rs "$(CURDIR)/rag" build/typecheck/rag
	for p in ingest ui evals; do ln -s "$(CURDIR)/$$p" build/typecheck/rag/$$p; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml -p rag

# --durations: CI's log names the slowest tests, so a new slow one is seen when it lands.
pytest: setup browser
	$(BIN)/pytest --durations=15

test: lint typecheck pytest

# The fast tier: lint and every test that needs neither the model nor a browser (< 1 min).
test-fast: lint
	$(BIN)/pytest -m "not slow" -q

clean:
	rm -rf build $(INDEX) artifacts .pytest_cache .mypy_cache .ruff_cache
