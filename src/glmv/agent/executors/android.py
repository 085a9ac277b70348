"""The Android executor: a phone or emulator through the ``adb`` program (the one on PATH, else the one adbutils
ships).

Taps (``input tap``), long presses and drags (``input swipe`` held), swipes in the finger's direction and scrolls in
the content's (AndroidWorld's two conventions), text (``input text`` for ASCII, with spaces as ``%s``; anything
else through the ADBKeyboard IME's ``ADB_INPUT_B64`` broadcast, which must be installed and selected on the device),
key events and combinations, back / home, app launches by name (the AndroidWorld apps, or a package name) through
the launcher intent, and screenshots (``exec-out screencap -p``). Each observation's title names what is in front:
the app and activity (``com.android.settings/com.android.settings.Settings``) or a system window (``StatusBar``),
read from ``dumpsys window windows``, else ``dumpsys activity activities``
(:mod:`glmv.agent.executors.android_focus`); the serial when neither says. Every command is an argument list; on the device
each goes through ``adb shell``, its arguments quoted. A failing command (device offline, unauthorised) raises
:class:`~glmv.agent.executors.ExecutorError` with adb's message. The agent never installs, uninstalls or runs
anything else.
"""

from __future__ import annotations

import base64
import io
import shlex
import shutil
import subprocess
import time

from PIL import Image, UnidentifiedImageError

from glmv.actions import Action
from glmv.agent.executors.android_focus import foreground_of
from glmv.agent.executors.base import Executor, ExecutorError, Observation
from glmv.agent.executors.keys import android_keycode
from glmv.errors import MissingDependencyError

__all__ = ["APP_PACKAGES", "AndroidExecutor", "find_adb"]

APP_PACKAGES = {
    "audio recorder": "com.dimowner.audiorecorder",
    "broccoli": "com.flauschcode.broccoli",
    "camera": "com.android.camera2",
    "chrome": "com.android.chrome",
    "clock": "com.google.android.deskclock",
    "contacts": "com.google.android.contacts",
    "files": "com.google.android.documentsui",
    "google chrome": "com.android.chrome",
    "joplin": "net.cozic.joplin",
    "markor": "net.gsantner.markor",
    "open tracks sports tracker": "de.dennisguse.opentracks",
    "osmand": "net.osmand",
    "pro expense": "com.arduia.expense",
    "retro music": "code.name.monkey.retromusic",
    "settings": "com.android.settings",
    "simple calendar pro": "com.simplemobiletools.calendar.pro",
    "simple draw pro": "com.simplemobiletools.draw.pro",
    "simple gallery pro": "com.simplemobiletools.gallery.pro",
    "simple sms messenger": "com.simplemobiletools.smsmessenger",
    "tasks": "org.tasks",
    "vlc": "org.videolan.vlc",
    "youtube": "com.google.android.youtube",
}
"""App names of the GLM-V mobile prompts (lower case) → Android package names (AndroidWorld's)."""

_COMMAND_SECONDS = 30.0
_SWIPE_MS = 300
_HOLD_MS = 800
_DRAG_MS = 600
_CONTENT_TO_FINGER = {"down": "up", "up": "down", "left": "right", "right": "left"}


def find_adb(adb: str | None = None) -> str:
    """The adb program: ``adb``, else ``adb`` on PATH, else adbutils' bundled one; raises
    :class:`~glmv.errors.MissingDependencyError` naming the package when there is none."""
    if adb:
        return adb
    found = shutil.which("adb")
    if found:
        return found
    try:
        import adbutils

        bundled = adbutils.adb_path()
    except (ImportError, OSError, RuntimeError):
        bundled = None
    if bundled and shutil.which(bundled):
        return bundled
    raise MissingDependencyError(
        "adb (needed by the android executor)",
        "apt-get install adb (Debian / Ubuntu), or pip install adbutils",
    )


