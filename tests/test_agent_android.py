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
        return [args for args in map(json.loads, lines) if "screencap" not in args and args != ["devices"]]

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
