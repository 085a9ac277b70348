"""The android executor against a fake ``adb`` on PATH that records every command (no emulator can run here): the
agent loop turns GLM mobile replies into the exact adb commands a device would get, screenshots come back through
``exec-out screencap -p``, and an offline device is an observation, not a crash."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from PIL import Image

from glmv.agent import Agent
from glmv.agent.executors.android_focus import Foreground, foreground_of
from glmv.engine.scripted import ScriptedEngine

B, E = "<|begin_of_box|>", "<|end_of_box|>"

FAKE_ADB = r"""#!{python} -S
import json, os, sys
log = os.environ["FAKE_ADB_LOG"]
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if args == ["devices"]:
    print("List of devices attached\nemulator-5554\tdevice\n")
elif os.environ.get("FAKE_ADB_OFFLINE") and "shell" in args:
    sys.stderr.write("error: device offline\n")
    sys.exit(1)
elif "screencap" in args:
    with open(os.environ["FAKE_ADB_SCREEN"], "rb") as f:
        sys.stdout.buffer.write(f.read())
elif "dumpsys" in args:
    path = os.environ.get("FAKE_ADB_DUMPSYS_" + args[-1].upper())
    if path:
        with open(path, encoding="utf-8") as f:
            sys.stdout.write(f.read())