class AndroidExecutor(Executor):
    """One device (``serial``; the only one attached when None)."""

    platform = "mobile"
    name = "android"

    def __init__(
        self, serial: str | None = None, *, adb: str | None = None, wait_seconds: float = 5.0
    ) -> None:
        self.adb = find_adb(adb)
        self.wait_seconds = wait_seconds
        self._size: tuple[int, int] | None = None
        self.serial = serial or self._only_device()

    def _command(self, arguments: list[str], serial: bool = True) -> bytes:
        command = [self.adb, *(["-s", self.serial] if serial else []), *arguments]
        try:
            done = subprocess.run(command, capture_output=True, timeout=_COMMAND_SECONDS, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ExecutorError(
                f"adb {' '.join(arguments[:3])} did not finish in {_COMMAND_SECONDS:.0f} s"
            ) from exc
        except OSError as exc:
            raise ExecutorError(f"Cannot run {self.adb}: {exc}") from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
            raise ExecutorError(f"adb {' '.join(arguments[:3])} failed: {message.splitlines()[-1]}")
        return done.stdout

    def _shell(self, *arguments: str) -> None:
        self._command(["shell", *(shlex.quote(argument) for argument in arguments)])

    def _only_device(self) -> str:
        listing = self._command(["devices"], serial=False).decode("utf-8", "replace").splitlines()
        ready = [line.split()[0] for line in listing[1:] if line.strip().endswith("device")]
        if len(ready) != 1:
            raise ExecutorError(
                f"{len(ready)} devices are ready ({', '.join(ready) or 'none'}); name one with --serial "
                "(see `adb devices`)."
            )
        return ready[0]

    def observe(self) -> Observation:
        data = self._command(["exec-out", "screencap", "-p"])
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise ExecutorError(f"The device sent no readable screenshot ({len(data)} bytes).") from exc
        self._size = image.size
        return Observation(image.convert("RGB"), title=self.foreground_title())

    def foreground_title(self) -> str:
        """What is in front (``package/activity``, or a system window's name); the serial when dumpsys says
        nothing (an old or locked-down device)."""
        for source in (["window", "windows"], ["activity", "activities"]):
            try:
                text = self._command(["shell", "dumpsys", *source]).decode("utf-8", "replace")
            except ExecutorError:
                continue
            found = foreground_of(text)
            if found is not None:
                return found.title
        return self.serial

    def _point(self, action: Action) -> tuple[str, str]:
        if action.target is None:
            raise ExecutorError(f"{action.kind} needs a position on the screen.")
        return str(round(action.target[0])), str(round(action.target[1]))

    def act(self, action: Action) -> Observation:
        kind = action.kind
        if kind in ("click", "double_click"):
            for _ in range(2 if kind == "double_click" else 1):
                self._shell("input", "tap", *self._point(action))
        elif kind == "long_press":
            x, y = self._point(action)
            self._shell("input", "swipe", x, y, x, y, str(_HOLD_MS))
        elif kind == "drag":
            if action.end_point is None:
                raise ExecutorError("A drag needs an end point.")
            end = (str(round(action.end_point[0])), str(round(action.end_point[1])))
            self._shell("input", "swipe", *self._point(action), *end, str(_DRAG_MS))
        elif kind in ("swipe", "scroll"):
            direction = action.direction or "up"
            finger = direction if kind == "swipe" else _CONTENT_TO_FINGER[direction]
            self._swipe(finger, action)
        elif kind == "type":
            self._type(action)
        elif kind == "key":
            codes = [self._code(key) for key in action.keys]
            if len(codes) == 1:
                self._shell("input", "keyevent", codes[0])
            else:
                self._shell("input", "keycombination", *codes)
        elif kind in ("back", "home"):
            self._shell("input", "keyevent", "KEYCODE_BACK" if kind == "back" else "KEYCODE_HOME")
        elif kind == "open_app":
            self._shell(
                "monkey", "-p", self._package(action.app or ""), "-c", "android.intent.category.LAUNCHER", "1"
            )
        elif kind == "wait":
            time.sleep(self.wait_seconds)
        else:
            raise ExecutorError(
                f"A phone cannot {kind.replace('_', ' ')}; use the mobile actions of the prompt."
            )
        return self.observe()

    def _code(self, key: str) -> str:
        try:
            return android_keycode(key)
        except ValueError as exc:
            raise ExecutorError(str(exc)) from exc

    def _package(self, app: str) -> str:
        name = app.strip()
        if name.lower() in APP_PACKAGES:
            return APP_PACKAGES[name.lower()]
        if "." in name and " " not in name:
            return name
        raise ExecutorError(
            f"No package is known for the app {app!r}; open it by its package name (com.example.app)."
        )

    def _swipe(self, finger: str, action: Action) -> None:
        if action.box is not None:
            x1, y1, x2, y2 = action.box
        else:
            if self._size is None:
                self.observe()
            x1, y1, x2, y2 = 0, 0, *self._size
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        dx, dy = (x2 - x1) / 3, (y2 - y1) / 3
        start, end = {
            "up": ((cx, cy + dy), (cx, cy - dy)),
            "down": ((cx, cy - dy), (cx, cy + dy)),
            "left": ((cx + dx, cy), (cx - dx, cy)),
            "right": ((cx - dx, cy), (cx + dx, cy)),
        }[finger]
        points = [str(round(value)) for value in (*start, *end)]
        self._shell("input", "swipe", *points, str(_SWIPE_MS))

    def _type(self, action: Action) -> None:
        if action.target is not None:
            self._shell("input", "tap", *self._point(action))
        if action.clear:
            self._shell("input", "keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A")
            self._shell("input", "keyevent", "KEYCODE_DEL")
        text = (action.text or "").rstrip("\n")
        if text.isascii():
            if text:
                self._shell("input", "text", text.replace(" ", "%s"))
        else:
            encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
            self._shell("am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg", encoded)
        if action.dialect == "glm-mobile" or (action.text or "").endswith("\n"):
            self._shell("input", "keyevent", "KEYCODE_ENTER")
