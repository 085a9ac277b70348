"""The browser executor: Playwright driving the system Chromium, with set-of-marks labels for the web mode.

Each observation labels the page's visible interactive elements (links, buttons, fields, ``[role=…]``, …; a label
is given only to an element that is on top at its centre) and keeps the label → element map for the next action;
the labels are drawn on the screenshot by the loop. Actions: ``Click [N]`` / ``Type [N]; [text]`` (fill, then
Enter, as the web prompt says) / ``Scroll [N or WINDOW]; [up|down]`` / ``Key; [Return]`` / ``GoBack`` / ``Bing``
/ ``Wait``, and the coordinate actions of the other dialects (click, double / right click, hover, type into the
focused field, key combinations, scroll, drag) at pixels of the viewport. A labelled click lands on the centre of
the element as the model saw it when that element is still on top there (no waiting), else goes through
Playwright's locator (scrolled into view, waited for). A link that opens a new tab switches to it; a download is saved into ``downloads`` and noted. Playwright errors (an element gone, a navigation that fails)
become :class:`~glmv.agent.executors.ExecutorError`.

Chromium is the system one (``/usr/bin/chromium``; Debian / Ubuntu package ``chromium``), launched with
``--no-sandbox --disable-gpu --disable-background-networking``; no browser is downloaded.
"""

from __future__ import annotations

import base64
import contextlib
import io
import shutil
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from PIL import Image

from glmv.actions import Action
from glmv.agent.executors.base import Executor, ExecutorError, Mark, Observation, Target
from glmv.agent.executors.keys import playwright_keys
from glmv.errors import MissingDependencyError, require

__all__ = ["CHROMIUM_ARGS", "BrowserExecutor", "find_chromium"]

CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_SCROLL_FRACTION = 0.66
_WHEEL_CLICK_PX = 100
_TIMEOUT_MS = 5000
_STAYS = frozenset({"scroll", "hover", "drag", "wait"})  # actions that do not load a page


@cache
def _script(name: str) -> str:
    return resources.files("glmv.agent.executors").joinpath(name).read_text(encoding="utf-8")


