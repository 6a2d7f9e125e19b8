"""Open a self-contained HTML view in headless Chromium with every outside request blocked.

A plain module imported by the tests and the benchmarks (not a conftest): Playwright
drives the Debian ``/usr/bin/chromium`` (``playwright install`` cannot download browsers
here). Every request is routed: ``file://`` goes through, anything else is aborted *and*
recorded, so a test can assert that a page asked for nothing outside itself.

Use::

    reason = unavailable_reason()          # None when the browser can run
    with launch() as browser:
        result = open_view(browser, path)  # a PageResult
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Set to 1 to make browser tests fail, not skip, when the browser cannot run (CI).
REQUIRE_ENV = "REFERRAL_GRAPH_REQUIRE_BROWSER"


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


def unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@dataclass
class PageResult:
    """What a page did once drawn."""

    nodes: int
    edges: int
    drawn: bool
    first_draw_ms: float | None
    #: Non-transparent pixels on the vis-network canvas.
    canvas_pixels: int
    #: Requests that were not for the page's own file (aborted unless file://).
    outside_requests: list[str] = field(default_factory=list)
    #: file:// requests other than the page itself.
    other_file_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""


@contextmanager
def launch() -> Iterator[Any]:
    """Yield a headless Chromium (``playwright.sync_api.Browser``); closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_page(
    browser: Any, *, viewport: tuple[int, int] = (1280, 1000)
) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page whose requests other than ``file://`` are aborted: (page, the addresses it
    asked for outside, its console and page errors); its context is closed on exit."""
    outside: list[str] = []
    errors: list[str] = []
    context = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block"
    )
    try:

        def route(r: Any) -> None:
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        yield page, outside, errors
    finally:
        context.close()


def open_view(
    browser: Any,
    path: str | os.PathLike[str],
    *,
    timeout_ms: float = 30_000,
    viewport: tuple[int, int] = (1280, 1000),
) -> PageResult:
    """Open `path` (a file) with outside requests blocked; wait for the first drawing.

    Waits for ``window.__drawn`` (set by the page's ``afterDrawing`` handler), then
    reads ``window.network``'s node and edge counts, counts the painted canvas
    pixels and takes a full-page screenshot.
    """
    url = Path(path).resolve().as_uri()
    outside: list[str] = []
    other_files: list[str] = []
    errors: list[str] = []
    context = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block"
    )
    try:

        def record(request_url: str) -> None:
            if request_url.startswith("file://"):
                if request_url != url and request_url not in other_files:
                    other_files.append(request_url)
            elif not request_url.startswith("data:") and request_url not in outside:
                outside.append(request_url)

        def route(route: Any) -> None:
            record(route.request.url)
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        # Also record what routing cannot see (data: URLs are harmless and skipped).
        page.on("request", lambda request: record(request.url))
        page.on("websocket", lambda ws: record(ws.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.goto(url, wait_until="load", timeout=timeout_ms)
        page.wait_for_function("() => window.__drawn === true", timeout=timeout_ms)
        facts = page.evaluate(
            """() => ({
                nodes: window.network.body.data.nodes.length,
                edges: window.network.body.data.edges.length,
                drawn: window.__drawn,
                firstDrawMs: window.__rg_first_draw_ms ?? null,
            })"""
        )
        screenshot = page.screenshot(full_page=True)
        return PageResult(
            nodes=int(facts["nodes"]),
            edges=int(facts["edges"]),
            drawn=bool(facts["drawn"]),
            first_draw_ms=facts["firstDrawMs"],
            canvas_pixels=painted_pixels(page),
            outside_requests=outside,
            other_file_requests=other_files,
            console_errors=errors,
            screenshot=screenshot,
        )
    finally:
        context.close()


def painted_pixels(page: Any) -> int:
    """Non-transparent pixels on the view's canvas, in `page` (a Playwright page or frame)."""
    return int(
        page.evaluate(
            """() => {
                const canvas = document.querySelector("#rg-network canvas");
                const ctx = canvas.getContext("2d");
                const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
                return painted;
            }"""
        )
    )


def png_colours(png: bytes) -> dict[tuple[int, ...], int]:
    """Count the pixels of each colour in an 8-bit RGB/RGBA PNG (Chromium's screenshots).

    A small decoder (zlib + the five PNG row filters) so the tests need no imaging library.
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, data, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour_type not in (2, 6) or interlace:
                raise ValueError("only 8-bit, non-interlaced RGB/RGBA PNGs are supported")
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            data += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(data)
    stride = width * channels
    counts: dict[tuple[int, ...], int] = {}
    previous = bytearray(stride)
    offset = 0
    for _ in range(height):
        row_filter, line = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if row_filter == 1:
                line[i] = (line[i] + left) & 0xFF
            elif row_filter == 2:
                line[i] = (line[i] + up) & 0xFF
            elif row_filter == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif row_filter == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + pred) & 0xFF
        for i in range(0, stride, channels):
            colour = tuple(line[i : i + 3])
            counts[colour] = counts.get(colour, 0) + 1
        previous = line
    return counts


def non_white_pixels(colours: dict[tuple[int, ...], int]) -> int:
    """Pixels that are not (near) white, from :func:`png_colours`."""
    return sum(n for colour, n in colours.items() if min(colour) < 245)
