"""The desktop executor under an Xvfb the test starts, driven through the agent loop by scripted GLM-4.5V desktop
replies: it clicks into a real Tk window, types into it (Unicode too), presses keys, scrolls its list and clicks its
button, and the window's own state shows each effect."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from glmv.agent import Agent
from glmv.engine.scripted import ScriptedEngine

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="X11 desktop executor: Linux only"),
]

B, E = "<|begin_of_box|>", "<|end_of_box|>"
WIDTH, HEIGHT = 640, 480

APP = r"""
import json, sys, tkinter as tk
state_file = sys.argv[1]
root = tk.Tk()
root.title("glmv test window")
root.geometry("600x440+0+0")
entry = tk.Entry(root, width=40)
entry.place(x=20, y=20, width=300, height=30)
saved = tk.StringVar(value="")
keys = []
def save():
    saved.set(entry.get())
    dump()
button = tk.Button(root, text="Save", command=save)
button.place(x=340, y=20, width=100, height=30)
listbox = tk.Listbox(root)
for i in range(200):
    listbox.insert("end", f"row {i}")
listbox.place(x=20, y=80, width=300, height=300)
def where(widget):
    return [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(), widget.winfo_height()]
def dump(*_):
    data = {"entry": entry.get(), "saved": saved.get(), "keys": keys, "list_top": listbox.yview()[0],
            "entry_at": where(entry), "button_at": where(button), "list_at": where(listbox)}
    with open(state_file + ".tmp", "w") as f:
        json.dump(data, f)
    import os
    os.replace(state_file + ".tmp", state_file)
entry.bind("<KeyRelease>", lambda e: (keys.append(e.keysym), dump()))
root.bind_all("<Control-a>", lambda e: (keys.append("ctrl+a"), dump()))
listbox.bind("<Button-5>", lambda e: root.after(50, dump), add="+")
root.after(300, dump)
root.mainloop()
"""


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    from glmv.agent.executors.desktop import DesktopExecutor
    from glmv.agent.executors.xvfb import Xvfb

    folder = tmp_path_factory.mktemp("tk")
    (folder / "app.py").write_text(APP)
    state = folder / "state.json"
    with Xvfb(WIDTH, HEIGHT) as server:
        app = subprocess.Popen(
            [sys.executable, str(folder / "app.py"), str(state)],
            env={"DISPLAY": server.display, "PATH": "/usr/bin"},
        )
        try:
            deadline = time.monotonic() + 20
            while not state.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert state.exists(), "the Tk window did not start"
            executor = DesktopExecutor(display=server.display, wait_seconds=0.05)
            yield executor, lambda: json.loads(state.read_text())
            executor.close()
        finally:
            app.terminate()
            app.wait(timeout=10)


def _centre(box: list[int]) -> str:
    """The centre of a widget as GLM desktop thousandths ``[x,y]``."""
    x, y, w, h = box
    return f"[{round((x + w / 2) / WIDTH * 1000)},{round((y + h / 2) / HEIGHT * 1000)}]"


def pc(action: str) -> str:
    return f"<think>Looking.</think>I will act. {B}{action}{E}\nMemory:\n[]"


def _wait_for(read, check, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = read()
        if check(state):
            return state
        time.sleep(0.05)
    return read()


def test_click_type_keys_scroll_and_save_in_a_tk_window(desktop):
    executor, read = desktop
    start = read()
    assert executor.observe().size == (WIDTH, HEIGHT)
    replies = [
        pc(f"left_click(start_box='{_centre(start['entry_at'])}', element_info='the text field')"),
        pc("type(content='héllo wörld')"),
        pc("key(keys='ctrl+a')"),
        pc(f"scroll(start_box='{_centre(start['list_at'])}', direction='down', step=5)"),
        pc(f"left_click(start_box='{_centre(start['button_at'])}', element_info='Save')"),
        pc("DONE()"),
    ]
    engine = ScriptedEngine(replies, family="glm-4.5v")
    result = Agent(engine, executor, "Write hello world and save it").run()
    assert result.status == "finished", result.records
    assert [record["status"] for record in result.records] == ["acted"] * 5 + ["done"]
    state = _wait_for(read, lambda s: s["saved"] == "héllo wörld" and s["list_top"] > 0)
    assert state["entry"] == "héllo wörld"
    assert state["saved"] == "héllo wörld"
    assert "ctrl+a" in state["keys"]
    assert state["list_top"] > 0
    assert result.records[0]["observation"]["title"] == "glmv test window"


def test_a_missing_display_is_an_executor_error():
    from glmv.agent.executors import ExecutorError
    from glmv.agent.executors.desktop import DesktopExecutor

    with pytest.raises(ExecutorError, match=":77"):
        DesktopExecutor(display=":77")


def test_a_private_display_is_started_and_stopped():
    from pathlib import Path

    from glmv.agent.executors.desktop import DesktopExecutor

    executor = DesktopExecutor(private=True, width=320, height=200)
    socket = Path("/tmp/.X11-unix") / f"X{executor.display.lstrip(':')}"
    try:
        assert socket.exists()
        assert executor.observe().size == (320, 200)
    finally:
        executor.close()
    assert not socket.exists()


def test_a_missing_xdotool_names_the_package(monkeypatch):
    from glmv.agent.executors import desktop
    from glmv.errors import MissingDependencyError

    monkeypatch.setattr(desktop.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="apt-get install xdotool"):
        desktop.DesktopExecutor(display=":99")
