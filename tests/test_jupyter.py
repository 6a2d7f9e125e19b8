"""A view in a real JupyterLab, in Chromium: drawn after Run All, a fallback line when untrusted.

The test starts ``jupyter lab`` on 127.0.0.1 (a free port, a random token, a temporary
root folder, its settings, workspaces and runtime files in that folder too) and drives
it with Playwright on the Debian Chromium (:mod:`browser`). Every request that does not
go to that server is aborted and recorded. It opens a small notebook that shows a view
of a tiny network, runs all cells, checks that the view's canvas draws inside the
output's iframe, that the wheel over the view scrolls the notebook until the view is
clicked (then zooms it, until Escape), saves it; then
opens a colleague's copy of the saved notebook, which this server has never signed, so
JupyterLab shows it untrusted: the view's frame is gone and the fallback line shows.
Marked ``browser`` like the other browser tests (skipped without Chromium, Playwright
or JupyterLab; failed instead when REFERRAL_GRAPH_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import browser
import pytest

from referral_graph.viz._jupyter import FALLBACK

ROOT = Path(__file__).resolve().parents[1]

#: The notebook a researcher would write: a tiny network, one view shown inline.
CELLS = [
    ("markdown", "# A view in JupyterLab\n\n" + "Some text above the view.\n\n" * 12),
    (
        "code",
        "import networkx as nx\n"
        "from referral_graph import viz\n"
        "\n"
        "G = nx.DiGraph()\n"
        "for u, v, n in [('a', 'b', 40), ('c', 'b', 25), ('b', 'd', 12), ('d', 'a', 30),\n"
        "                ('e', 'b', 15), ('e', 'c', 11)]:\n"
        "    G.add_edge(u, v, referrals=n)\n"
        "viz.show_inline(viz.network_view(G, title='A tiny network'))",
    ),
    ("markdown", "Some text below the view.\n\n" * 30),
]


def notebook(cells: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": kind, "id": f"cell-{i}", "metadata": {}, "source": source}
            | ({"execution_count": None, "outputs": []} if kind == "code" else {})
            for i, (kind, source) in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


#: JupyterLab settings: start the notebook's kernel without asking; ask about no news.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}


@dataclass
class Lab:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable() -> str | None:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "JupyterLab is not installed (pip install -e '.[notebooks]')"
    return browser.unavailable_reason()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab server on 127.0.0.1 whose kernels import this checkout's referral_graph."""
    reason = _unavailable()
    if reason is not None:
        if browser.browser_required():
            pytest.fail(f"{browser.REQUIRE_ENV}=1 but JupyterLab cannot run: {reason}")
        pytest.skip(f"the JupyterLab test needs JupyterLab, Chromium and Playwright: {reason}")
    root = tmp_path_factory.mktemp("lab")
    state = root / ".state"
    state.mkdir()
    for name, settings in SETTINGS.items():
        path = state / "settings" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--NotebookNotary.db_file={state / 'signatures.db'}",
        # nothing fetched from the internet by the server either
        "--LabApp.extension_manager=readonly",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
    ]
    log = (state / "server.log").open("wb")
    server = subprocess.Popen(
        command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    text = (state / "server.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"JupyterLab did not start:\n{text}")
                time.sleep(0.3)
        yield Lab(url=url, token=token, root=root)
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and its kernels (its own process group, started by the fixture)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, None)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _Requests:
    """Lets through the requests to the lab's server; aborts and records the others."""

    def __init__(self, url: str) -> None:
        self.netloc = urlsplit(url).netloc
        self.outside: list[str] = []

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("about", "data", "blob") or parts.netloc == self.netloc

    def record(self, url: str) -> None:
        if not self.allowed(url) and url not in self.outside:
            self.outside.append(url)

    def route(self, route: Any) -> None:
        self.record(route.request.url)
        if self.allowed(route.request.url):
            route.continue_()
        else:
            route.abort()


def _open(context: Any, lab: Lab, name: str, requests: _Requests) -> Any:
    page = context.new_page()
    page.on("request", lambda request: requests.record(request.url))
    page.on("websocket", lambda ws: requests.record(ws.url))
    # a workspace of its own: JupyterLab reopens nothing else beside the notebook
    workspace = name.removesuffix(".ipynb")
    page.goto(
        f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?token={lab.token}",
        wait_until="domcontentloaded",
    )
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=30_000)
    return page


