"""``glmv chat`` driven as a person would drive it: typed into a real terminal (tmux), read off the screen.

A taught tiny GLM-4.6V-Flash checkpoint answers the first test: it attaches an image, has a two-turn conversation,
saves it, clears it, switches thinking off and leaves — checking what the screen shows at each step. The others talk
(``--api``) to a real ``glmv serve`` on 127.0.0.1 whose scripted model repeats what it was sent: a conversation saved,
left and continued with ``--load``, and bad attachments refused without ending the chat.
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

from glmv.engine.scripted import ScriptedEngine
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
    assert saved["format"] == "glmv.conversation" and saved["family"] == FAMILY
    messages = saved["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"][0] == {"type": "image_url", "image_url": {"url": str(red)}}
    assert messages[0]["content"][-1] == {
        "type": "text",
        "text": grounding.messages[0]["content"][-1]["text"],
    }
    assert messages[1] == {  # the parsed reply, not raw GLM text
        "role": "assistant",
        "content": "The red square is at [[100,200,300,400]].",
        "reasoning_content": "The red square is in the picture.",
    }
    assert messages[2]["content"] == "What is 15 + 27?"

    terminal.type("/clear")
    terminal.wait_for("Conversation cleared.")
    terminal.type("/think off")
    terminal.wait_for("Thinking off.")
    terminal.type("What is the capital of France?")
    terminal.wait_for("The capital of France is Paris.")
    terminal.type("/save second.json")
    terminal.wait_for("Saved the conversation to second.json")
    saved = json.loads((tmp_path / "second.json").read_text())
    assert [m["content"] for m in saved["messages"]] == [
        "What is the capital of France?",
        "The capital of France is Paris.",
    ]
    assert saved["settings"]["enable_thinking"] is False

    terminal.type("/nonsense")
    terminal.wait_for("Unknown or incomplete command: /nonsense")
    terminal.type("/exit")
    deadline = time.monotonic() + 30
    while not terminal.exited() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert terminal.exited()
    assert "exit status 0" in terminal.screen().splitlines()


class RecallingEngine(ScriptedEngine):
    """A scripted model whose reply repeats the earlier user messages it was sent (what it "remembers")."""

    def generate(self, request):
        earlier = [m["content"] for m in request.messages if m["role"] == "user"][:-1]
        recalled = " | ".join(c if isinstance(c, str) else "(media)" for c in earlier) or "nothing"
        self.enqueue(f"<think>Looking back.</think>\nEarlier you said: [{recalled}]")
        return super().generate(request)


@pytest.fixture
def scripted_chat(tmp_path):
    """``start(*args)``: ``glmv chat --api`` in a terminal, talking to a :class:`RecallingEngine` behind a real
    ``glmv serve`` on 127.0.0.1; the engine is ``start.engine``."""
    from glmv.server import ServerSettings
    from glmv.server.background import BackgroundServer

    engine = RecallingEngine(family="glm-4.6v")
    terminals: list[Terminal] = []
    with BackgroundServer(engine, ServerSettings(model_name="remote-glm")) as server:

        def start(*args: str) -> Terminal:
            command = [sys.executable, "-m", "glmv", "chat", "--api", server.base_url, "-m", "remote-glm"]
            terminals.append(Terminal([*command, "--family", "glm-4.6v", *args], cwd=tmp_path))
            return terminals[-1]

        start.engine = engine  # type: ignore[attr-defined]
        yield start
        for terminal in terminals:
            terminal.close()


def _leave(terminal: Terminal) -> None:
    terminal.type("/exit")
    deadline = time.monotonic() + 30
    while not terminal.exited() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "exit status 0" in terminal.screen().splitlines()


def test_save_exit_and_continue_with_load(scripted_chat, tmp_path):
    first = scripted_chat()
    first.wait_for("/help for commands")
    first.type("My name is Ada.")
    first.wait_for("Earlier you said: [nothing]")
    first.type("/save ada.json")
    first.wait_for("Saved the conversation to ada.json")
    _leave(first)

    second = scripted_chat("--load", "ada.json")
    second.wait_for("Continuing ada.json: 1 earlier question(s).")
    second.type("What is my name?")
    second.wait_for("Earlier you said: [My name is Ada.]")  # the model was sent the saved history
    sent = scripted_chat.engine.history[-1].messages
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == "Earlier you said: [nothing]" and "reasoning_content" not in sent[1]
    second.type("/save ada.json")
    second.wait_for("Saved the conversation to ada.json")
    saved = json.loads((tmp_path / "ada.json").read_text())
    assert [m["content"] for m in saved["messages"]] == [
        "My name is Ada.",
        "Earlier you said: [nothing]",
        "What is my name?",
        "Earlier you said: [My name is Ada.]",
    ]
    _leave(second)


def test_a_bad_attachment_is_refused_and_the_chat_goes_on(scripted_chat, tmp_path):
    (tmp_path / "garbage.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (tmp_path / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    taught_image("red").save(tmp_path / "red.png")
    terminal = scripted_chat()
    terminal.wait_for("/help for commands")

    terminal.type("/file garbage.pdf")
    terminal.wait_for("garbage.pdf': it is damaged or not a PDF")
    terminal.type("/image truncated.png")
    terminal.wait_for("truncated or corrupt")
    terminal.type("/image red.png")
    terminal.wait_for("Attached red.png to your next message.")
    terminal.type("What colour is it?")
    terminal.wait_for("Earlier you said: [nothing]")
    terminal.type("And now?")
    screen = terminal.wait_for("Earlier you said: [(media)]")
    assert screen.count("Not attached:") == 2  # each failure told once, never repeated by later messages
    assert "Error:" not in screen
    first_question = scripted_chat.engine.history[0].messages[-1]["content"]
    assert [part["type"] != "text" for part in first_question] == [True, False]  # only the good image went
    _leave(terminal)
