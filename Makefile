# Two entry points (README.md): `make book` builds the book, `make test` runs the tests
# (`make test-fast` leaves out the tests marked slow: executing the chapters, DDP, whole runs).
# Each creates the local virtual environment .venv from requirements.txt on first use, and
# fetches the JavaScript the HTML serves itself (MathJax, the widget manager) into _offline/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OFFLINE := _offline/.fetched

.PHONY: book test test-fast bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

$(OFFLINE): book/offline_assets.py $(STAMP)
	$(PY) book/offline_assets.py
	touch $(OFFLINE)

# The chapters' cache (.jupyter_cache) keys on their code only; the shipped weights, the
# results and the run logs they read are not part of the key, so a change to any of them
# clears the cache and the built pages, and every chapter executes again.
BOOK_DATA := $(shell find data/results data/runs mcn/weights -type f 2>/dev/null)
DATA_STAMP := .jupyter_cache/.data-stamp

$(DATA_STAMP): $(BOOK_DATA)
	rm -rf .jupyter_cache _build
	mkdir -p .jupyter_cache
	touch $(DATA_STAMP)

book: $(STAMP) $(OFFLINE) $(DATA_STAMP)
	$(VENV)/bin/jupyter-book build . -W --keep-going

test: $(STAMP) $(OFFLINE)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(PY) -m mcn bench

clean:
	rm -rf _build .jupyter_cache .pytest_cache _offline
