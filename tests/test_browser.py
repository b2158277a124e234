"""The live views in a real browser: a Jupyter server (Notebook 7) on 127.0.0.1 with a
random port and token, headless Chromium driven by selenium. For chapter 12 and for the
first teaching chapter that has a view, the test runs every cell, drags the first
slider and waits for the view's picture to change.

A second test opens the built book offline (every request outside the page's own
files refused) and checks that MathJax typesets the maths of chapter 3 from the book's
own static files.

Marked ``browser``; skipped, with the reason, where selenium, Chromium, chromedriver or
the notebook server are missing. Run alone with ``.venv/bin/python -m pytest -m browser``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
HTML = ROOT / "_build" / "html"
pytestmark = pytest.mark.browser

RUN_TIMEOUT_S = 900      # every cell of a chapter, in fast mode, on a busy 2-core machine
REDRAW_TIMEOUT_S = 120   # one slider move: the view re-runs a decode or a forward pass


def find_program(*names: str) -> str | None:
    """The first of ``names`` on PATH (or in /usr/bin, where Debian puts Chromium)."""
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
        if found:
            return found
    return None


def missing_browser_parts() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in requirements.txt)"
    try:
        import notebook  # noqa: F401
    except ImportError:
        return "the notebook server (Notebook 7) is not installed (it is in requirements.txt)"
    if find_program("chromium", "chromium-browser", "google-chrome") is None:
        return "no Chromium or Chrome on this machine (Debian: apt-get install chromium)"
    if find_program("chromedriver") is None:
        return "no chromedriver on this machine (Debian: apt-get install chromium-driver)"
    return None


WHY_NOT = missing_browser_parts()
needs_browser = pytest.mark.skipif(WHY_NOT is not None, reason=f"browser test skipped: {WHY_NOT}")


def teaching_chapter_with_a_view() -> str | None:
    """The first chapter before chapter 12 whose source builds an interactive view."""
    for path in sorted(BOOK.glob("[01][0-9]_*.md")):
        if not path.name.startswith("12_") and re.search(r"\b\w+_explorer\(", path.read_text()):
            return path.stem
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Notebook 7 server over a scratch copy of the book (so that the committed
    notebooks never receive outputs): yields (base URL, token, scratch root)."""
    if WHY_NOT is not None:
        pytest.skip(f"browser test skipped: {WHY_NOT}")
    scratch = tmp_path_factory.mktemp("notebook-server")
    (scratch / "book").mkdir()
    for notebook in BOOK.glob("*.ipynb"):
        shutil.copy(notebook, scratch / "book" / notebook.name)
    (scratch / "data").symlink_to(ROOT / "data")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "MCN_FAST": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    for variable, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                             ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                             ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        env[variable] = str(scratch / f".{folder}")
    process = subprocess.Popen(
        [sys.executable, "-m", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={scratch}",
         "--expose-app-in-browser", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the notebook server did not start (exit code {process.poll()})")
                time.sleep(1)
        yield base, token, scratch
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def chromium(offline: bool = False):
    """Headless Chromium under selenium; ``offline`` refuses every network request."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    if offline:  # every http(s) request goes to a proxy that is not there
        options.add_argument("--proxy-server=http://127.0.0.1:9")
        options.add_argument("--proxy-bypass-list=<-loopback>")
    options.binary_location = find_program("chromium", "chromium-browser", "google-chrome")
    return webdriver.Chrome(service=Service(find_program("chromedriver")), options=options)


def wait_for(driver, script: str, timeout: float, what: str, *args):
    """Poll a JavaScript function body (``args`` as its arguments) until it returns
    something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


KERNEL_IDLE = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
const kernel = panel && panel.sessionContext && panel.sessionContext.session
               && panel.sessionContext.session.kernel;
return !!kernel && kernel.status === 'idle';"""

ALL_RUN = """
const panel = window.jupyterapp.shell.currentWidget;
const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
const kernel = panel.sessionContext.session.kernel;
const done = cells.every(cell => cell.model.executionCount !== null) && kernel.status === 'idle';
const errors = cells.flatMap(cell => cell.model.outputs.toJSON())
                    .filter(output => output.output_type === 'error')
                    .map(output => output.ename + ': ' + output.evalue);
return errors.length ? {errors} : (done ? {errors: []} : null);"""

VIEW_PICTURES = """
const handle = document.querySelectorAll('.widget-slider .noUi-handle')[0];
if (!handle) return null;
const view = handle.closest('.jp-OutputArea-output') || document;
const now = Array.from(view.querySelectorAll('img')).map(img => img.src).join('|');
return now && now !== arguments[0] ? now : null;"""

MATHS_TYPESET = """
const maths = Array.from(document.querySelectorAll('.math'));
const done = maths.filter(element => element.querySelector('mjx-container'));
return maths.length && done.length === maths.length ? done.length : null;"""


def run_chapter_and_move_a_slider(driver, base: str, token: str, chapter: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/notebooks/book/{chapter}.ipynb?token={token}")
    wait_for(driver, KERNEL_IDLE, 180, f"the kernel of {chapter}")
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    time.sleep(2)
    result = wait_for(driver, ALL_RUN, RUN_TIMEOUT_S, f"every cell of {chapter} to run")
    assert not result["errors"], f"{chapter}: {result['errors']}"
    before = wait_for(driver, VIEW_PICTURES, 60, f"a slider with a picture in {chapter}", "")
    slider = driver.find_elements(By.CSS_SELECTOR, ".widget-slider .noUi-target")[0]
    handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    value = handle.get_attribute("aria-valuenow")
    step = max(20, slider.size["width"] // 3)   # a third of the track: at least one step
    at_end = value == handle.get_attribute("aria-valuemax")
    ActionChains(driver).click_and_hold(handle).move_by_offset(-step if at_end else step, 0) \
        .release().perform()                   # the views redraw when a slider is let go
    assert handle.get_attribute("aria-valuenow") != value, "the slider did not move"
    after = wait_for(driver, VIEW_PICTURES, REDRAW_TIMEOUT_S,
                     f"the picture of {chapter}'s first view to change", before)
    assert after != before


@needs_browser
@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["12_explore", "teaching"])
def test_a_slider_redraws_its_view_with_a_live_kernel(server, chapter):
    if chapter == "teaching":
        chapter = teaching_chapter_with_a_view()
        if chapter is None:
            pytest.skip("no chapter before chapter 12 builds an interactive view (an *_explorer call)")
    base, token, _ = server
    driver = chromium()
    try:
        run_chapter_and_move_a_slider(driver, base, token, chapter)
    finally:
        driver.quit()


@needs_browser
def test_the_built_book_typesets_maths_offline():
    page = HTML / "book" / "03_fire_and_sge.html"
    if not page.is_file() or not (HTML / "book" / "12_explore.html").is_file():
        pytest.skip("the book is not built here (run `make book` first)")
    for built in (page, HTML / "book" / "12_explore.html"):   # maths; maths and widgets
        scripts = re.findall(r'<script[^>]*src="([^"]+)"', built.read_text())
        assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    widgets = [s for s in scripts if "require.js" in s or "embed-amd.js" in s]
    assert len(widgets) == 2 and "require.js" in widgets[0], widgets   # RequireJS first
    driver = chromium(offline=True)
    try:
        driver.get(page.as_uri())
        typeset = wait_for(driver, MATHS_TYPESET, 60, "MathJax to typeset every formula of the page")
    finally:
        driver.quit()
    assert typeset > 10
