"""The web page over :class:`~glmv.engine.RemoteEngine` when the server goes away: a glmv server (``run_server``,
what ``glmv serve`` runs, over a scripted engine) in its own process on 127.0.0.1, killed in the middle of a reply
and started again on the same port. The page says what happened in the chat, keeps the conversation, stays usable,
and answers again once the server is back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")
pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api")

from glmv.engine import RemoteEngine  # noqa: E402
from glmv.testing.serving import free_port, wait_until_healthy  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT = 30_000  # ms

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs the system Chromium")

WORDS = 60
SERVER = textwrap.dedent(
    f"""
    import sys
    from glmv.engine.scripted import ScriptedEngine
    from glmv.server import ServerSettings, run_server

    reply = "<think>Reading the question.</think>" + " ".join(f"word{{i}}" for i in range({WORDS}))
    engine = ScriptedEngine(family="glm-4.6v", default=reply, delay=float(sys.argv[2]))
    run_server(engine, ServerSettings(model_name="glm-4.6v-test"), host="127.0.0.1", port=int(sys.argv[1]))
    """
)


class Server:
    """The glmv server process, which the test kills and starts again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, delay: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.port), str(delay)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ},
        )
        wait_until_healthy(self.root, self.process, interval=0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process.stdout.close()


@pytest.fixture(scope="module")
def server():
    server = Server()
    server.start(delay=0.01)
    yield server
    server.kill()


@pytest.fixture(scope="module")
def web(server):
    from glmv.web import WebSettings, launch

    engine = RemoteEngine(f"{server.root}/v1", family="glm-4.6v", timeout=20)
    port = free_port()
    demo = launch(engine, WebSettings(model="remote"), port=port, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/", demo
    demo.close()


@pytest.fixture(scope="module")
def page(web):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(web[0])
        page.wait_for_selector("#message textarea", timeout=WAIT)
        yield page
        browser.close()


def ask(page, text: str) -> None:
    playwright.expect(page.locator("#message textarea")).to_be_enabled(timeout=WAIT)
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")


def test_a_server_that_goes_away_mid_reply_is_said_in_the_chat_and_the_chat_answers_once_it_is_back(
    page, web, server
):
    chat = page.locator("#chat")
    ask(page, "First question.")
    playwright.expect(chat).to_contain_text(f"word{WORDS - 1}", timeout=WAIT)

    server.kill()
    server.start(delay=0.2)  # slow enough to be killed in the middle of the reply
    ask(page, "Second question.")
    deadline = time.monotonic() + WAIT / 1000
    while (
        chat.inner_text().count("word2 ") < 2 and time.monotonic() < deadline
    ):  # the second reply is streaming
        time.sleep(0.05)
    assert chat.inner_text().count("word2 ") == 2
    server.kill()
    playwright.expect(chat).to_contain_text("Error:", timeout=WAIT)
    said = chat.inner_text()
    assert "Is the server running?" in said and "send it again" in said and "Traceback" not in said
    assert "First question." in said and f"word{WORDS - 1}" in said  # the conversation is kept

    ask(page, "Are you there?")  # while it is down
    playwright.expect(chat.locator("text=Error:")).to_have_count(2, timeout=WAIT)

    server.start(delay=0.01)
    ask(page, "Third question.")
    playwright.expect(chat.locator(f"text=word{WORDS - 1}")).to_have_count(2, timeout=WAIT)
    (session,) = web[1].glmv_page.sessions
    messages = session.conversation.messages
    assert [message["role"] for message in messages] == ["user", "assistant", "user", "assistant"]
    assert [messages[0]["content"], messages[2]["content"]] == ["First question.", "Third question."]
