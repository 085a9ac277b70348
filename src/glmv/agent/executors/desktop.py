"""The desktop executor: X11 through ``xdotool``, screenshots through ``mss``, on the user's display or a private Xvfb.

``DesktopExecutor()`` acts on ``$DISPLAY`` when there is one and starts a private :class:`Xvfb` otherwise;
``DesktopExecutor(private=True)`` always starts one; ``display=":5"`` names one. Clicks, double / right / middle
clicks, hover, long press, drag, typing (``xdotool type``, any Unicode), key combinations (``xdotool key``), wheel
scrolls (``step`` clicks; buttons 4–7) and waits are carried out at pixels of the screenshot, which is the first
monitor (its offset on a multi-monitor X screen is added). Every command is an
argument list run without a shell; a failing one raises :class:`~glmv.agent.executors.ExecutorError` with xdotool's
message. A missing xdotool / Xvfb names the Debian package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from PIL import Image

from glmv.actions import Action
from glmv.agent.executors.base import Executor, ExecutorError, Observation
from glmv.agent.executors.keys import xdotool_keys
from glmv.agent.executors.xvfb import Xvfb
from glmv.errors import MissingDependencyError, require

__all__ = ["DesktopExecutor"]

_BUTTONS = {"click": "1", "double_click": "1", "middle_click": "2", "right_click": "3"}
_WHEEL = {"up": "4", "down": "5", "left": "6", "right": "7"}
_DEFAULT_WHEEL_CLICKS = 5
_COMMAND_SECONDS = 20.0


class DesktopExecutor(Executor):
    """Acts on one X display; ``width`` / ``height`` size a private Xvfb."""

    platform = "desktop"
    name = "desktop"

    def __init__(
        self,
        display: str | None = None,
        *,
        private: bool = False,
        width: int = 1280,
        height: int = 800,
        wait_seconds: float = 5.0,
        type_delay_ms: int = 12,
        long_press_seconds: float = 0.8,
    ) -> None:
        require("mss", extra="agent", purpose="the desktop executor's screenshots")
        xdotool = shutil.which("xdotool")
        if xdotool is None:
            raise MissingDependencyError(
                "xdotool (needed by the desktop executor)", "apt-get install xdotool"
            )
        self._xdotool = xdotool
        self._xvfb: Xvfb | None = None
        if display is None and (private or not os.environ.get("DISPLAY")):
            self._xvfb = Xvfb(width, height)
            display = self._xvfb.display
        self.display = display or os.environ["DISPLAY"]
        self.wait_seconds = wait_seconds
        self.type_delay_ms = type_delay_ms
        self.long_press_seconds = long_press_seconds
        self._env = {**os.environ, "DISPLAY": self.display}
        self._origin = (0, 0)
        import mss
        from mss.exception import ScreenShotError

        self._screenshot_error = ScreenShotError
        try:
            self._screen = mss.mss(display=self.display)
        except ScreenShotError as exc:
            self.close()
            raise ExecutorError(f"Cannot open the display {self.display}: {exc}") from exc

    def _run(self, *arguments: str) -> str:
        try:
            done = subprocess.run(
                [self._xdotool, *arguments],
                env=self._env,
                capture_output=True,
                text=True,
                timeout=_COMMAND_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ExecutorError(f"xdotool {arguments[0]} did not finish in {_COMMAND_SECONDS:.0f} s") from exc
        if done.returncode != 0:
            message = (
                done.stderr.strip().splitlines()[-1]
                if done.stderr.strip()
                else f"exit status {done.returncode}"
            )
            raise ExecutorError(f"xdotool {arguments[0]} failed on {self.display}: {message}")
        return done.stdout.strip()

    def observe(self) -> Observation:
        try:
            monitor = self._screen.monitors[1] if len(self._screen.monitors) > 1 else self._screen.monitors[0]
            shot = self._screen.grab(monitor)
        except self._screenshot_error as exc:  # the display went away
            raise ExecutorError(f"Cannot take a screenshot of {self.display}: {exc}") from exc
        self._origin = (monitor["left"], monitor["top"])  # xdotool takes coordinates of the whole X screen
        image = Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")
        return Observation(image, title=self._title())

    def _title(self) -> str:
        """The focused window's name; without a window manager (focus follows the pointer) the name of the window
        under the pointer; "" when neither has one."""
        try:
            return self._run("getwindowfocus", "getwindowname")
        except ExecutorError:
            pass
        try:
            where = dict(line.split("=", 1) for line in self._run("getmouselocation", "--shell").splitlines())
            return self._run("getwindowname", where["WINDOW"]) if "WINDOW" in where else ""
        except (ExecutorError, ValueError):
            return ""

    def _move(self, action: Action) -> tuple[str, str]:
        if action.target is None:
            raise ExecutorError(f"{action.kind} needs a position on the screen.")
        x, y = (str(round(value + offset)) for value, offset in zip(action.target, self._origin, strict=True))
        self._run("mousemove", "--sync", x, y)
        return x, y

    def act(self, action: Action) -> Observation:
        kind = action.kind
        if kind in _BUTTONS:
            self._move(action)
            repeat = ["--repeat", "2", "--delay", "80"] if kind == "double_click" else []
            self._run("click", *repeat, _BUTTONS[kind])
        elif kind == "hover":
            self._move(action)
        elif kind == "long_press":
            self._move(action)
            self._run("mousedown", "1")
            time.sleep(self.long_press_seconds)
            self._run("mouseup", "1")
        elif kind == "drag":
            self._move(action)
            if action.end_point is None:
                raise ExecutorError("A drag needs an end point.")
            self._run("mousedown", "1")
            end = (str(round(v + o)) for v, o in zip(action.end_point, self._origin, strict=True))
            self._run("mousemove", "--sync", *end)
            self._run("mouseup", "1")
        elif kind == "type":
            self._type(action)
        elif kind == "key":
            self._run("key", "--clearmodifiers", xdotool_keys(action.keys))
        elif kind == "scroll":
            if action.target is not None:
                self._move(action)
            clicks = str(action.steps or _DEFAULT_WHEEL_CLICKS)
            self._run("click", "--repeat", clicks, "--delay", "20", _WHEEL[action.direction or "down"])
        elif kind == "wait":
            time.sleep(self.wait_seconds)
        else:
            raise ExecutorError(
                f"A desktop cannot {kind.replace('_', ' ')}; use the desktop actions of the prompt."
            )
        return self.observe()

    def _type(self, action: Action) -> None:
        if action.target is not None:
            self._move(action)
            self._run("click", "1")
        if action.clear:
            self._run("key", "--clearmodifiers", "ctrl+a")
            self._run("key", "BackSpace")
        text = action.text or ""
        submit = text.endswith("\n")
        if text.rstrip("\n"):
            self._run("type", "--delay", str(self.type_delay_ms), "--", text.rstrip("\n"))
        if submit or action.dialect == "glm-mobile":
            self._run("key", "Return")

    def close(self) -> None:
        screen = getattr(self, "_screen", None)
        if screen is not None:
            screen.close()
        if self._xvfb is not None:
            self._xvfb.stop()
