"""``glmv desktop`` on a real X server: an Xvfb the test starts, a real window, screenshots and a recording of
patterns drawn on the virtual screen, checked pixel by pixel and decoded back with PyAV.

Qt picks its platform once per process and the offscreen tests hold it, so the X checks run in one child process
(:data:`PROBE`) that prints what it saw as JSON; the tests below read it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="the desktop extra is not installed")

XVFB = shutil.which("Xvfb")
pytestmark = pytest.mark.skipif(XVFB is None, reason="Xvfb is not installed (apt install xvfb)")

SCREEN = (1280, 800)
FPS, SECONDS, CAP = 10, 3, (640, 400)

PROBE = r"""
import json, sys, time
from pathlib import Path

import av
from PySide6.QtCore import QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from glmv.desktop import DesktopSettings, Region, ScreenRecorder, build_window, grab_screen
from glmv.engine import ScriptedEngine

FPS, SECONDS, CAP = int(sys.argv[2]), int(sys.argv[3]), (int(sys.argv[4]), int(sys.argv[5]))
work = Path(sys.argv[1])
app = QApplication([])
out = {}


def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


class Pattern(QWidget):
    # Left half red, right half blue, a green square in the middle; or a white square moving right.
    def __init__(self, moving=False):
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.moving, self.x = moving, 0
        if moving:
            self.timer = QTimer(self, interval=20, timeout=self.step)
            self.timer.start()

    def step(self):
        self.x = (self.x + 8) % (self.width() - 100)
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        if self.moving:
            p.fillRect(self.rect(), QColor("black"))
            p.fillRect(QRect(self.x, 300, 100, 100), QColor("white"))
        else:
            w, h = self.width(), self.height()
            p.fillRect(QRect(0, 0, w // 2, h), QColor(255, 0, 0))
            p.fillRect(QRect(w // 2, 0, w - w // 2, h), QColor(0, 0, 255))
            p.fillRect(QRect(w // 2 - 20, h // 2 - 20, 40, 40), QColor(0, 255, 0))
        p.end()


pattern = Pattern()
pattern.setGeometry(100, 100, 300, 200)
pattern.show()
spin(0.5)
full = grab_screen()
out["full_size"] = full.size
out["full_pixels"] = [full.getpixel(xy) for xy in ((150, 150), (350, 150), (250, 200))]
region = grab_screen(Region(100, 100, 300, 200))
out["region_size"] = region.size
out["region_colours"] = sorted(c for _, c in region.getcolors())
pattern.hide()

window = build_window(ScriptedEngine(family="glm-4.6v"), DesktopSettings(family="glm-4.6v"), work / "data")
window.setGeometry(0, 0, 900, 700)
window.show()
spin(0.8)
out["window_visible"] = window.isVisible() and window.windowHandle().isExposed()
shot = grab_screen(Region(0, 0, 900, 700))
out["window_colours"] = len(shot.getcolors(1 << 20) or [])

pattern.show()
spin(0.3)
captured = []
window.capturer.captured.connect(captured.append)


def drag(overlay):
    spin(0.2)
    QTest.mousePress(overlay, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    QTest.mouseMove(overlay, QPoint(250, 200))
    QTest.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(400, 300))


window.capturer.overlay_shown.connect(lambda overlay: QTimer.singleShot(0, lambda: drag(overlay)))
window.capturer.region_screenshot()
end = time.monotonic() + 10
while not captured and time.monotonic() < end:
    spin(0.05)
from PIL import Image

attached = Image.open(captured[0]).convert("RGB")
out["region_attached_size"] = attached.size
out["region_attached_colours"] = sorted(c for _, c in attached.getcolors())
out["window_back"] = window.isVisible()
out["pending"] = len(window.session.pending)

import subprocess

pattern.activateWindow()
spin(0.3)
subprocess.run(["xdotool", "windowfocus", "--sync", str(int(pattern.winId()))], check=True, timeout=10)
captured.clear()
window.capturer.window_screenshot()
end = time.monotonic() + 10
while not captured and time.monotonic() < end:
    spin(0.05)
shot = Image.open(captured[0]).convert("RGB") if captured else None
out["window_shot_size"] = shot.size if shot else None
out["window_shot_colours"] = sorted(c for _, c in shot.getcolors()) if shot else None

# A global hotkey: pressed while another program's window has the focus, it opens the region overlay.
out["global_hotkeys"] = window.global_hotkeys.active if window.global_hotkeys else []
spin(0.5)
subprocess.run(["xdotool", "windowfocus", "--sync", str(int(pattern.winId()))], check=True, timeout=10)
window.actions_by_name["region_screenshot"].setShortcut("")  # only the X grab can trigger it now
overlays = []
window.capturer.overlay_shown.disconnect()
window.capturer.overlay_shown.connect(overlays.append)
subprocess.run(["xdotool", "key", "ctrl+shift+x"], check=True, timeout=10)
end = time.monotonic() + 10
while not overlays and time.monotonic() < end:
    spin(0.05)
out["global_hotkey_opened_overlay"] = bool(overlays)
if overlays:
    overlays[0].close()
window.close()

# pynput (the backend of Windows, macOS, and X11 without python-xlib) on the same server: it listens, not grabs.
from glmv.desktop.hotkeys_pynput import PynputHotkeys

listened = []
hotkeys = PynputHotkeys({"region_screenshot": "Ctrl+Shift+X", "history": "Ctrl+Shift+H"})
hotkeys.triggered.connect(listened.append)
out["pynput_started"] = hotkeys.start()
out["pynput_active"] = hotkeys.active
spin(0.3)
for keys in ("ctrl+x", "ctrl+shift+h", "shift+x", "ctrl+shift+x"):
    subprocess.run(["xdotool", "key", keys], check=True, timeout=10)
    spin(0.15)
end = time.monotonic() + 5
while len(listened) < 2 and time.monotonic() < end:
    spin(0.05)
out["pynput_seen"] = listened
hotkeys.stop()
pattern.close()

moving = Pattern(moving=True)
moving.setGeometry(0, 0, 1280, 800)
moving.show()
spin(0.5)
recorder = ScreenRecorder(work / "rec.mp4", fps=FPS, max_seconds=SECONDS, max_width=CAP[0], max_height=CAP[1])
started = time.monotonic()
recorder.start()
while recorder.wait(0) is None and time.monotonic() - started < SECONDS + 20:
    spin(0.05)
recording = recorder.stop()
out["recording"] = {"frames": recording.frames, "size": recording.size, "capped": recording.capped,
                    "wall": time.monotonic() - started}
with av.open(str(work / "rec.mp4")) as container:
    stream = container.streams.video[0]
    frames = [frame.to_image() for frame in container.decode(stream)]
    out["decoded"] = {"frames": len(frames), "size": frames[0].size, "fps": float(stream.average_rate),
                      "duration": float(stream.duration * stream.time_base) if stream.duration else None}


def square_x(image):
    grey = image.convert("L").point(lambda v: 255 if v > 128 else 0)
    box = grey.getbbox()
    return None if box is None else (box[0] + box[2]) / 2


out["square_x"] = [square_x(frames[0]), square_x(frames[len(frames) // 2]), square_x(frames[-1])]
print("RESULT " + json.dumps(out))
"""


def _free_display() -> int:
    for number in range(91, 200):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise RuntimeError("no free X display number between :91 and :199")


@pytest.fixture(scope="module")
def display():
    """A fresh Xvfb for this module: its display name (the server is stopped afterwards)."""
    number = _free_display()
    server = subprocess.Popen(
        [XVFB, f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _x_env(display: str, work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        "XDG_SESSION_TYPE": "x11",  # an X server of its own, even when the tests run inside a Wayland session
        "GLMV_DESKTOP_DATA": str(work),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",  # never the keyring of the machine
    }


@pytest.fixture(scope="module")
def seen(display, tmp_path_factory) -> dict:
    """What the probe saw on the Xvfb."""
    work = tmp_path_factory.mktemp("xvfb")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(work), str(FPS), str(SECONDS), *map(str, CAP)],
        env=_x_env(display, work),
        capture_output=True,
        text=True,
        timeout=90,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the X probe failed (status {done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def test_a_real_window_is_shown_and_drawn(seen):
    assert seen["window_visible"]
    assert seen["window_colours"] > 5  # a drawn window, not an empty screen


def test_a_full_screenshot_holds_the_pattern_drawn_on_the_screen(seen):
    assert tuple(seen["full_size"]) == SCREEN
    assert [tuple(p) for p in seen["full_pixels"]] == [(255, 0, 0), (0, 0, 255), (0, 255, 0)]


def test_a_region_screenshot_holds_exactly_the_region(seen):
    assert tuple(seen["region_size"]) == (300, 200)
    assert [tuple(c) for c in seen["region_colours"]] == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]


def test_a_region_dragged_on_the_overlay_is_attached_and_the_window_comes_back(seen):
    assert tuple(seen["region_attached_size"]) == (300, 200)
    assert [tuple(c) for c in seen["region_attached_colours"]] == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    assert seen["window_back"] and seen["pending"] == 1


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_a_window_screenshot_holds_the_focused_window(seen):
    assert tuple(seen["window_shot_size"]) == (300, 200)
    assert [tuple(c) for c in seen["window_shot_colours"]] == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_a_global_hotkey_works_while_another_window_has_the_focus(seen):
    assert "region_screenshot" in seen["global_hotkeys"] and "toggle_floating" in seen["global_hotkeys"]
    assert seen["global_hotkey_opened_overlay"]


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_pynput_hotkeys_see_their_combinations_and_no_others(seen):
    assert seen["pynput_started"] and seen["pynput_active"] == ["history", "region_screenshot"]
    assert seen["pynput_seen"] == ["history", "region_screenshot"]


def test_a_recording_of_a_moving_pattern_decodes_with_the_configured_frames_and_size(seen):
    recording, decoded = seen["recording"], seen["decoded"]
    assert recording["capped"] and recording["frames"] == FPS * SECONDS
    assert decoded["frames"] == FPS * SECONDS and tuple(decoded["size"]) == CAP
    assert decoded["fps"] == FPS
    first, _, last = seen["square_x"]
    assert first is not None and last is not None and first != last  # the pattern moved


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_the_glmv_desktop_command_opens_its_window(display, tmp_path):
    command = [sys.executable, "-m", "glmv", "desktop", "-m", "scripted", "--family", "glm-4.6v"]
    command += ["--data-dir", str(tmp_path / "data"), "--config-dir", str(tmp_path / "config")]
    app = subprocess.Popen(
        command, env=_x_env(display, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    env = {**os.environ, "DISPLAY": display}
    try:
        deadline, found = time.monotonic() + 30, ""
        while not found and time.monotonic() < deadline and app.poll() is None:
            search = ["xdotool", "search", "--onlyvisible", "--name", "^glmv desktop$"]
            found = subprocess.run(search, env=env, capture_output=True, text=True).stdout.strip()
            time.sleep(0.2)
        assert found, (
            f"no window appeared (status {app.poll()}): {app.stderr.read().decode()[-2000:] if app.poll() is not None else ''}"
        )
        geometry = subprocess.run(
            ["xdotool", "getwindowgeometry", found.splitlines()[0]], env=env, capture_output=True, text=True
        ).stdout
        assert "Geometry: 1100x760" in geometry
        assert (tmp_path / "data" / "history.sqlite3").exists()
    finally:
        app.terminate()
        app.wait(10)