@pytest.mark.browser
def test_view_in_jupyterlab(chromium: Any, lab: Lab) -> None:
    (lab.root / "view.ipynb").write_text(json.dumps(notebook(CELLS)), encoding="utf-8")
    requests = _Requests(lab.url)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.route("**/*", requests.route)
    try:
        page = _open(context, lab, "view.ipynb", requests)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=30_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        frame_element = page.wait_for_selector(".jp-OutputArea-output iframe", timeout=30_000)
        frame = frame_element.content_frame()
        frame.wait_for_function("() => window.__drawn === true", timeout=20_000)
        assert browser.painted_pixels(frame) > 2000  # nodes and edges drawn on the view's canvas
        assert frame.evaluate("() => network.body.data.nodes.length") == 5
        # Trusted and drawn: the fallback line is hidden; the frame holds the whole page.
        assert not page.locator(".rg-fallback").is_visible()
        box = frame_element.bounding_box()
        assert box is not None and 595 <= box["height"] <= 605
        assert frame.evaluate("() => document.documentElement.scrollHeight") <= 600
        frame_element.scroll_into_view_if_needed()
        page.screenshot(path=lab.root / "trusted.png")

        # The wheel over the view scrolls the notebook (it zooms only once clicked).
        scroller = page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
        before = scroller.evaluate("el => el.scrollTop")
        scale = frame.evaluate("() => network.getScale()")
        box = frame_element.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, 400)
        assert _eventually(lambda: scroller.evaluate("el => el.scrollTop") > before)
        assert frame.evaluate("() => network.getScale()") == scale
        # Clicked, the wheel zooms the view and the notebook stays; after Escape it scrolls.
        frame_element.scroll_into_view_if_needed()
        box = frame_element.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + 40, box["y"] + box["height"] / 2)
        page.wait_for_timeout(200)
        page.mouse.down()
        page.mouse.up()
        before = scroller.evaluate("el => el.scrollTop")
        page.mouse.wheel(0, -200)
        assert _eventually(lambda: frame.evaluate("() => network.getScale()") > scale)
        assert scroller.evaluate("el => el.scrollTop") == before
        page.keyboard.press("Escape")
        page.mouse.wheel(0, 200)
        assert _eventually(lambda: scroller.evaluate("el => el.scrollTop") > before)

        page.locator(".jp-NotebookPanel-toolbar [data-command='docmanager:save']").click()
        saved = lab.root / "view.ipynb"
        deadline = time.monotonic() + 15
        while "rg-fallback" not in saved.read_text(encoding="utf-8"):
            if time.monotonic() > deadline:
                page.screenshot(path=lab.root / "not-saved.png")
                pytest.fail(f"the notebook was not saved ({saved.stat().st_size} bytes)")
            page.wait_for_timeout(200)  # (lets Playwright route the save's requests)
        page.close()

        # A colleague's copy: this server never signed it, so it opens untrusted.
        copy = json.loads(saved.read_text(encoding="utf-8"))
        copy["cells"].insert(
            0, {"cell_type": "markdown", "id": "copy", "metadata": {}, "source": "Copy."}
        )
        (lab.root / "copy.ipynb").write_text(json.dumps(copy), encoding="utf-8")
        page = _open(context, lab, "copy.ipynb", requests)
        fallback = page.locator(".jp-OutputArea-output .rg-fallback")
        fallback.wait_for(state="visible", timeout=20_000)
        assert fallback.inner_text().strip() == FALLBACK
        assert page.locator(".jp-OutputArea-output iframe").count() == 0
        fallback.scroll_into_view_if_needed()
        page.screenshot(path=lab.root / "untrusted.png")
        assert requests.outside == []
    finally:
        context.close()


def _eventually(condition: Callable[[], bool], *, seconds: float = 10.0) -> bool:
    """Whether `condition` holds within `seconds` (polled: on a busy machine the browser
    may take longer than a fixed wait to scroll or zoom)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
