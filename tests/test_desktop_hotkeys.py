"""Global hotkeys of ``glmv desktop``: which backend each platform gets (X11 grabs, pynput on Windows / macOS and on
X11 without python-xlib, none on Wayland), how Qt key sequences are spelled for each, and what the settings say
where there are none. (The X11 grab and pynput on a real X server: tests/test_desktop_xvfb.py.)"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="the desktop extra is not installed")

from glmv.desktop import DesktopSettings
from glmv.desktop.hotkeys import hotkey_backend, open_global_hotkeys
from glmv.desktop.hotkeys_pynput import pynput_hotkey
from glmv.desktop.hotkeys_x11 import parse_sequence

BOTH = ("Xlib", "pynput")


@pytest.mark.parametrize(
    ("system", "qt_platform", "session", "display", "installed", "backend", "said"),
    [
        ("linux", "xcb", "x11", True, BOTH, "x11", "X11 root window"),
        ("linux", "xcb", "", True, BOTH, "x11", "X11 root window"),
        ("linux", "xcb", "x11", True, ("pynput",), "pynput", "python-xlib is not installed"),
        ("linux", "xcb", "x11", True, (), None, "pip install python-xlib"),
        ("linux", "wayland", "wayland", False, BOTH, None, "Wayland does not let programs grab keys"),
        ("linux", "xcb", "wayland", True, BOTH, None, "Wayland session"),
        ("linux", "offscreen", "", False, BOTH, None, "no X11 display"),
        ("linux", "xcb", "x11", False, BOTH, None, "no X11 display"),
        ("win32", "windows", "", False, BOTH, "pynput", "pynput"),
        ("win32", "windows", "", False, (), None, "pip install pynput"),
        ("darwin", "cocoa", "", False, ("pynput",), "pynput", "Input Monitoring"),
        ("darwin", "cocoa", "", False, (), None, "pip install pynput"),
    ],
)
def test_each_platform_gets_its_global_hotkey_backend(
    system, qt_platform, session, display, installed, backend, said
):
    chosen = hotkey_backend(system, qt_platform, session, display, installed)
    assert chosen.name == backend and said in chosen.why
    if backend is None:
        assert "shortcuts work while an assistant window is active" in chosen.why


@pytest.mark.parametrize(
    ("sequence", "system", "spelled"),
    [
        ("Ctrl+Shift+X", "linux", "<ctrl>+<shift>+x"),
        ("Ctrl+Alt+R", "win32", "<ctrl>+<alt>+r"),
        ("Meta+F5", "linux", "<cmd>+<f5>"),
        ("Ctrl+Shift+Space", "win32", "<ctrl>+<shift>+<space>"),
        ("Ctrl+PgDown", "linux", "<ctrl>+<page_down>"),
        ("Ctrl+Shift+C", "darwin", "<cmd>+<shift>+c"),  # Qt's Ctrl is the Command key on macOS
        ("Meta+Shift+C", "darwin", "<ctrl>+<shift>+c"),
    ],
)
def test_qt_key_sequences_are_spelled_as_pynput_reads_them(sequence, system, spelled):
    assert pynput_hotkey(sequence, system) == spelled


@pytest.mark.parametrize(
    ("sequence", "problem"),
    [("Hyper+X", "unknown modifier 'Hyper'"), ("Ctrl+Shift+", "names no key"), ("Ctrl+Volume", "'Volume'")],
)
def test_sequences_no_backend_can_watch_are_refused_with_the_reason(sequence, problem):
    with pytest.raises(ValueError, match=problem):
        pynput_hotkey(sequence, "win32")


@pytest.mark.parametrize(
    ("sequence", "masks", "key"),
    [
        ("Ctrl+Shift+X", ["ControlMask", "ShiftMask"], "x"),
        ("Alt+F4", ["Mod1Mask"], "F4"),
        ("Super+space", ["Mod4Mask"], "space"),
    ],
)
def test_qt_key_sequences_are_read_as_x11_grabs(sequence, masks, key):
    assert parse_sequence(sequence) == (masks, key)


def test_without_a_window_system_there_are_no_global_hotkeys_and_nothing_to_report(qtbot):
    assert open_global_hotkeys(DesktopSettings().hotkeys) == (None, [])


@pytest.mark.parametrize(
    ("session", "said"),
    [("wayland", "Wayland does not let programs grab keys"), ("", "no X11 display")],
)
def test_the_settings_say_when_hotkeys_work_only_in_the_assistants_windows(qtbot, monkeypatch, session, said):
    from glmv.desktop.settings_dialog import SettingsDialog

    monkeypatch.setenv("XDG_SESSION_TYPE", session)
    dialog = SettingsDialog(DesktopSettings())
    qtbot.addWidget(dialog)
    note = dialog.hotkeys_scope.text()
    assert note.startswith("Global hotkeys are not available") and said in note
    assert "shortcuts work while an assistant window is active" in note
