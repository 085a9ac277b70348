"""``glmv chat`` driven as a person would drive it: typed into a real terminal (tmux), read off the screen.

A taught tiny GLM-4.6V-Flash checkpoint answers; the test attaches an image, has a two-turn conversation,
saves it, clears it, switches thinking off and leaves — checking what the screen shows at each step.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from glmv.testing import taught_conversations, taught_image

pytestmark = pytest.mark.slow

FAMILY = "glm-4.6v-flash"
CONVERSATIONS = {c.name: c for c in taught_conversations(FAMILY)}
PROMPT = "> "


class Terminal:
    """A program running in its own tmux server (private socket), 200 columns wide."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: apt-get install tmux (.ci/run installs it)")
        self.socket = f"glmv-test-{uuid.uuid4().hex[:8]}"
        env = " ".join(
            f"{k}={shlex.quote(v)}" for k, v in os.environ.items() if k.startswith(("HF_", "TRANSFORMERS_"))
        )
        shell = f"cd {shlex.quote(str(cwd))} && env {env} {shlex.join(command)}; echo exit status $?"
        self.tmux("new-session", "-d", "-s", "chat", "-x", "200", "-y", "60", shell)
        self.tmux("set-option", "-t", "chat", "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "chat", "-l", line)
        self.tmux("send-keys", "-t", "chat", "Enter")

    def screen(self, escapes: bool = False) -> str:
        return self.tmux("capture-pane", "-t", "chat", "-p", "-J", "-S", "-500", *(["-e"] if escapes else []))

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            if self.exited():
                break
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def wait_for_prompt(self, count: int, timeout: float = 180.0) -> str:
        """Wait until the chat prompt has been shown ``count`` times (the reply before it is complete)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            lines = [line for line in screen.splitlines() if line.startswith(PROMPT.rstrip())]
            if len(lines) >= count and screen.rstrip().endswith(PROMPT.rstrip()):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"prompt #{count} never appeared; the screen shows:\n{self.screen()}")

    def exited(self) -> bool:
        return self.tmux("display-message", "-t", "chat", "-p", "#{pane_dead}").strip() == "1"

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def terminal(tiny_checkpoints, tmp_path):
    checkpoint = tiny_checkpoints(FAMILY)
    command = [sys.executable, "-m", "glmv", "chat", "-m", str(checkpoint), "--temperature", "0"]
    term = Terminal(command, cwd=tmp_path)
    yield term
    term.close()


def test_a_conversation_with_an_image_and_slash_commands(terminal, tmp_path):
    red = tmp_path / "red.png"
    taught_image("red").save(red)
    grounding = CONVERSATIONS["grounding"]

    terminal.wait_for("/help for commands")
    terminal.type("/help")
    terminal.wait_for("/budget N|off")

    terminal.type(f"/image {red}")
    terminal.wait_for(f"Attached {red}")
    terminal.type(grounding.messages[0]["content"][-1]["text"])
    screen = terminal.wait_for(f"Boxes drawn on {tmp_path / 'red-boxes.png'}")
    assert "The red square is in the picture." in screen  # the reasoning …
    assert "The red square is at [[100,200,300,400]]." in screen  # … then the answer, box markers removed
    dim = "\x1b[2m"
    escaped = terminal.screen(escapes=True)
    assert (
        dim in escaped.split("The red square is in the picture.")[0].splitlines()[-1]
    )  # reasoning is dimmed
    assert (tmp_path / "red-boxes.png").exists()

    terminal.type("What is 15 + 27?")  # a second turn, with the first one in its history
    terminal.wait_for_prompt(count=5)  # /help, /image, first question, second question, and now
    terminal.type("/save first.json")
    terminal.wait_for("Saved the conversation to first.json")
    saved = json.loads((tmp_path / "first.json").read_text())
    assert [m["role"] for m in saved] == ["user", "assistant", "user", "assistant"]
    assert saved[0]["content"][0] == {"type": "image_url", "image_url": {"url": str(red)}}
    assert saved[0]["content"][-1] == {"type": "text", "text": grounding.messages[0]["content"][-1]["text"]}
    assert saved[1]["content"] == grounding.reply
    assert saved[2]["content"] == "What is 15 + 27?"

    terminal.type("/clear")
    terminal.wait_for("Conversation cleared.")
    terminal.type("/think off")
    terminal.wait_for("Thinking off.")
    terminal.type("What is the capital of France?")
    terminal.wait_for("The capital of France is Paris.")
    terminal.type("/save second.json")
    terminal.wait_for("Saved the conversation to second.json")
    saved = json.loads((tmp_path / "second.json").read_text())
    assert [m["content"] for m in saved] == [
        "What is the capital of France?",
        CONVERSATIONS["thinking-off"].reply,
    ]

    terminal.type("/nonsense")
    terminal.wait_for("Unknown or incomplete command: /nonsense")
    terminal.type("/exit")
    deadline = time.monotonic() + 30
    while not terminal.exited() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert terminal.exited()
    assert "exit status 0" in terminal.screen().splitlines()
