"""Issue 9: what students see, in JupyterLab in headless Chromium (Debian's), driven by Playwright.

Screenshots go to a temporary folder; set ``UPDATE_SCREENSHOTS=1`` to refresh docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import COURSE

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]
NB01 = "01_conv_arithmetic"
COPIES = COURSE.root / "build" / "browser-notebooks"  # git-ignored
LAB_PATH = COPIES.relative_to(COURSE.root)


def _digests() -> dict[str, str]:
    import hashlib

    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in ("course", "solutions") for p in (COURSE.root / folder).rglob("*.ipynb")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:  # noqa: ANN001
    if os.environ.get("UPDATE_SCREENSHOTS"):
        path = COURSE.root / "docs" / "screenshots"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):  # noqa: ANN201
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (.ci/run runs `apt-get install -y chromium`)")
    pytest.importorskip("playwright.sync_api")
    from autograder.course import DEFAULT_WORKSPACE, Workspace
    from autograder.release import ensure_registered

    ensure_registered(COURSE, Workspace(DEFAULT_WORKSPACE), COURSE.assignments())  # the formgrader lists these
    home = tmp_path_factory.mktemp("lab")
    # JupyterLab saves what it runs: work on copies, never on the repository's notebooks. The server's
    # root stays the repository, since the formgrader only serves a course inside the server's root.
    shutil.rmtree(COPIES, ignore_errors=True)
    for folder in ("course", "solutions"):
        shutil.copytree(COURSE.root / folder / NB01, COPIES / folder / NB01)
    # the Chinese course: its solution notebook, in a folder that says it is Chinese (as course-zh/ does)
    from autograder.translation.build import write_zh_solutions
    from cnnlab.i18n import MARKER_FILE

    zh_source = write_zh_solutions(COURSE, [NB01])
    shutil.copytree(zh_source / NB01, COPIES / "solutions-zh" / NB01)
    shutil.copyfile(zh_source / MARKER_FILE, COPIES / "solutions-zh" / MARKER_FILE)
    # Render every cell (no virtual scrolling), so outputs can be read from the page.
    for plugin, settings in {"@jupyterlab/notebook-extension/tracker": '{"windowingMode": "none"}'}.items():
        path = home / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(settings)
    port, token = _free_port(), secrets.token_hex(16)
    args = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
            f"--LabApp.user_settings_dir={home / 'settings'} --LabApp.workspaces_dir={home / 'workspaces'}"
            + (" --allow-root" if os.geteuid() == 0 else ""))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    with open(home / "lab.log", "wb") as log:
        proc = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"],
                                cwd=COURSE.root, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited: {(home / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        pytest.fail("JupyterLab did not start within 120 s")
    before = _digests()
    yield base, token
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)
    assert _digests() == before, "the browser session changed notebooks in the repository"
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(COPIES, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):  # noqa: ANN201
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/run runs `apt-get install -y chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=FLAGS, viewport={"width": 1400, "height": 1000})
        yield context
        context.close()


IDLE = "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')"
NOT_BUSY = ("() => !Array.from(document.querySelectorAll('.jp-InputPrompt'))"
            ".some(p => p.textContent.includes('[*]'))")


def _open(browser, lab, path: str):  # noqa: ANN001, ANN202
    base, token = lab
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page()
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}", wait_until="domcontentloaded")
    try:
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    except PlaywrightTimeout:  # seen once on a loaded machine: the notebook never rendered; load it again
        page.reload(wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_function(IDLE, timeout=90_000)
    return page


def _menu(page, top: str, item: str) -> None:  # noqa: ANN001
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def _wait_idle(page) -> None:  # noqa: ANN001
    page.wait_for_timeout(700)
    page.wait_for_function(NOT_BUSY, timeout=240_000)
    page.wait_for_function(IDLE, timeout=120_000)


STARTED = ("() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))"
           ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")


def _run_all(page) -> None:  # noqa: ANN001
    """Run All Cells, clicking again if no cell started (seen once on a fresh install: the first
    click ran nothing while the kernel showed Idle)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(STARTED, timeout=30_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("Run All Cells started no cell in 3 tries")


def _run_every_cell(page) -> None:  # noqa: ANN001
    """Run all cells; JupyterLab stops at an error, so continue below each failing cell."""
    _run_all(page)
    for _ in range(40):
        _wait_idle(page)
        pending = page.locator(".jp-CodeCell .jp-InputPrompt", has_text="[ ]:")
        if pending.count() == 0:
            return
        pending.first.click()
        _menu(page, "Run", "Run Selected Cell and All Below")
    raise AssertionError("cells were still unexecuted after 40 attempts")


def _error_texts(page) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
        "nodes => nodes.map(n => n.textContent)")


