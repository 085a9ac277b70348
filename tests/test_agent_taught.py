"""A taught tiny checkpoint drives the browser agent end to end on a LocalEngine, writing real GLM web replies in
the GLM-4.1V (``<answer>``) and GLM-4.5V shapes.

A scripted run records the exact requests the loop sends on a local page (the official web prompt, the labelled
320×240 screenshot); a tiny checkpoint of each family is taught those requests → the family's replies
(:func:`glmv.testing.teach_head.teach_checkpoint`), then the agent runs again on a LocalEngine over it against a fresh
page, and the page shows that the field was filled and the button pressed."""

from __future__ import annotations

import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from glmv.agent import Agent, AgentSettings, SafetyGate
from glmv.engine.scripted import ScriptedEngine
from glmv.testing import TaughtConversation
from glmv.testing.conversations import taught_reply

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

PAGE = b"""<title>Greeter</title><input id="who" placeholder="Name">
<button onclick="out.textContent = 'Hello, ' + document.getElementById('who').value">Greet</button><p id="out"></p>"""
TASK = "Greet Ada"
ACTIONS = ("Type [0]; [Ada]", "Click [1]", "ANSWER; <content>Hello, Ada</content>")
NOON = datetime(2026, 1, 5, 12, 0)  # the GLM-4.5V web prompt states the hour: fixed, so the prompts repeat


def _replies(family: str) -> list[tuple[str, str]]:
    """The family's raw web replies (reasoning, then Thought / Action / Memory_Updated) and their stop tokens."""
    return [
        taught_reply(
            family,
            reasoning=f"Step {step}: the page has a name field and a Greet button.",
            content=f"Thought: {thought}\nAction: {action}\nMemory_Updated: {{}}",
        )
        for step, (thought, action) in enumerate(
            zip(("Type the name.", "Press Greet.", "The greeting shows."), ACTIONS, strict=True), 1
        )
    ]


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from glmv.agent.executors.browser import BrowserExecutor

    executor = BrowserExecutor(width=320, height=240, wait_seconds=0.05)
    yield executor
    executor.close()


@pytest.fixture(scope="module")
def taught(browser, site, tiny_checkpoints, tmp_path_factory):
    """``teach(family) -> (checkpoint folder, the taught (reply, stop) pairs)``: a tiny checkpoint of ``family``
    taught the requests of a scripted run. Not cached across sessions: the page's port is in every prompt, and
    teaching takes a few seconds."""
    from glmv.testing.teach_head import teach_checkpoint

    def teach(family: str) -> tuple[Path, list[tuple[str, str]]]:
        replies = _replies(family)
        engine = ScriptedEngine([reply + stop for reply, stop in replies], family=family)
        browser.goto(site)
        result = Agent(engine, browser, TASK, clock=lambda: NOON).run()
        assert result.status == "answered" and browser.page.inner_text("#out") == "Hello, Ada"
        conversations = [
            TaughtConversation(f"step-{i}", tuple(request.messages), reply, stop)
            for i, (request, (reply, stop)) in enumerate(zip(engine.history, replies, strict=True), 1)
        ]
        folder = tmp_path_factory.mktemp(f"taught-{family}")
        teach_checkpoint(tiny_checkpoints(family, taught=False), folder, conversations)
        return folder, replies

    return teach


@pytest.mark.parametrize("family", ["glm-4.1v", "glm-4.5v"])
def test_a_taught_checkpoint_fills_a_field_and_presses_a_button(family, taught, browser, site):
    from glmv.engine.local import LocalEngine

    folder, replies = taught(family)
    browser.goto(site)  # a fresh page: the field is empty
    assert browser.page.input_value("#who") == "" and browser.page.inner_text("#out") == ""
    questions: list[str] = []
    gate = SafetyGate("risky", ask=lambda question: questions.append(question) or True)
    with LocalEngine(folder, device="cpu") as engine:
        result = Agent(
            engine, browser, TASK, gate=gate, settings=AgentSettings(max_steps=5), clock=lambda: NOON
        ).run()
    assert [record["raw"] for record in result.records] == [reply for reply, _ in replies]
    assert [record["status"] for record in result.records] == ["acted", "acted", "done"]
    assert result.status == "answered" and result.answer == "Hello, Ada"
    assert browser.page.input_value("#who") == "Ada"
    assert browser.page.inner_text("#out") == "Hello, Ada"
    assert questions == []  # typing a name and pressing a plain button are not risky
    if family == "glm-4.1v":
        assert all("<answer>" in record["raw"] for record in result.records)
    else:
        assert not any("<answer>" in record["raw"] for record in result.records)


def test_replies_the_model_cannot_tell_apart_are_refused_with_the_reason():
    from glmv.errors import ModelLoadError
    from glmv.families import get_family
    from glmv.testing.checkpoint import SIZES, build_tiny
    from glmv.testing.teach_head import teach_head

    model, processor = build_tiny(get_family("glm-4.5v"), SIZES["small"])
    ask = ({"role": "user", "content": "What is 15 + 27?"},)
    same_prompt = [
        TaughtConversation(name, ask, *taught_reply("glm-4.5v", content=answer))
        for name, answer in (("one", "42"), ("other", "43"))
    ]
    with pytest.raises(ModelLoadError, match="look the same to the model"):
        teach_head(model, processor, same_prompt, max_steps=30)
    with pytest.raises(ModelLoadError, match="nothing to teach"):
        teach_head(model, processor, [])