"""


@pytest.fixture()
def adb(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    program = folder / "adb"
    program.write_text(FAKE_ADB.replace("{python}", sys.executable))
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "adb.log"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    Image.new("RGB", (1080, 2400), (20, 120, 200)).save(tmp_path / "screen.png")
    monkeypatch.setenv("FAKE_ADB_SCREEN", str(tmp_path / "screen.png"))

    def commands() -> list[list[str]]:
        lines = log.read_text().splitlines() if log.exists() else []
        return [
            args
            for args in map(json.loads, lines)
            if "screencap" not in args and "dumpsys" not in args and args != ["devices"]
        ]

    return commands


def mobile(action: dict) -> str:
    return f"<think>Looking.</think>Memory: []\nReason: next\nAction: {B}{json.dumps(action)}{E}"


def test_mobile_replies_become_exact_adb_commands(adb):
    from glmv.agent.executors.android import AndroidExecutor

    executor = AndroidExecutor(wait_seconds=0.01)
    assert executor.serial == "emulator-5554" and executor.observe().size == (1080, 2400)
    replies = [
        mobile({"action_type": "open_app", "app_name": "Clock"}),
        mobile({"action_type": "click", "box_2d": [[100, 200, 300, 400]]}),
        mobile({"action_type": "long_press", "box_2d": [[500, 500, 500, 500]]}),
        mobile(
            {
                "action_type": "input_text",
                "text": "buy milk & eggs",
                "box_2d": [[0, 0, 1000, 100]],
                "override": True,
            }
        ),
        mobile(
            {
                "action_type": "input_text",
                "text": "Grüße 你好",
                "box_2d": [[0, 0, 1000, 100]],
                "override": False,
            }
        ),
        mobile({"action_type": "swipe", "direction": "up"}),
        mobile({"action_type": "keyboard_enter"}),
        mobile({"action_type": "navigate_back"}),
        mobile({"action_type": "navigate_home"}),
        mobile({"action_type": "wait"}),
        mobile({"action_type": "status", "goal_status": "complete"}),
    ]
    result = Agent(ScriptedEngine(replies, family="glm-4.5v"), executor, "Set an alarm").run()
    assert result.status == "finished"
    s = ["-s", "emulator-5554", "shell"]
    assert adb() == [
        [*s, "monkey", "-p", "com.google.android.deskclock", "-c", "android.intent.category.LAUNCHER", "1"],
        [*s, "input", "tap", "216", "720"],  # the box centre (200, 300) thousandths of 1080 × 2400
        [*s, "input", "swipe", "540", "1200", "540", "1200", "800"],
        [*s, "input", "tap", "540", "120"],
        [*s, "input", "keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A"],
        [*s, "input", "keyevent", "KEYCODE_DEL"],
        [*s, "input", "text", "'buy%smilk%s&%seggs'"],  # quoted for the device's shell
        [*s, "input", "keyevent", "KEYCODE_ENTER"],
        [*s, "input", "tap", "540", "120"],
        [*s, "am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg", "R3LDvMOfZSDkvaDlpb0="],
        [*s, "input", "keyevent", "KEYCODE_ENTER"],
        [*s, "input", "swipe", "540", "2000", "540", "400", "300"],  # finger up: from low to high
        [*s, "input", "keyevent", "KEYCODE_ENTER"],
        [*s, "input", "keyevent", "KEYCODE_BACK"],
        [*s, "input", "keyevent", "KEYCODE_HOME"],
    ]


def test_an_offline_device_is_an_observation_and_an_unknown_app_too(adb, monkeypatch):
    from glmv.agent.executors.android import AndroidExecutor

    executor = AndroidExecutor(serial="emulator-5554")
    replies = [
        mobile({"action_type": "open_app", "app_name": "Nonexistent App"}),
        mobile({"action_type": "status", "goal_status": "infeasible"}),
    ]
    result = Agent(ScriptedEngine(replies, family="glm-4.5v"), executor, "Open it").run()
    assert result.status == "infeasible"
    assert "No package is known" in result.records[0]["observation"]["note"]
    monkeypatch.setenv("FAKE_ADB_OFFLINE", "1")
    replies = [
        mobile({"action_type": "click", "box_2d": [[1, 1, 2, 2]]}),
        mobile({"action_type": "status", "goal_status": "complete"}),
    ]
    result = Agent(ScriptedEngine(replies, family="glm-4.5v"), executor, "Tap").run()
    assert result.records[0]["status"] == "error"
    assert "device offline" in result.records[0]["observation"]["note"]


def test_a_missing_adb_names_the_package(monkeypatch, tmp_path):
    from glmv.agent.executors import android
    from glmv.errors import MissingDependencyError

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(android.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="apt-get install adb"):
        android.find_adb()


# Lines of real `dumpsys window windows` / `dumpsys activity activities` output, per Android version and screen.
FOCUS_SAMPLES = {
    "android 13, settings (dumpsys window)": (
        "  mCurrentFocus=Window{b3f5a1c u0 com.android.settings/com.android.settings.Settings}\n"
        "  mFocusedApp=ActivityRecord{8e2d7f0 u0 com.android.settings/.Settings t23}",
        Foreground("com.android.settings", "com.android.settings.Settings"),
    ),
    "android 11, launcher": (
        "  mCurrentFocus=Window{4c2d5b8 u0 com.google.android.apps.nexuslauncher/"
        "com.google.android.apps.nexuslauncher.NexusLauncherActivity}",
        Foreground(
            "com.google.android.apps.nexuslauncher",
            "com.google.android.apps.nexuslauncher.NexusLauncherActivity",
        ),
    ),
    "android 9, nested app token": (
        "  mCurrentFocus=null\n  mFocusedApp=AppWindowToken{d9a6f0c token=Token{2c1a0f ActivityRecord{6a3a2e u0 "
        "com.android.chrome/com.google.android.apps.chrome.Main t12}}}",
        Foreground("com.android.chrome", "com.google.android.apps.chrome.Main"),
    ),
    "android 4.4, no user id": (
        "  mCurrentFocus=Window{41a7e8e8 com.android.launcher/com.android.launcher2.Launcher paused=false}",
        Foreground("com.android.launcher", "com.android.launcher2.Launcher"),
    ),
    "notification shade": (
        "  mCurrentFocus=Window{e4c2b0 u0 NotificationShade}\n"
        "  mFocusedApp=ActivityRecord{5f3b2a1 u0 com.android.chrome/org.chromium.chrome.browser.ChromeTabbedActivity t15}",
        Foreground(window="NotificationShade"),
    ),
    "app not responding dialog": (
        "  mCurrentFocus=Window{9a7c31 u0 Application Not Responding: com.example.notes}",
        Foreground(window="Application Not Responding: com.example.notes"),
    ),
    "android 12, dumpsys activity": (
        "  topResumedActivity=ActivityRecord{5f3b2a1 u0 org.tasks/com.todoroo.astrid.activity.MainActivity t41}\n"
        "    ResumedActivity: ActivityRecord{5f3b2a1 u0 org.tasks/com.todoroo.astrid.activity.MainActivity t41}",
        Foreground("org.tasks", "com.todoroo.astrid.activity.MainActivity"),
    ),
    "android 8, dumpsys activity, short activity": (
        "    mResumedActivity: ActivityRecord{3e1d9a2 u0 com.android.deskclock/.DeskClock t7}",
        Foreground("com.android.deskclock", "com.android.deskclock.DeskClock"),
    ),
    "locked screen: nothing focused": ("  mCurrentFocus=null\n  mFocusedApp=null", None),
    "not dumpsys output": ("Can't find service: window", None),
}


@pytest.mark.parametrize("text, expected", FOCUS_SAMPLES.values(), ids=FOCUS_SAMPLES.keys())
def test_the_foreground_is_read_from_real_dumpsys_output(text, expected):
    assert foreground_of(text) == expected


def test_an_observation_is_titled_with_the_foreground_app(adb, tmp_path, monkeypatch):
    from glmv.agent.executors.android import AndroidExecutor

    executor = AndroidExecutor(wait_seconds=0.01)
    assert executor.observe().title == "emulator-5554"  # dumpsys says nothing: the device
    activities = tmp_path / "activities.txt"
    activities.write_text(FOCUS_SAMPLES["android 12, dumpsys activity"][0])
    monkeypatch.setenv("FAKE_ADB_DUMPSYS_ACTIVITIES", str(activities))
    assert executor.observe().title == "org.tasks/com.todoroo.astrid.activity.MainActivity"
    windows = tmp_path / "windows.txt"
    windows.write_text(FOCUS_SAMPLES["android 13, settings (dumpsys window)"][0])
    monkeypatch.setenv("FAKE_ADB_DUMPSYS_WINDOWS", str(windows))
    replies = [
        mobile({"action_type": "open_app", "app_name": "Settings"}),
        mobile({"action_type": "status", "goal_status": "complete"}),
    ]
    result = Agent(ScriptedEngine(replies, family="glm-4.5v"), executor, "Open settings").run()
    assert result.records[0]["observation"]["title"] == "com.android.settings/com.android.settings.Settings"


def test_opening_a_terminal_app_is_refused_when_nobody_allows_it(adb):
    from glmv.agent.executors.android import AndroidExecutor

    executor = AndroidExecutor(wait_seconds=0.01)
    replies = [
        mobile({"action_type": "open_app", "app_name": "com.termux"}),
        mobile({"action_type": "status", "goal_status": "infeasible"}),
    ]
    result = Agent(ScriptedEngine(replies, family="glm-4.5v"), executor, "Run a script").run()
    assert result.records[0]["status"] == "refused"
    assert "a terminal" in result.records[0]["gate"]["risk"]
    assert adb() == []  # no monkey launch reached the device
