"""Screen capture without Qt: full-screen, region and window screenshots through mss.

Rectangles are :class:`Region` values in the pixels of the virtual screen (all monitors together, the space mss
and X11 use). A screen that cannot be read (no display, no screen-recording permission on macOS, a region of
zero size or off the screen) is a :class:`~glmv.errors.MediaError` whose message says what to do; nothing here
ever crashes the window. :func:`save_capture` writes a capture as a PNG the conversation can attach.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from glmv.errors import MediaError

__all__ = ["Grabber", "Region", "active_window_region", "grab_screen", "save_capture", "screen_region"]


@dataclass(frozen=True)
class Region:
    """A rectangle of the virtual screen: top-left corner and size, in pixels."""

    left: int
    top: int
    width: int
    height: int

    def check(self) -> Region:
        """This region, or a MediaError when it has no area."""
        if self.width <= 0 or self.height <= 0:
            raise MediaError(
                f"The selected region is {self.width}x{self.height} pixels: it has no area. Drag a rectangle."
            )
        return self

    def even(self) -> Region:
        """The region shrunk to even width and height (what video encoders need)."""
        return Region(
            self.left, self.top, max(2, self.width - self.width % 2), max(2, self.height - self.height % 2)
        )


Grabber = Callable[[Region | None], Image.Image]
"""``grab(region)``: the screen (``None``: every monitor) or a region of it as an RGB image."""


def _no_screen(exc: BaseException) -> MediaError:
    if sys.platform == "darwin":
        hint = (
            "allow screen recording for this app in System Settings → Privacy & Security → Screen Recording"
        )
    elif sys.platform.startswith("linux"):
        hint = "run glmv desktop in an X11 session (DISPLAY set); on Wayland use an XWayland session"
    else:
        hint = "check that a desktop session is running"
    return MediaError(f"Cannot read the screen ({exc}): {hint}.")


def screen_region() -> Region:
    """The virtual screen (every monitor) as a region."""
    import mss

    try:
        with mss.mss() as screen:
            monitor = screen.monitors[0]
    except Exception as exc:  # mss raises its own ScreenShotError and OS errors
        raise _no_screen(exc) from exc
    return Region(monitor["left"], monitor["top"], monitor["width"], monitor["height"])


def grab_screen(region: Region | None = None) -> Image.Image:
    """The screen (``region=None``: every monitor) or ``region`` of it, as an RGB image."""
    import mss

    if region is not None:
        region.check()
    try:
        with mss.mss() as screen:
            monitor = screen.monitors[0]
            if region is not None:
                right = min(region.left + region.width, monitor["left"] + monitor["width"])
                bottom = min(region.top + region.height, monitor["top"] + monitor["height"])
                left, top = max(region.left, monitor["left"]), max(region.top, monitor["top"])
                if right <= left or bottom <= top:
                    raise MediaError(f"The region {region} lies outside the screen; select it again.")
                monitor = {"left": left, "top": top, "width": right - left, "height": bottom - top}
            shot = screen.grab(monitor)
    except MediaError:
        raise
    except Exception as exc:
        raise _no_screen(exc) from exc
    return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")


def _xdotool(xdotool: str, *args: str) -> str:
    done = subprocess.run([xdotool, *args], capture_output=True, text=True, timeout=5, check=True)
    return done.stdout


def active_window_region() -> Region:
    """The frame of the window that has the focus (X11, through xdotool: the window manager's active window, else
    the X input focus); elsewhere a MediaError that points to the region screenshot."""
    xdotool = shutil.which("xdotool")
    if not sys.platform.startswith("linux") or xdotool is None:
        raise MediaError(
            "Window screenshots need X11 and xdotool (apt install xdotool); use a region screenshot instead."
        )
    window = ""
    for query in ("getactivewindow", "getwindowfocus"):
        try:
            window = _xdotool(xdotool, query).strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if window.isdigit() and window not in ("0", "1"):  # 1: PointerRoot, the focus follows the mouse
            break
        window = ""
    if not window:
        raise MediaError(
            "No window has the focus; click the window to capture first, or use a region screenshot."
        )
    try:
        shell = _xdotool(xdotool, "getwindowgeometry", "--shell", window)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MediaError("xdotool could not read the window's geometry; use a region screenshot.") from exc
    values = dict(line.split("=", 1) for line in shell.splitlines() if "=" in line)
    try:
        return Region(int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])).check()
    except (KeyError, ValueError) as exc:
        raise MediaError("xdotool did not report the window's geometry; use a region screenshot.") from exc


def save_capture(image: Image.Image, folder: str | Path, stem: str = "screenshot") -> Path:
    """Write ``image`` as ``folder/STEM-YYYYmmdd-HHMMSS-mmm.png`` and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    path = folder / f"{stem}-{stamp}.png"
    image.save(path, compress_level=1)
    return path
