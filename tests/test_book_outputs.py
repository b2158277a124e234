"""What the book prints reads cleanly: no path of the machine that ran it, no warning or
traceback, and no line of text wider than the page's code box.

The outputs checked are the ones the HTML shows: each chapter's executed version in the
jupyter-book cache (``.jupyter_cache``, filled by ``make book``). A chapter whose current
version the cache does not hold is skipped here, saying so; ``tests/test_book.py``
executes every chapter (slow) and applies the same check to what it printed.

The width: in sphinx-book-theme an output box is as wide as the article column, whose
width depends on the window: measured in Chromium, its 14 px monospace font (8.43 px a
character) fits 76 characters at a 1280-pixel window (the size the book's screenshots
are taken at, and a common laptop width), 84 at 1366 and at most 90 on wide screens
(68 between 1200 and 1280 pixels, where the right-hand contents column appears). A
longer line scrolls sideways with its end out of sight, so 76 is the limit.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import sync_notebooks  # noqa: E402

CHAPTERS = sync_notebooks.chapter_sources()
PAGE_WIDTH = 76  # characters of an output box at a 1280-pixel window, see the docstring

WARNING_TEXT = re.compile(r"Warning:|UserWarning|DeprecationWarning|FutureWarning|"
                          r"RuntimeWarning|Traceback|warnings\.warn")


def machine_paths() -> re.Pattern:
    """Paths that name the machine that ran a chapter: system folders, this checkout,
    the home and temporary folders, installed packages."""
    places = [r"(?<![\w.-])/(?:work|tmp|home|root|Users|private|var/folders)/", r"site-packages",
              r"[A-Za-z]:\\\\"]
    for folder in {str(ROOT), str(Path.home()), tempfile.gettempdir(), os.environ.get("HOME", "")}:
        if len(folder) > 1:
            places.append(re.escape(folder))
    return re.compile("|".join(places))


PATHS = machine_paths()
IMAGES = re.compile(r"data:[\w/+.-]+;base64,[\w+/=]+")
TAGS = re.compile(r"<style.*?</style>|<[^>]+>", re.S)
PICTURES = ("text/html", "image/png", "image/jpeg", "image/svg+xml",
            "application/vnd.jupyter.widget-view+json")


def shown_lines(text: str) -> list[str]:
    """The lines a terminal or notebook shows: after a carriage return, only the rest."""
    return [line.rsplit("\r", 1)[-1] for line in text.splitlines()]


def output_problems(output: dict) -> list[str]:
    """What is wrong with one output: [] when it reads cleanly."""
    kind = output.get("output_type")
    if kind == "error":
        return [f"error {output.get('ename')}: {output.get('evalue', '')[:80]}"]
    texts, wide = [], []
    if kind == "stream":
        texts.append(output.get("text", ""))
        wide = shown_lines(output.get("text", ""))
    elif kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        for mime in ("text/plain", "text/markdown", "text/latex"):
            if mime in data:
                texts.append(data[mime])
        if "text/html" in data:
            texts.append(TAGS.sub(" ", IMAGES.sub("", data["text/html"])))
        if "text/plain" in data and not any(m in data for m in PICTURES):
            wide = shown_lines(data["text/plain"])   # shown as text only when nothing richer
    problems = []
    for text in texts:
        for line in shown_lines(text):
            for pattern, name in ((PATHS, "machine path"), (WARNING_TEXT, "warning text")):
                if pattern.search(line):
                    problems.append(f"{name}: {line.strip()[:120]}")
    problems += [f"{len(line)} characters wide: {line[:100]}..." for line in wide
                 if len(line) > PAGE_WIDTH]
    return problems


def notebook_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Every problem of every output of a notebook, each with its code cell's number."""
    problems = []
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        for output in cell.get("outputs", []):
            problems += [f"code cell {number}: {p}" for p in output_problems(output)]
    return problems


def cached_outputs(md_path: Path) -> nbformat.NotebookNode | None:
    """The chapter as the book last executed it, when the cache holds its current code."""
    if not (ROOT / ".jupyter_cache").is_dir():
        return None
    from jupyter_cache import get_cache

    cache = get_cache(ROOT / ".jupyter_cache")
    try:
        record = cache.match_cache_notebook(nbformat.read(md_path.with_suffix(".ipynb"), as_version=4))
    except KeyError:
        return None
    return cache.get_cache_bundle(record.pk).nb


def test_the_check_finds_paths_warnings_errors_and_wide_lines():
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=f"runs under {tempfile.gettempdir()}/abc\n"),
        nbformat.v4.new_output("stream", name="stderr",
                               text="/x/ipykernel_1/2.py:14: UserWarning: Converting a tensor\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "y" * (PAGE_WIDTH + 1)}),
        nbformat.v4.new_output("display_data", data={"text/html": "<p>/home/me/mcn</p>",
                                                     "text/plain": "<table>"}),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]),
    ])])
    found = notebook_problems(bad)
    assert [p.split(": ")[1] for p in found] == [
        "machine path", "warning text", f"{PAGE_WIDTH + 1} characters wide", "machine path",
        "error ValueError"], found


def test_clean_outputs_pass():
    clean = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="a" * PAGE_WIDTH + "\n50 % done\r100 %\n"),
        nbformat.v4.new_output("display_data", data={  # a picture: its text/plain is not shown
            "image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480 with " + "z" * 99}),
        nbformat.v4.new_output("display_data", data={
            "text/html": '<img src="data:image/png;base64,L3RtcC9h/tmp/x+y=">'}),
    ])])
    assert notebook_problems(clean) == []


@pytest.mark.parametrize("md_path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_the_outputs_of_the_built_book_read_cleanly(md_path):
    notebook = cached_outputs(md_path)
    if notebook is None:
        pytest.skip(f"{md_path.name}: no executed copy of its current version in .jupyter_cache "
                    "(run `make book` first; tests/test_book.py checks a fresh execution)")
    problems = notebook_problems(notebook)
    assert not problems, f"{md_path.name}:\n" + "\n".join(problems)
