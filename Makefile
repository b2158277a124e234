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

book: $(STAMP) $(OFFLINE)
	$(VENV)/bin/jupyter-book build . -W --keep-going

test: $(STAMP) $(OFFLINE)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(PY) -m mcn bench

clean:
	rm -rf _build .jupyter_cache .pytest_cache _offline