def find_chromium(executable: str | None = None) -> str:
    """The Chromium to drive: ``executable``, else the first of chromium / chromium-browser / google-chrome on
    PATH, else ``/usr/bin/chromium``. Raises :class:`~glmv.errors.MissingDependencyError` naming the package."""
    candidates = (
        [executable] if executable else [*(shutil.which(name) for name in _CANDIDATES), "/usr/bin/chromium"]
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise MissingDependencyError(
        f"Chromium ({executable or 'chromium on PATH'}, needed by the browser executor)",
        "apt-get install chromium (Debian / Ubuntu; or pass the browser's path with --browser)",
    )


class BrowserExecutor(Executor):
    """One Chromium window (``width`` × ``height`` viewport) on ``url``; ``marks`` labels elements (web mode)."""

    platform = "web"
    name = "browser"

    def __init__(
        self,
        url: str | None = None,
        *,
        headless: bool = True,
        width: int = 1280,
        height: int = 800,
        marks: bool = True,
        executable: str | None = None,
        downloads: str | Path | None = None,
        wait_seconds: float = 5.0,
        search_url: str = "https://www.bing.com/",
    ) -> None:
        require("playwright", extra="agent", purpose="the browser executor")
        from playwright.sync_api import Error, sync_playwright

        self._error = Error
        self.marks_enabled = marks
        self.wait_seconds = wait_seconds
        self.search_url = search_url
        self.downloads = Path(downloads).expanduser() if downloads else None
        self._marks: dict[int, Mark] = {}
        self._cdp: Any = None
        self._cdp_page: Any = None
        self._notes: list[str] = []
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=find_chromium(executable), headless=headless, args=list(CHROMIUM_ARGS)
            )
            self._context = self._browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=1, accept_downloads=True
            )
            self._context.set_default_timeout(_TIMEOUT_MS)
            self._context.on("page", self._opened)
            self.page = self._context.new_page()
            self._watch(self.page)
            if url:
                self.goto(url)
        except BaseException:
            self._playwright.stop()
            raise

    # --- pages ------------------------------------------------------------------------------------------------

    def _watch(self, page: Any) -> None:
        page.on("download", self._downloaded)

    def _opened(self, page: Any) -> None:
        self._watch(page)
        self.page = page
        self._notes.append("a new tab opened")

    def _downloaded(self, download: Any) -> None:
        if self.downloads is None:
            self._notes.append(f"a download ({download.suggested_filename}) was refused: no downloads folder")
            download.cancel()
            return
        self.downloads.mkdir(parents=True, exist_ok=True)
        target = self.downloads / Path(download.suggested_filename).name
        download.save_as(target)
        self._notes.append(f"downloaded {target.name}")

    def _current_page(self) -> Any:
        if self.page.is_closed():
            open_pages = [page for page in self._context.pages if not page.is_closed()]
            if not open_pages:
                self.page = self._context.new_page()
                self._notes.append("the last tab was closed; a blank one was opened")
            else:
                self.page = open_pages[-1]
                self._notes.append("the tab was closed; back on the previous one")
        return self.page

    def goto(self, url: str) -> Observation:
        """Open ``url`` in the current tab and observe it."""
        try:
            self._current_page().goto(url, wait_until="domcontentloaded")
        except self._error as exc:
            raise ExecutorError(f"Cannot open {url}: {exc.message.splitlines()[0]}") from exc
        return self.observe()

    # --- observing --------------------------------------------------------------------------------------------

    def observe(self) -> Observation:
        page = self._current_page()
        try:
            marks, title, shot = self._look(page)
        except self._error:  # a navigation under way destroyed the page's context: look again once it loaded
            try:
                page = self._current_page()
                page.wait_for_load_state("domcontentloaded", timeout=_TIMEOUT_MS)
                marks, title, shot = self._look(page)
            except self._error as exc:
                raise ExecutorError(f"Cannot look at the page: {exc.message.splitlines()[0]}") from exc
        note, self._notes = "; ".join(self._notes), []
        if note and page.url:
            note += f" ({page.url})"
        image = Image.open(io.BytesIO(shot))
        image.load()
        return Observation(image.convert("RGB"), url=page.url, title=title, note=note, marks=marks)

    def _look(self, page: Any) -> tuple[list[Mark], str, bytes]:
        if self.marks_enabled:
            marks, title = self._label(page)
        else:
            marks, title = [], page.title()
        return marks, title, self._screenshot(page)

    def _screenshot(self, page: Any) -> bytes:
        """The viewport as PNG, through the DevTools protocol with Chromium's fast encoder (about half the time of
        ``page.screenshot``); ``page.screenshot`` where that is not available."""
        try:
            if self._cdp_page is not page:
                self._cdp = self._context.new_cdp_session(page)
                self._cdp_page = page
            data = self._cdp.send("Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True})[
                "data"
            ]
            return base64.b64decode(data)
        except self._error:
            self._cdp_page = None
            return page.screenshot(type="png")

    def _label(self, page: Any) -> tuple[list[Mark], str]:
        """Label the page's interactive elements; the marks and the page title (one round trip)."""
        labelled = page.evaluate(_script("marks.js"))
        found = labelled["marks"]
        marks = [
            Mark(
                label=item["label"],
                tag=item["tag"],
                text=item["text"],
                box=tuple(item["box"]),
                input_type=item["type"],
                password=item["password"],
                submits=item["submits"],
                in_form=item["in_form"],
                href=item["href"],
            )
            for item in found
        ]
        self._marks = {mark.label: mark for mark in marks}
        return marks, labelled["title"]

    # --- the safety gate's questions ----------------------------------------------------------------------------

    def inspect(self, action: Action) -> Target:
        if action.kind == "search":
            return Target(url=self.search_url, description="the search engine")
        if action.label is not None and action.label != "WINDOW":
            mark = self._marks.get(_label_number(action.label))
            if mark is None:
                return Target()
            return Target(
                password=mark.password,
                submits=mark.submits if action.kind == "click" else mark.in_form and action.kind == "type",
                url=mark.href if action.kind == "click" and mark.href.startswith(("http:", "https:")) else "",
                description=mark.describe(),
            )
        point = action.target
        if action.kind not in ("click", "double_click", "type", "key") or (
            point is None and action.kind == "click"
        ):
            return Target()
        where = [None, None] if action.kind in ("type", "key") or point is None else [point[0], point[1]]
        try:
            found = self._current_page().evaluate(_script("probe.js"), where)
        except self._error:
            return Target()
        return Target(
            password=found["password"],
            submits=found["submits"] if action.kind != "type" else found["in_form"],
            url=found["href"] if action.kind in ("click", "double_click") else "",
            description=found["description"],
        )

    # --- acting -----------------------------------------------------------------------------------------------

    def _element(self, label: object) -> Any:
        number = _label_number(label)
        if number not in self._marks:
            raise ExecutorError(
                f"There is no element labelled [{label}] on the page; look at the labels shown."
            )
        return self._current_page().locator(f'[data-glmv-mark="{number}"]').first

    def _click_mark(self, page: Any, label: object, button: str, count: int) -> None:
        """Click the centre of the labelled element as the model saw it, when it is still the element on top
        there (one round trip, no waiting); otherwise through Playwright's locator, which scrolls it into view and
        waits for it to be clickable."""
        element = self._element(label)
        mark = self._marks[_label_number(label)]
        x, y = (mark.box[0] + mark.box[2]) / 2, (mark.box[1] + mark.box[3]) / 2
        found = page.evaluate(_script("on_top.js"), [mark.label, x, y])
        if found["new_tab"] and button == "left":  # wait for the tab, so the next observation shows it
            with self._context.expect_page():
                self._press(page, element, found["on_top"], x, y, button, count)
        else:
            self._press(page, element, found["on_top"], x, y, button, count)

    @staticmethod
    def _press(page: Any, element: Any, on_top: bool, x: float, y: float, button: str, count: int) -> None:
        if on_top:
            page.mouse.click(x, y, button=button, click_count=count)
        else:
            element.click(button=button, click_count=count)

    def act(self, action: Action) -> Observation:
        page = self._current_page()
        try:
            self._do(page, action)
            if action.kind not in _STAYS:
                self._settle()
        except self._error as exc:
            raise ExecutorError(f"{action.kind} failed: {exc.message.splitlines()[0]}") from exc
        return self.observe()

    def _settle(self) -> None:
        page = self._current_page()
        try:
            page.wait_for_load_state("domcontentloaded", timeout=_TIMEOUT_MS)
            page.evaluate(
                "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
            )
        except self._error:
            self._notes.append("the page is still loading")

    def _do(self, page: Any, action: Action) -> None:
        kind = action.kind
        labelled = action.label is not None and action.label != "WINDOW"
        buttons = {"click": "left", "double_click": "left", "right_click": "right", "middle_click": "middle"}
        if kind in buttons:
            count = 2 if kind == "double_click" else 1
            if labelled:
                self._click_mark(page, action.label, buttons[kind], count)
            else:
                x, y = _needs_point(action)
                page.mouse.click(x, y, button=buttons[kind], click_count=count)
        elif kind == "hover":
            if labelled:
                self._element(action.label).hover()
            else:
                page.mouse.move(*_needs_point(action))
        elif kind == "type":
            self._type(page, action, labelled)
        elif kind == "key":
            page.keyboard.press(playwright_keys(action.keys))
        elif kind == "scroll":
            self._scroll(page, action, labelled)
        elif kind == "drag":
            x, y = _needs_point(action)
            if action.end_point is None:
                raise ExecutorError("A drag needs an end point.")
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(*action.end_point, steps=10)
            page.mouse.up()
        elif kind == "back":
            if page.go_back(wait_until="domcontentloaded") is None:
                self._notes.append("there is no previous page")
        elif kind == "search":
            page.goto(self.search_url, wait_until="domcontentloaded")
        elif kind == "wait":
            time.sleep(self.wait_seconds)
        else:
            raise ExecutorError(
                f"A browser cannot {kind.replace('_', ' ')}; use the web actions of the prompt."
            )

    def _type(self, page: Any, action: Action, labelled: bool) -> None:
        text = action.text or ""
        if labelled:
            element = self._element(action.label)
            element.fill(text)
            page.keyboard.press("Enter")
            return
        if action.target is not None:
            page.mouse.click(*action.target)
        if action.clear:
            page.keyboard.press("Control+A")
            page.keyboard.press("Delete")
        submit = text.endswith("\n")
        page.keyboard.type(text.rstrip("\n") if submit else text)
        if submit or action.dialect == "glm-mobile":
            page.keyboard.press("Enter")

    def _scroll(self, page: Any, action: Action, labelled: bool) -> None:
        """Scroll what a wheel at the element (or point) would scroll — its nearest scrollable ancestor, else the
        page; ``WINDOW`` scrolls the page — at once (no smooth animation), so the next screenshot shows it."""
        viewport = page.viewport_size or {"width": 1280, "height": 800}
        if labelled:
            self._element(action.label)  # raises when the page has no such label
            box = self._marks[_label_number(action.label)].box
            x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        elif action.target is not None:
            x, y = action.target
        else:
            x, y = viewport["width"] / 2, viewport["height"] / 2
        distance = action.steps * _WHEEL_CLICK_PX if action.steps else viewport["height"] * _SCROLL_FRACTION
        if action.distance:
            distance = abs(action.distance)
        dx, dy = {
            "up": (0, -distance),
            "down": (0, distance),
            "left": (-distance, 0),
            "right": (distance, 0),
        }.get(action.direction or "down", (0, distance))
        whole = action.label == "WINDOW" or (not labelled and action.target is None)
        page.evaluate(_script("scroll.js"), [x, y, dx, dy, whole])

    def close(self) -> None:
        with contextlib.suppress(self._error):
            self._browser.close()
        self._playwright.stop()


def _label_number(label: object) -> int:
    try:
        return int(str(label).strip("[] "))
    except ValueError as exc:
        raise ExecutorError(f"{label!r} is not an element label.") from exc


def _needs_point(action: Action) -> tuple[float, float]:
    if action.target is None:
        raise ExecutorError(f"{action.kind} needs a position or an element label.")
    return action.target
