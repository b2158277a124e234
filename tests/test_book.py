"""The book: sources in sync with their Colab notebooks, every chapter executes in fast
mode with outputs that read cleanly, and the HTML builds without a Sphinx warning, with
launch links that resolve and MathJax and the widget manager served from its own files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import offline_assets  # noqa: E402
import sync_notebooks  # noqa: E402
from tests.test_book_outputs import notebook_problems  # noqa: E402

CHAPTERS = sync_notebooks.chapter_sources()


def checkout_first() -> str:
    """PYTHONPATH that puts this checkout's ``mcn`` first: the kernels run in book/ and
    Sphinx in its own script, where an installed ``mcn`` of another checkout would win."""
    return os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])


def test_every_chapter_has_an_up_to_date_notebook():
    assert CHAPTERS, "no chapter found in _toc.yml"
    for md_path in CHAPTERS:
        md_text, ipynb_text = sync_notebooks.expected_pair(md_path)
        assert md_path.read_text() == md_text, f"{md_path.name}: run book/sync_notebooks.py"
        ipynb = md_path.with_suffix(".ipynb")
        assert ipynb.exists(), f"{ipynb.name} missing: run book/sync_notebooks.py"
        assert ipynb.read_text() == ipynb_text, f"{ipynb.name} stale: run book/sync_notebooks.py"


def test_every_chapter_starts_with_the_setup_cell_from_the_repository_setting():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for md_path in CHAPTERS:
        notebook = nbformat.read(md_path.with_suffix(".ipynb"), as_version=4)
        first_code = next(c for c in notebook.cells if c.cell_type == "code")
        assert "setup" in first_code.metadata.get("tags", []), md_path.name
        assert url in first_code.source, md_path.name
        assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")


@pytest.mark.slow
@pytest.mark.parametrize("md_path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes_in_fast_mode(md_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("MCN_FAST", "1")
    monkeypatch.setenv("PYTHONPATH", checkout_first())
    notebook = nbformat.read(md_path.with_suffix(".ipynb"), as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(md_path.parent)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    problems = notebook_problems(notebook)   # paths, warnings, lines wider than the page
    assert not problems, f"{md_path.name}:\n" + "\n".join(problems)


@pytest.mark.slow
def test_html_builds_without_warnings_and_launch_links_resolve(tmp_path):
    """Build the HTML with execution off (the chapter test above executes them): any
    Sphinx warning (broken reference, missing file, bad docstring) fails the build."""
    assert offline_assets.main([]) == 0      # MathJax and the widget manager, fetched once
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"] = {"execute_notebooks": "off"}
    # Without execution no chapter glues its outputs, so the introduction's pasted table
    # has nothing to paste: that one warning is expected here (make book executes).
    config["sphinx"]["config"]["suppress_warnings"].append("mystnb.glue_ref")
    config_path = tmp_path / "_config.yml"
    config_path.write_text(yaml.safe_dump(config))
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jb), "build", str(ROOT), "--config", str(config_path), "--toc", str(ROOT / "_toc.yml"),
         "--path-output", str(tmp_path), "-W", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
        env={**os.environ, "PYTHONPATH": checkout_first()},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    colab_links = []
    for page in html.rglob("*.html"):
        colab_links += re.findall(r'colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/([^"?]+)', page.read_text())
    assert colab_links, "no Colab launch button found in the built HTML"
    for target in set(colab_links):
        assert (ROOT / target).exists(), f"launch link points at missing {target}"
        assert target.endswith(".ipynb"), target
    # Offline: no page loads a script from the network; MathJax and the widget manager
    # (on the pages with widgets) come from the book's _static folder.
    remote, local = set(), set()
    for page in html.rglob("*.html"):
        sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', page.read_text())
        for src in sources:
            (remote if src.startswith(("http:", "https:", "//")) else local).add(src.split("/_static/")[-1])
        order = [s for s in sources if "require.js" in s or "embed-amd.js" in s]
        assert order == sorted(order, key=lambda s: "embed-amd" in s), f"{page.name}: {order}"
    assert not remote, f"scripts loaded from the network: {sorted(remote)}"
    assert any(src.split("?")[0].endswith("mathjax/tex-mml-chtml.js") for src in local)
    # Pages load the widget manager only where an executed cell left widgets, which a
    # build without execution has none of; its files must be in place all the same.
    for served in ("mathjax/tex-mml-chtml.js", "requirejs/require.js", "widgets/embed-amd.js"):
        assert (html / "_static" / served).is_file(), served
