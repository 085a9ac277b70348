"""``glmv web`` as users start it, over a taught tiny checkpoint, in headless Chromium: a grounding question with
the taught image gets the taught reply with its box drawn, and the exported conversation continues in
``glmv chat --load``. One server (the ``glmv web`` process) and one browser for the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("gradio")
playwright = pytest.importorskip("playwright.sync_api")

from glmv.messages import Conversation  # noqa: E402
from glmv.testing import taught_conversations, taught_image  # noqa: E402
from glmv.testing.serving import free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT = 60_000  # ms: a tiny model on a busy CPU
FAMILY = "glm-4.6v"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs the system Chromium")


def _taught(name: str):
    return next(conv for conv in taught_conversations(FAMILY) if conv.name == name)


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoints) -> Path:
    return tiny_checkpoints(FAMILY)


@pytest.fixture(scope="module")
def server(checkpoint, tmp_path_factory):
    port = free_port()
    command = [sys.executable, "-m", "glmv", "web", "-m", str(checkpoint), "--port", str(port)]
    command += ["--temperature", "0", "--device", "cpu", "--max-upload-mb", "5"]
    log = tmp_path_factory.mktemp("web-log") / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"glmv web did not start:\n{log.read_text()}")
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def page(server):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(server)
        page.wait_for_selector("#message textarea", timeout=WAIT)
        yield page
        browser.close()


def test_a_taught_grounding_question_gets_its_box_drawn_and_the_export_continues_in_glmv_chat(
    page, checkpoint, tmp_path
):
    grounding = _taught("grounding")
    picture = tmp_path / "red.png"
    taught_image(grounding.images[0]).save(picture)
    page.set_input_files("#message input[type=file]", str(picture))
    playwright.expect(page.locator("#upload-cost")).to_contain_text("red.png", timeout=WAIT)
    question = grounding.messages[-1]["content"][-1]["text"]
    page.fill("#message textarea", question)
    page.press("#message textarea", "Enter")
    chat = page.locator("#chat")
    playwright.expect(chat).to_contain_text("The red square is at [[100,200,300,400]].", timeout=WAIT)
    playwright.expect(page.locator("#chat .thought-group .title")).to_contain_text("Thought for")
    assert "begin_of_box" not in page.inner_text("#chat")
    playwright.expect(page.locator("#coordinates")).to_contain_text("[6, 11, 17, 22]", timeout=WAIT)
    playwright.expect(page.locator("#grounding img")).to_be_visible()

    page.get_by_text("Export", exact=True).click()
    page.click("#export-json")
    link = page.locator("#exported a").first
    playwright.expect(link).to_be_visible(timeout=WAIT)
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "conversation.json"
    download.value.save_as(saved)
    assert Conversation.load(saved).messages[1]["content"] == "The red square is at [[100,200,300,400]]."

    plain = _taught("plain")
    command = [sys.executable, "-m", "glmv", "chat", "-m", str(checkpoint), "--device", "cpu"]
    command += ["--load", str(saved), "-p", plain.messages[-1]["content"], "--json", "--max-tokens", "8"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["usage"]["completion_tokens"] >= 1
    assert reply["usage"]["prompt_tokens"] > 40  # the image turn of the web page came along
