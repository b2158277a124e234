"""Keep the book's chapter sources and their Colab notebooks in step.

Chapters are written as MyST-markdown notebooks (``book/*.md`` with a jupytext header)
because text diffs well and reads well. Colab opens ``.ipynb`` files only, so every
chapter has a paired ``book/<name>.ipynb`` (committed without outputs); the book's
launch buttons point at it. This script

1. writes the same setup cell at the top of every chapter, built from the one setting
   that names the repository (``repository.url`` and ``repository.branch`` in
   ``_config.yml``): on Colab it clones the repository and installs ``mcn``; everywhere
   it picks the GPU when there is one;
2. regenerates each ``.ipynb`` from its ``.md``.

``python book/sync_notebooks.py`` rewrites; ``--check`` only reports what is out of date
and exits with status 1 (the test suite runs this).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
SETUP_TAG = "setup"

SETUP_TEMPLATE = '''\
# Setup. On Colab: fetch the book's repository and install its package `mcn`.
# Everywhere: use the GPU when there is one; MCN_FAST=1 (the test suite) shrinks the work.
import os, subprocess, sys
REPOSITORY, BRANCH = "{url}", "{branch}"
if "google.colab" in sys.modules and not os.path.isdir("{repo_dir}"):
    if subprocess.run(["git", "clone", "--depth", "1", "--branch", BRANCH, REPOSITORY,
                       "{repo_dir}"]).returncode != 0:
        raise SystemExit(f"Could not clone {{REPOSITORY}} (branch {{BRANCH}}). If the book lives "
                         "elsewhere (your fork, a renamed repository), set REPOSITORY above to "
                         "its URL; the one setting for every chapter is repository.url in "
                         "_config.yml (README: Publish or fork).")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "{repo_dir}"], check=True)
if "google.colab" in sys.modules:
    sys.path.insert(0, "{repo_dir}")
    os.chdir("{repo_dir}/book")
import torch
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
FAST = os.environ.get("MCN_FAST") == "1"
%matplotlib inline'''


def setup_cell_source() -> str:
    """The setup cell's code, filled in from the repository setting in _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"]
    branch = config["repository"].get("branch", "main")
    repo_dir = "/content/" + url.rstrip("/").split("/")[-1]
    return SETUP_TEMPLATE.format(url=url, branch=branch, repo_dir=repo_dir)


def chapter_sources() -> list[Path]:
    """Every chapter listed in _toc.yml that is a markdown notebook (has a kernel)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []) or [{"chapters": toc.get("chapters", [])}]:
        for entry in part.get("chapters", []) or []:
            files.append(entry["file"])
    chapters = []
    for name in files:
        path = ROOT / (name if name.endswith(".md") else name + ".md")
        if path.exists() and "kernelspec" in path.read_text():
            chapters.append(path)
    return chapters


def _with_setup_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    source = setup_cell_source()
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    first = code_cells[0] if code_cells else None
    if first is not None and SETUP_TAG in first.metadata.get("tags", []):
        first.source = source
    else:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG]})
        index = notebook.cells.index(first) if first is not None else len(notebook.cells)
        notebook.cells.insert(index, cell)
    return notebook


def _clean(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell["id"] = f"cell-{number}"  # stable ids keep the committed files diff-free
    return notebook


def expected_pair(md_path: Path) -> tuple[str, str]:
    """What the .md and the .ipynb of a chapter should contain, as text."""
    notebook = _with_setup_cell(jupytext.read(md_path))
    md_text = jupytext.writes(notebook, fmt="md:myst")
    ipynb = _clean(jupytext.reads(md_text, fmt="md:myst"))
    ipynb.metadata.pop("jupytext", None)
    ipynb.metadata["colab"] = {"provenance": []}
    ipynb.metadata["accelerator"] = "GPU"
    ipynb_text = nbformat.writes(nbformat.v4.upgrade(ipynb) if ipynb.nbformat < 4 else ipynb)
    return md_text, ipynb_text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, do not write")
    args = parser.parse_args(argv)
    stale = []
    for md_path in chapter_sources():
        md_text, ipynb_text = expected_pair(md_path)
        ipynb_path = md_path.with_suffix(".ipynb")
        for path, text in ((md_path, md_text), (ipynb_path, ipynb_text)):
            current = path.read_text() if path.exists() else None
            if current != text:
                stale.append(path.relative_to(ROOT))
                if not args.check:
                    path.write_text(text)
    if stale:
        verb = "out of date" if args.check else "rewritten"
        print(f"{verb}: " + ", ".join(map(str, stale)))
        if args.check:
            print("run: .venv/bin/python book/sync_notebooks.py")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
