"""The web page in headless Chromium (Playwright) over a scripted engine: one server and one browser for the
module, a fresh page (browser session) per test.

The engine makes a fresh :class:`~glmv.engine.ScriptedEngine` per request, replaying the reply scripted for the
question (or a default built from it), so concurrent sessions can be told apart and every request and
cancellation is recorded. Set ``GLMV_WEB_SCREENSHOT=docs/images/web.png`` to save the README screenshot.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("gradio")
playwright = pytest.importorskip("playwright.sync_api")

from glmv.engine import ScriptedEngine  # noqa: E402
from glmv.families import get_family  # noqa: E402
from glmv.media import MediaPolicy  # noqa: E402
from glmv.messages import Conversation  # noqa: E402
from glmv.testing.serving import free_port  # noqa: E402

DATA = Path(__file__).parent / "data" / "web"  # office files and a locked PDF, see its README.md
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT = 15_000  # ms

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs the system Chromium")


class EchoEngine:
    """Replies scripted per question (the last user text), one ScriptedEngine per request."""

    family = get_family("glm-4.6v")

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.script: dict[str, str] = {}
        self.engines: list[ScriptedEngine] = []
        self.lock = threading.Lock()

    def generate(self, request):
        question = _last_text(request.messages)
        reply = self.script.get(question, f"<think>The user said {question}.</think>You said: {question}")
        delay = 0.15 if question.startswith("slow") else self.delay
        engine = ScriptedEngine([reply], family=self.family, delay=delay)
        with self.lock:
            self.engines.append(engine)
        return engine.generate(request)

    @property
    def requests(self):
        return [engine.history[0] for engine in self.engines if engine.history]

    @property
    def cancelled(self) -> int:
        return sum(engine.cancelled for engine in self.engines)


def _last_text(messages) -> str:
    content = messages[-1]["content"]
    if isinstance(content, str):
        return content
    return " ".join(part["text"] for part in content if part.get("type") == "text")


@pytest.fixture(scope="module")
def engine() -> EchoEngine:
    return EchoEngine()


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory):
    from glmv.web import WebSettings, launch

    policy = MediaPolicy.strict().replace(max_image_pixels=200_000)
    settings = WebSettings(
        model="scripted", policy=policy, max_upload_mb=1, stream_interval=0.02, document_tokens=1000
    )
    port = free_port()
    demo = launch(engine, settings, port=port, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/", demo
    demo.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(server[0])
    page.wait_for_selector("#message textarea", timeout=WAIT)
    yield page
    context.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("uploads")
    paths = {}
    paths["photo"] = folder / "photo.png"
    picture = Image.new("RGB", (200, 100), (240, 240, 240))
    picture.paste((220, 30, 30), (40, 30, 100, 70))
    picture.save(paths["photo"])
    paths["street"] = folder / "street.png"
    street = Image.new("RGB", (480, 320), (150, 200, 245))
    draw = ImageDraw.Draw(street)
    draw.rectangle((0, 200, 480, 320), fill=(110, 110, 115))
    draw.ellipse((390, 20, 450, 80), fill=(250, 210, 60))
    draw.rectangle((150, 190, 330, 250), fill=(220, 30, 30))
    draw.rectangle((185, 165, 295, 192), fill=(200, 25, 25))
    for x in (190, 290):
        draw.ellipse((x - 18, 232, x + 18, 268), fill=(20, 20, 20))
    street.save(paths["street"])
    paths["report"] = folder / "report.pdf"
    Image.new("RGB", (400, 300), (255, 255, 255)).save(paths["report"], format="PDF")
    paths["long"] = folder / "long.pdf"  # 40 small pages of 108 image tokens each
    pages = [Image.new("RGB", (100, 140), (255, 255, 255 - number)) for number in range(40)]
    pages[0].save(paths["long"], save_all=True, append_images=pages[1:], resolution=72)
    paths["renamed"] = folder / "notes.txt"  # a PNG whose name says text: typed by content
    Image.new("RGB", (56, 56), (30, 60, 220)).save(paths["renamed"], format="PNG")
    paths["garbage"] = folder / "broken.png"
    paths["garbage"].write_bytes(b"this is not an image at all, just words\n" * 4)
    paths["truncated"] = folder / "cut.png"
    whole = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(whole, format="PNG")
    paths["truncated"].write_bytes(whole.getvalue()[:60])
    paths["clip"] = folder / "clip.bin"  # an MP4 with a name that says nothing
    with av.open(str(paths["clip"]), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(8):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 30, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    paths["frameless"] = folder / "frameless.avi"  # a video stream that holds no frame
    with av.open(str(paths["frameless"]), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    paths["soundtrack"] = folder / "soundtrack.mp4"  # an MP4 with sound only
    with av.open(str(paths["soundtrack"]), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        for index in range(4):
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 8000, index * 1024
            for packet in stream.encode(sound):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    paths["huge"] = folder / "huge.png"
    Image.new("RGB", (600, 600), (9, 9, 9)).save(paths["huge"])  # over the 200,000-pixel policy
    return paths


def ask(page, text: str, files: tuple[Path, ...] = ()) -> None:
    if files:
        page.set_input_files("#message input[type=file]", [str(path) for path in files])
        for path in files:
            playwright.expect(page.locator("#upload-cost")).to_contain_text(path.name, timeout=WAIT)
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")


def answer(page, text: str) -> None:
    playwright.expect(page.locator("#chat")).to_contain_text(text, timeout=WAIT)


def test_image_and_pdf_stream_reasoning_in_an_open_panel_then_the_answer(page, engine, files):
    engine.script["Describe both."] = (
        "<think>" + " ".join(f"step{i}" for i in range(40)) + "</think>A red block on grey, and a blank page."
    )
    engine.delay = 0.03
    try:
        ask(page, "Describe both.", (files["photo"], files["report"]))
        open_panel = page.locator("#chat .thought-group .title.expanded")
        playwright.expect(open_panel).to_contain_text("Thinking ·", timeout=WAIT)
        playwright.expect(open_panel).to_contain_text("tokens")
        assert "A red block" not in page.inner_text("#chat")
        answer(page, "A red block on grey, and a blank page.")
        playwright.expect(open_panel).to_have_count(0)
        playwright.expect(page.locator("#chat .thought-group .title")).to_contain_text("Thought for")
    finally:
        engine.delay = 0.01
    chat = page.inner_text("#chat")
    assert (
        "photo.png: image 200×100, 28 tokens" in chat and "report.pdf: document, 1 page, 252 tokens" in chat
    )
    parts = engine.requests[-1].messages[-1]["content"]
    assert [part["type"] for part in parts] == ["image_url", "image_url", "text"]


def test_files_are_typed_by_content_not_by_name(page, engine, files):
    ask(page, "What is in the notes?", (files["renamed"],))
    answer(page, "You said: What is in the notes?")
    assert "notes.txt: image" in page.inner_text("#chat")


def test_a_video_goes_to_the_model_as_a_video_with_its_token_cost_shown(page, engine, files):
    ask(page, "What happens in the clip?", (files["clip"],))
    answer(page, "You said: What happens in the clip?")
    assert "clip.bin: video 2.0 s, " in page.inner_text("#chat")
    parts = engine.requests[-1].messages[-1]["content"]
    assert [part["type"] for part in parts] == ["video_url", "text"]


def test_stop_cancels_the_generation_keeps_the_partial_answer_and_the_next_message_answers(page, engine):
    engine.script["slow story"] = "<think>Plan.</think>" + " ".join(f"word{i}" for i in range(200))
    before = engine.cancelled
    ask(page, "slow story")
    answer(page, "word3")
    page.click("#stop")
    answer(page, "(stopped)")
    deadline = time.monotonic() + 10
    while engine.cancelled == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.cancelled == before + 1
    assert "word199" not in page.inner_text("#chat")
    ask(page, "Still there?")
    answer(page, "You said: Still there?")
    history = engine.requests[-1].messages
    assert history[-2]["role"] == "assistant" and history[-2]["content"].startswith("word0 word1")


def test_thinking_switch_and_budget_reach_the_request(page, engine):
    page.locator("#thinking input").uncheck()
    page.fill("#budget input", "5")
    ask(page, "No thinking please.")
    answer(page, "You said: No thinking please.")
    request = engine.requests[-1]
    assert request.enable_thinking is False and request.thinking_budget == 5
    page.locator("#thinking input").check()
    page.fill("#budget input", "0")
    ask(page, "Think again.")
    answer(page, "You said: Think again.")
    assert engine.requests[-1].enable_thinking is True and engine.requests[-1].thinking_budget is None


def test_a_box_answer_shows_the_last_image_with_the_box_drawn_and_its_coordinates(page, engine, files):
    engine.script["Where is the red car?"] = (
        "<think>The user asks where the red car is. I see a street scene: blue sky, a yellow sun at the top "
        "right, a grey road, and a red car on the road with two black wheels. The car spans about x = 145 to 335 "
        "and y = 170 to 270 pixels of the 480 × 320 picture; in thousandths that is [302, 531, 698, 844].</think>"
        "The red car is at <|begin_of_box|>[[302,531,698,844]]<|end_of_box|>."
    )
    ask(page, "Where is the red car?", (files["street"],))
    answer(page, "The red car is at [[302,531,698,844]].")
    assert "begin_of_box" not in page.inner_text("#chat")
    playwright.expect(page.locator("#coordinates")).to_contain_text("[145, 170, 335, 270]", timeout=WAIT)
    picture = page.locator("#grounding img")
    playwright.expect(picture).to_be_visible(timeout=WAIT)
    drawn = Image.open(io.BytesIO(page.request.get(picture.get_attribute("src")).body())).convert("RGB")
    assert drawn.size == (480, 320)
    assert drawn.getpixel((145, 240)) == (230, 25, 75)  # the box's left edge, drawn over the grey road
    assert drawn.getpixel((100, 240)) == (110, 110, 115)  # the road beside it, untouched
    target = os.environ.get("GLMV_WEB_SCREENSHOT")
    if target:
        page.locator("#chat .thought-group .title").first.click()
        playwright.expect(page.locator("#chat .thought-group .content")).to_contain_text("street scene")
        time.sleep(0.5)  # the panel's opening animation
        shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
        shot.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)  # a small PNG


def test_an_html_answer_renders_in_a_sandboxed_iframe_with_its_source_and_a_download(page, engine):
    engine.script["Make a page."] = (
        '<!DOCTYPE html>\n<html><body><h1 id="title">Hello from GLM</h1>'
        "<script>document.getElementById('title').dataset.ran = 'yes';</script></body></html>"
    )
    ask(page, "Make a page.")
    frame = page.frame_locator("#glmv-html-preview")
    playwright.expect(frame.locator("#title")).to_have_text("Hello from GLM", timeout=WAIT)
    playwright.expect(frame.locator("#title")).to_have_attribute("data-ran", "yes")
    sandbox = page.get_attribute("#glmv-html-preview", "sandbox")
    assert sandbox == "allow-scripts"
    page.locator("#view-source input").check()
    playwright.expect(page.locator("#html-source")).to_contain_text("Hello from GLM", timeout=WAIT)
    with page.expect_download() as download:
        page.locator("#html-file a").first.click()
    assert "Hello from GLM" in Path(download.value.path()).read_text()
    engine.script["Make the header blue."] = (
        '```html\n<h1 id="title" style="color: blue">Hello in blue</h1>\n```\nThe header is blue now.'
    )
    ask(page, "Make the header blue.")
    playwright.expect(frame.locator("#title")).to_have_text("Hello in blue", timeout=WAIT)
    earlier = engine.requests[-1].messages[-2]
    assert (
        earlier["role"] == "assistant" and "Hello from GLM" in earlier["content"]
    )  # the page went as context


def test_two_browser_sessions_at_once_each_get_their_own_answer(browser, server, engine):
    pages = []
    for _ in range(2):
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(server[0])
        tab.wait_for_selector("#message textarea", timeout=WAIT)
        pages.append(tab)
    engine.delay = 0.03
    try:
        for number, tab in enumerate(pages):
            ask(tab, f"I am session {number}.")
        for number, tab in enumerate(pages):
            answer(tab, f"You said: I am session {number}.")
    finally:
        engine.delay = 0.01
    assert "session 1" not in pages[0].inner_text("#chat")
    assert "session 0" not in pages[1].inner_text("#chat")
    for tab in pages:
        tab.context.close()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ("garbage", "broken.png is text starting with"),
        ("truncated", "cut.png"),
        ("huge", "huge.png"),
        ("frameless", "frameless.avi: 'frameless.avi' has a video stream with no frames"),
        ("soundtrack", "soundtrack.mp4: 'soundtrack.mp4' has no video stream (is it audio only?)"),
        ("locked", "locked.pdf: The PDF 'locked.pdf' is password protected"),
    ],
    ids=[
        "not-an-image",
        "truncated-png",
        "over-the-pixel-limit",
        "video-without-frames",
        "audio-only",
        "encrypted-pdf",
    ],
)
def test_a_bad_upload_shows_the_error_in_the_chat_and_the_chat_goes_on(page, engine, files, upload, message):
    ask(page, "Look at this.", (files[upload] if upload in files else DATA / f"{upload}.pdf",))
    playwright.expect(page.locator("#chat")).to_contain_text("Error:", timeout=WAIT)
    assert message in page.inner_text("#chat")
    ask(page, "And now?")
    answer(page, "You said: And now?")
    assert len(engine.requests[-1].messages) == 1  # the refused question never reached the model


def test_regenerate_and_clear(page, engine):
    ask(page, "Once more.")
    answer(page, "You said: Once more.")
    count = len(engine.requests)
    engine.script["Once more."] = "<think>Again.</think>A second answer."
    page.click("#regenerate")
    answer(page, "A second answer.")
    assert len(engine.requests) == count + 1 and len(engine.requests[-1].messages) == 1
    assert "You said: Once more." not in page.inner_text("#chat")
    page.click("#clear")
    playwright.expect(page.locator("#chat")).not_to_contain_text("A second answer.", timeout=WAIT)
    ask(page, "Fresh start.")
    answer(page, "You said: Fresh start.")
    assert len(engine.requests[-1].messages) == 1


def test_export_json_is_a_conversation_file_and_markdown_a_transcript(page, engine, files):
    ask(page, "Remember this.", (files["photo"],))
    answer(page, "You said: Remember this.")
    page.locator("#chat").click()  # the export accordion opens on its label
    page.get_by_text("Export", exact=True).click()
    page.click("#export-json")
    link = page.locator("#exported a").first
    playwright.expect(link).to_be_visible(timeout=WAIT)
    with page.expect_download() as download:
        link.click()
    conversation = Conversation.load(download.value.path())
    assert [message["role"] for message in conversation.messages] == ["user", "assistant"]
    assert conversation.messages[1]["content"] == "You said: Remember this."
    assert conversation.last_image.startswith("data:image/png")
    page.click("#export-markdown")
    playwright.expect(page.locator("#exported")).to_contain_text(".md", timeout=WAIT)
    with page.expect_download() as download:
        page.locator("#exported a").first.click()
    text = Path(download.value.path()).read_text()
    assert "## User" in text and "Remember this." in text and "You said: Remember this." in text


def test_edit_and_resend_a_question_replaces_it_and_its_answer(page, engine):
    ask(page, "First version.")
    answer(page, "You said: First version.")
    page.hover("#chat [data-testid=user]")
    page.click("#chat button[aria-label=Edit]")
    page.locator("#chat textarea").fill("Second version.")
    page.click("#chat button[aria-label=Submit]")
    answer(page, "You said: Second version.")
    assert "First version." not in page.inner_text("#chat")
    assert [_last_text(engine.requests[-1].messages)] == ["Second version."]
    assert len(engine.requests[-1].messages) == 1


def test_an_upload_over_max_upload_mb_is_refused_on_the_page_and_the_chat_goes_on(page, files, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(files["photo"].read_bytes() + os.urandom(1_200_000))
    page.set_input_files("#message input[type=file]", str(big))
    playwright.expect(page.get_by_text("exceed the maximum allowed size of 1.0 Mb")).to_be_visible(
        timeout=WAIT
    )
    ask(page, "Nothing attached.")
    answer(page, "You said: Nothing attached.")


def test_a_session_folder_is_removed_when_its_tab_goes_away(browser, server, files):
    demo = server[1]
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(server[0])
    tab.wait_for_selector("#message textarea", timeout=WAIT)
    before = set(demo.glmv_page.sessions.root.iterdir())
    ask(tab, "Keep this.", (files["photo"],))
    answer(tab, "You said: Keep this.")
    (folder,) = set(demo.glmv_page.sessions.root.iterdir()) - before
    assert any(folder.iterdir())
    context.close()
    deadline = time.monotonic() + 20
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists()


def test_clear_while_a_reply_streams_stops_it_and_the_next_question_starts_afresh(page, engine):
    engine.script["slow clear"] = "<think>Plan.</think>" + " ".join(f"item{i}" for i in range(200))
    ask(page, "slow clear")
    answer(page, "item2")
    page.click("#clear")
    playwright.expect(page.locator("#chat")).not_to_contain_text("item2", timeout=WAIT)
    playwright.expect(page.locator("#message textarea")).to_be_enabled(timeout=WAIT)
    ask(page, "After clear.")
    answer(page, "You said: After clear.")
    assert len(engine.requests[-1].messages) == 1


def test_a_question_sent_right_after_clear_is_answered_while_the_old_reply_winds_down(page, engine):
    """The cleared reply's event is still ending (it sees its stop switch within a poll) when the next question
    is sent; the page must take that question, not ignore a submit while an event is pending."""
    engine.script["slow again"] = "<think>Plan.</think>" + " ".join(f"word{i}" for i in range(400))
    engine.delay = 0.01
    try:
        for number in range(4):
            ask(page, "slow again")
            answer(page, "word2")
            page.click("#clear")
            playwright.expect(page.locator("#message textarea")).to_be_enabled(timeout=WAIT)
            ask(page, f"Right after clear {number}.")
            answer(page, f"You said: Right after clear {number}.")
            assert len(engine.requests[-1].messages) == 1
    finally:
        engine.delay = 0


HAND_OVER = """([data, name, type, how]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type}));
  const box = document.querySelector('#message textarea');
  box.focus();
  if (how === 'paste') {
    box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: transfer, bubbles: true, cancelable: true}));
  } else {
    for (const kind of ['dragenter', 'dragover', 'drop']) {
      box.dispatchEvent(new DragEvent(kind, {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }
  }
}"""


@pytest.mark.parametrize("how", ["paste", "drop"])
def test_an_image_pasted_or_dropped_onto_the_message_box_is_attached_and_sent(page, engine, files, how):
    data = base64.b64encode(files["photo"].read_bytes()).decode()
    page.evaluate(HAND_OVER, [data, f"{how}d.png", "image/png", how])
    playwright.expect(page.locator("#message img.thumbnail-image")).to_have_count(1, timeout=WAIT)
    playwright.expect(page.locator("#upload-cost")).to_contain_text(f"{how}d.png: image 200×100, 28 tokens")
    page.fill("#message textarea", f"What did I {how}?")
    page.press("#message textarea", "Enter")
    answer(page, f"You said: What did I {how}?")
    parts = engine.requests[-1].messages[-1]["content"]
    assert [part["type"] for part in parts] == ["image_url", "text"]
    assert Image.open(parts[0]["image_url"]["url"]).getpixel((50, 50)) == (220, 30, 30)


def test_slides_and_text_documents_reach_the_model_as_page_images_through_libreoffice(page, engine):
    if shutil.which("soffice") is None:
        pytest.fail(
            "LibreOffice (soffice) is not installed: apt-get install libreoffice-impress libreoffice-writer"
        )
    documents = [DATA / "slides.pptx", DATA / "slides.odp", DATA / "notes.docx"]
    page.set_input_files("#message input[type=file]", [str(path) for path in documents])
    cost = page.locator("#upload-cost")
    playwright.expect(cost).to_contain_text(
        "notes.docx: document, 1 page, ", timeout=180_000
    )  # 3 conversions
    lines = {line.split(":")[0]: line for line in cost.inner_text().splitlines()}
    page.fill("#message textarea", "Summarise the files.")
    page.press("#message textarea", "Enter")
    answer(page, "You said: Summarise the files.")
    chat = page.inner_text("#chat")
    assert "slides.pptx: document, 3 pages, " in chat and "slides.odp: document, 3 pages, " in chat
    for name, line in lines.items():  # what was priced before sending is what was sent
        assert line in chat, name
    parts = engine.requests[-1].messages[-1]["content"]
    assert [part["type"] for part in parts] == ["image_url"] * 7 + ["text"]
    first_slide = Image.open(io.BytesIO(base64.b64decode(parts[0]["image_url"]["url"].split(",")[1])))
    assert first_slide.convert("L").getextrema()[0] < 200  # the slide's drawing, not a blank page


def test_a_long_pdf_keeps_the_pages_its_token_budget_holds_and_says_which_before_and_after_sending(
    page, engine, files
):
    kept = "pages 1, 6, 11, 16, 21, 25, 30, 35, 40 of 40 kept (budget 1,000 tokens), 972 tokens"
    page.set_input_files("#message input[type=file]", str(files["long"]))
    playwright.expect(page.locator("#upload-cost")).to_contain_text(
        f"long.pdf: document, {kept}", timeout=WAIT
    )
    ask(page, "Read the long one.")
    answer(page, "You said: Read the long one.")
    assert f"long.pdf: document, {kept}" in page.inner_text("#chat")
    parts = engine.requests[-1].messages[-1]["content"]
    assert [part["type"] for part in parts] == ["image_url"] * 9 + ["text"]