def test_the_student_notebook_runs_with_only_not_implemented_errors(browser, lab, shots) -> None:
    page = _open(browser, lab, f"{LAB_PATH}/course/{NB01}/{NB01}.ipynb")
    _run_every_cell(page)
    errors = _error_texts(page)
    assert errors, "the untouched release must show its NotImplementedError stubs"
    unexpected = [e for e in errors if "NotImplementedError" not in e and "[not-implemented]" not in e]
    assert not unexpected, unexpected
    first_check = page.locator(".jp-OutputArea-output", has_text="[not-implemented]").first
    first_check.scroll_into_view_if_needed()  # the screenshot shows what a check says
    page.screenshot(path=str(shots / "student-notebook.png"))
    page.close()


def test_the_widget_explorer_renders_and_the_keyboard_moves_it(browser, lab, shots) -> None:
    page = _open(browser, lab, f"{LAB_PATH}/solutions/{NB01}/{NB01}.ipynb")
    _run_all(page)  # the solution notebook runs top to bottom in seconds
    _wait_idle(page)
    assert not _error_texts(page)
    summary = page.locator(".widget-html", has_text="output size").first
    try:
        summary.wait_for(timeout=60_000)
    except Exception as exc:  # say what the explorer cell shows instead of the widget
        page.screenshot(path=str(shots / "widget-explorer-failed.png"))
        shown = page.eval_on_selector_all(
            ".jp-CodeCell", "cells => cells.filter(c => c.textContent.includes('conv_explorer('))"
            ".map(c => c.querySelector('.jp-OutputArea')?.textContent || '(no output)')")
        raise AssertionError(f"the explorer did not render within 60 s; its cell shows: {shown}") from exc
    before = summary.inner_text()
    handle = page.locator(".widget-slider", has_text="kernel").first.locator(".noUi-handle[role=slider]")
    value = handle.get_attribute("aria-valuenow")
    handle.focus()  # keyboard only: Tab lands here, the arrow keys move it
    handle.press("ArrowRight")
    page.wait_for_function("([el, v]) => el.getAttribute('aria-valuenow') !== v", arg=[handle.element_handle(), value],
                           timeout=30_000)
    page.wait_for_function("t => !Array.from(document.querySelectorAll('.widget-html'))"
                           ".some(n => n.textContent === t)", arg=before, timeout=30_000)
    assert summary.inner_text() != before, "moving the kernel slider must change the output size"
    _wait_idle(page)  # the figure redraws after the size label: screenshot the finished state
    summary.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "widget-explorer.png"))
    page.close()


def test_the_validate_button_reports_its_result(browser, lab, shots) -> None:
    page = _open(browser, lab, f"{LAB_PATH}/course/{NB01}/{NB01}.ipynb")
    page.locator(".jp-NotebookPanel-toolbar >> text=Validate >> visible=true").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=240_000)
    page.wait_for_function("() => /passes|FAILED|failed|error/i.test("
                           "document.querySelector('.jp-Dialog-body')?.textContent || '')", timeout=240_000)
    text = dialog.inner_text()
    page.screenshot(path=str(shots / "validate.png"))
    page.close()
    assert "The following cell failed" in text and "[not-implemented]" in text, text[:400]


def test_the_formgrader_lists_the_course_assignments(browser, lab, shots) -> None:
    base, token = lab
    page = browser.new_page()
    page.goto(f"{base}/formgrader?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector("text=01_conv_arithmetic", timeout=90_000)
    body = page.inner_text("body")
    for assignment in COURSE.assignments():
        assert assignment in body, f"{assignment} is not listed"
    assert "could not be created" not in body, "the formgrader warns that the exchange folder is missing"
    page.screenshot(path=str(shots / "formgrader.png"))
    page.close()


CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_the_chinese_notebook_speaks_chinese_in_checks_and_widgets(browser, lab, shots) -> None:
    page = _open(browser, lab, f"{LAB_PATH}/solutions-zh/{NB01}/{NB01}.ipynb")
    _run_all(page)
    _wait_idle(page)
    assert not _error_texts(page)
    check = page.locator(".jp-OutputArea-output", has_text="conv_output_size").filter(has_text="✓").first
    check.wait_for(timeout=60_000)
    assert CHINESE.search(check.inner_text()), f"check() should answer in Chinese: {check.inner_text()!r}"
    slider = page.locator(".widget-slider").first
    slider.wait_for(timeout=60_000)
    labels = page.eval_on_selector_all(".widget-slider .widget-label", "nodes => nodes.map(n => n.textContent)")
    assert labels and all(CHINESE.search(label) for label in labels), labels
    slider.scroll_into_view_if_needed()
    _wait_idle(page)
    page.screenshot(path=str(shots / "student-notebook-zh.png"))
    page.close()
