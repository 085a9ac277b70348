"""The parts of ``glmv.web`` below the page, without a browser: upload typing and limits, the streaming of one
turn (stop, engine errors), the HTML preview, grounding, export, auth and the ``glmv web`` command's checks."""

from __future__ import annotations

import io
import threading
from itertools import islice

import pytest
from PIL import Image
from typer.testing import CliRunner

from glmv.cli import app
from glmv.engine import ChatRequest, ScriptedEngine
from glmv.errors import ConfigError, EngineError, MediaError, MediaTooLargeError
from glmv.families import get_family
from glmv.messages import Conversation
from glmv.output import parse_reply
from glmv.web.export import conversation_markdown
from glmv.web.serving import is_loopback, parse_auth
from glmv.web.session import Sessions, Turn
from glmv.web.streaming import stream_reply
from glmv.web.uploads import (
    DocumentCache,
    accept_upload,
    attach_uploads,
    describe_attachment,
    describe_pending,
    page_ranges,
    sniff_kind,
)
from glmv.web.view import CSP, chat_messages, grounding, html_preview, html_source


def _encoded(format: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, format=format)
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (_encoded("PNG"), "image"),
        (_encoded("JPEG"), "image"),
        (_encoded("GIF"), "image"),
        (_encoded("WEBP"), "image"),
        (_encoded("BMP"), "image"),
        (_encoded("TIFF"), "image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "video"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "video"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video"),
        (_encoded("PDF"), "document"),
        (b"PK\x03\x04\x14\x00\x06\x00", "document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "document"),
    ],
    ids=[
        "png",
        "jpeg",
        "gif",
        "webp",
        "bmp",
        "tiff",
        "heic",
        "mp4",
        "mov",
        "webm",
        "avi",
        "pdf",
        "pptx",
        "ppt",
    ],
)
def test_uploads_are_typed_by_their_first_bytes(head, kind):
    assert sniff_kind(head[:1024]) == kind


@pytest.mark.parametrize(
    ("head", "said"),
    [
        (b"hello, world\n", "text starting with 'hello, world"),
        (b"", "an empty file"),
        (b"<html><body>", "HTML"),
    ],
    ids=["text", "empty", "html-page"],
)
def test_an_unreadable_upload_is_refused_saying_what_it_is_and_what_to_send(head, said):
    with pytest.raises(MediaError) as raised:
        sniff_kind(head, "notes.png")
    assert said in str(raised.value) and "Upload images" in str(raised.value)


def test_an_upload_over_the_limit_is_refused_naming_the_option(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(_encoded("PNG") + b"\x00" * 3000)
    with pytest.raises(MediaTooLargeError, match="--max-upload-mb"):
        accept_upload(big, tmp_path / "session", max_bytes=2000)
    accepted = accept_upload(big, tmp_path / "session", max_bytes=10_000, name="photo.png")
    assert accepted.kind == "image" and accepted.path.parent.parent == tmp_path / "session"
    assert accepted.path.name == "photo.png"  # the name the page shows
    assert accepted.path.read_bytes() == big.read_bytes()


def test_pending_uploads_are_priced_before_they_are_sent(tmp_path):
    picture = tmp_path / "photo.png"
    Image.new("RGB", (280, 280)).save(picture)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"plain words")
    text = describe_pending([picture, broken], get_family("glm-4.6v"))
    assert "`photo.png`: image 280×280, 100 tokens" in text
    assert "`broken.png`: will be refused" in text


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory):
    """A 40-page PDF of small pages (100 × 140 points: 108 image tokens each at 180 DPI)."""
    path = tmp_path_factory.mktemp("documents") / "long.pdf"
    pages = [Image.new("RGB", (100, 140), (255, 255, 255 - number)) for number in range(40)]
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    return path


@pytest.mark.parametrize(
    ("budget", "pages", "line"),
    [
        (None, 40, "document, 40 pages, 4,320 tokens"),
        (
            1000,
            9,
            "document, pages 1, 6, 11, 16, 21, 25, 30, 35, 40 of 40 kept (budget 1,000 tokens), 972 tokens",
        ),
        (300, 2, "document, pages 1, 40 of 40 kept (budget 300 tokens), 216 tokens"),
    ],
    ids=["no-budget", "nine-pages-fit", "two-pages-fit"],
)
def test_a_long_document_keeps_the_pages_its_token_budget_holds_and_the_price_is_what_is_sent(
    long_pdf, tmp_path, budget, pages, line
):
    from glmv.media import MediaPolicy

    family = get_family("glm-4.6v")
    documents = DocumentCache(budget)
    assert describe_pending([long_pdf], family, MediaPolicy.strict(), documents) == f"- `long.pdf`: {line}"
    upload = accept_upload(long_pdf, tmp_path / "session", 10_000_000)
    conversation = Conversation(family, policy=MediaPolicy.strict(tmp_path / "session"))
    assert len(documents) == 1  # rendered once, for the price and the message
    (attachment,) = attach_uploads(conversation, [upload], documents)
    assert describe_attachment(upload, attachment, family, conversation.policy) == line
    assert len(documents) == 0  # sent: its pages live in the message now
    content = conversation.ask("Summarise.")["messages"][-1]["content"]
    assert [part["type"] for part in content] == ["image_url"] * pages + ["text"]


def test_a_document_whose_first_page_is_over_the_budget_is_refused_before_it_is_sent(long_pdf, tmp_path):
    from glmv.media import MediaPolicy

    documents = DocumentCache(50)
    text = describe_pending([long_pdf], get_family("glm-4.6v"), MediaPolicy.strict(), documents)
    assert text.startswith(
        "- `long.pdf`: will be refused: Not even its first page fits the document budget of 50"
    )
    assert "needs 108. " in text and "--document-tokens" in text
    upload = accept_upload(long_pdf, tmp_path, 10_000_000)
    conversation = Conversation("glm-4.6v", policy=MediaPolicy.strict(tmp_path))
    with pytest.raises(MediaTooLargeError, match="long.pdf: Not even its first page fits"):
        attach_uploads(conversation, [upload], documents)
    assert conversation.pending == ()


def test_a_page_rendered_to_the_pixel_limit_is_attached_not_refused_as_an_image(tmp_path):
    from glmv.media import MediaPolicy

    letter = tmp_path / "letter.pdf"
    Image.new("RGB", (612, 792), "white").save(letter, resolution=72)  # renders a few pixels over 200,000
    policy = MediaPolicy.strict(tmp_path).replace(max_image_pixels=200_000)
    conversation = Conversation("glm-4.6v", policy=policy)
    upload = accept_upload(letter, tmp_path / "session", 10_000_000)
    (attachment,) = attach_uploads(conversation, [upload], DocumentCache(None))
    assert attachment.note == "1 page"
    (page,) = conversation.pending
    from glmv.media import load_image

    width, height = load_image(page.parts[0]["image_url"]["url"], policy).size
    assert 199_000 < width * height <= 200_000


@pytest.mark.parametrize(
    ("numbers", "text"),
    [([1], "1"), ([1, 2, 3], "1–3"), ([1, 2, 3, 5, 7, 8], "1–3, 5, 7–8"), ([1, 20, 40], "1, 20, 40")],
)
def test_kept_pages_are_named_as_ranges(numbers, text):
    assert page_ranges(numbers) == text


def _turn_for(engine, text="Go."):
    conversation = Conversation("glm-4.6v")
    request = ChatRequest(**conversation.ask(text))
    return Turn(text), request


def test_a_turn_streams_reasoning_then_content_and_ends_with_the_parsed_reply():
    engine = ScriptedEngine(
        ["<think>Think hard.</think>The answer is <|begin_of_box|>7<|end_of_box|>."], delay=0.01
    )
    turn, request = _turn_for(engine)
    seen = []
    for _ in stream_reply(engine, request, turn, threading.Event(), engine.family, interval=0):
        seen.append((turn.status, turn.reasoning, turn.content))
    assert seen[0][0] == "thinking" and seen[-1][0] == "answering"
    assert turn.status == "done" and turn.content == "The answer is 7." and turn.reply.answer == "7"
    assert turn.reasoning_tokens > 0 and turn.thinking_seconds is not None
    assert engine.completed == 1 and engine.cancelled == 0


def test_stopping_a_turn_closes_the_engine_generation_and_keeps_the_partial_reply():
    engine = ScriptedEngine(["<think>Plan.</think>" + " ".join(f"w{i}" for i in range(300))], delay=0.005)
    turn, request = _turn_for(engine)
    stop = threading.Event()
    for _ in stream_reply(engine, request, turn, stop, engine.family, interval=0):
        if "w5" in turn.content:
            stop.set()
    assert turn.status == "stopped" and turn.reply.finish_reason == "cancelled"
    assert turn.reply.content.startswith("w0 w1") and "w299" not in turn.reply.content
    for _ in range(200):
        if engine.cancelled:
            break
        threading.Event().wait(0.01)
    assert engine.cancelled == 1 and engine.completed == 0


class _FailingEngine:
    family = get_family("glm-4.6v")

    def generate(self, request):
        yield from islice(ScriptedEngine(["<think>a b c</think>d e f"]).generate(request), 3)
        raise EngineError("The server at http://127.0.0.1:9/v1 went away; check that it runs.")


def test_an_engine_error_mid_stream_fails_the_turn_with_its_message():
    turn, request = _turn_for(_FailingEngine())
    list(stream_reply(_FailingEngine(), request, turn, threading.Event(), _FailingEngine.family, interval=0))
    assert turn.status == "failed" and "went away" in turn.error
    messages, _ = chat_messages([turn])
    assert messages[-1]["content"].startswith("**Error:**")


def test_the_thinking_panel_is_open_while_it_streams_and_closed_once_the_answer_starts():
    turn = Turn("Why?", reasoning="Because.", reasoning_tokens=3)
    (_, thought), _ = chat_messages([turn])
    assert thought["metadata"]["status"] == "pending" and thought["metadata"]["title"].startswith(
        "Thinking · 3 tokens"
    )
    turn.status, turn.content, turn.thinking_seconds = "answering", "So.", 1.25
    (_, thought, answer), owners = chat_messages([turn])
    assert thought["metadata"] == {"title": "Thought for 1.2 s · 3 tokens", "status": "done"}
    assert answer["content"] == "So." and owners == [0, 0, 0]


@pytest.mark.parametrize(
    ("content", "source"),
    [
        ("Here:\n```html\n<h1>One</h1>\n```\nand\n```html\n<h1>Two</h1>\n```", "<h1>Two</h1>"),
        (
            parse_reply("<!DOCTYPE html>\n<html><body>Hi</body></html>").content,
            "<!DOCTYPE html>\n<html><body>Hi</body></html>",
        ),
        ("```python\nprint(1)\n```", None),
        ("Use <b>bold</b> here.", None),
    ],
    ids=["last-fenced-block", "raw-page-fenced-by-glmv-output", "other-language", "inline-tag"],
)
def test_the_html_of_an_answer_is_found(content, source):
    assert html_source(content) == source


def test_the_html_preview_is_sandboxed_without_same_origin_and_loads_nothing_from_the_network():
    frame = html_preview('<html><head><title>t</title></head><body onload="x()">"quoted"</body></html>')
    assert 'sandbox="allow-scripts"' in frame and "allow-same-origin" not in frame
    assert "&lt;head&gt;&lt;meta http-equiv=&quot;Content-Security-Policy&quot;" in frame
    assert "default-src &#x27;none&#x27;" in frame and "default-src 'none'" in CSP
    assert "&quot;quoted&quot;" in frame


def test_grounding_draws_the_boxes_on_the_last_image_and_lists_pixels(tmp_path):
    picture = tmp_path / "photo.png"
    Image.new("RGB", (200, 100), (255, 255, 255)).save(picture)
    conversation = Conversation("glm-4.6v")
    conversation.attach(images=[picture])
    conversation.ask("Where?")
    reply = parse_reply("<|begin_of_box|>[[100,200,300,400]]<|end_of_box|> and point [500,500]")
    drawn, table = grounding(reply, conversation, tmp_path)
    image = Image.open(drawn)
    assert image.size == (200, 100) and image.getpixel((20, 30)) != (255, 255, 255)
    assert "| 1 | box | [100, 200, 300, 400] | [20, 20, 60, 40] |" in table
    assert grounding(parse_reply("No boxes."), conversation, tmp_path) == (None, "")


def test_the_markdown_export_names_the_media_and_folds_the_reasoning(tmp_path):
    picture = tmp_path / "photo.png"
    Image.new("RGB", (28, 28)).save(picture)
    conversation = Conversation("glm-4.6v", system="Be brief.")
    conversation.attach(images=[picture])
    conversation.ask("What is it?")
    conversation.answered(parse_reply("<think>Dark.</think>A black square."))
    text = conversation_markdown(conversation)
    assert "**System:** Be brief." in text and f"*[image: {picture}]*" in text
    assert "<details><summary>Thinking</summary>\n\nDark.\n\n</details>" in text and "A black square." in text


def test_a_closed_session_loses_its_upload_folder(tmp_path):
    sessions = Sessions(lambda folder: Conversation("glm-4.6v"), root=tmp_path)
    first = sessions.get("a")
    assert sessions.get("a") is first and sessions.get("b") is not first
    (first.folder / "upload.png").write_bytes(b"x")
    sessions.close("a")
    assert not first.folder.exists() and first.stop.is_set() and len(sessions) == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_auth_pairs_are_user_colon_password():
    assert parse_auth(["ann:secret", "bob:pa:ss"]) == [("ann", "secret"), ("bob", "pa:ss")]
    for bad in ("ann", ":secret", "ann:"):
        with pytest.raises(ConfigError, match="user:password"):
            parse_auth([bad])


@pytest.fixture
def launched(monkeypatch):
    import glmv.cli.engines
    import glmv.web.serving

    calls = []
    monkeypatch.setattr(
        glmv.cli.engines, "open_cli_engine", lambda *args, **options: ScriptedEngine(default="hi")
    )
    monkeypatch.setattr(
        glmv.web.serving, "launch", lambda engine, settings, **options: calls.append((settings, options))
    )
    return calls


def test_glmv_web_warns_when_it_listens_beyond_loopback_without_auth(launched):
    result = CliRunner().invoke(
        app, ["web", "--host", "0.0.0.0", "--max-upload-mb", "3", "--concurrency", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "--auth" in result.output
    settings, options = launched[-1]
    assert settings.max_upload_mb == 3 and settings.concurrency == 2 and options["host"] == "0.0.0.0"
    result = CliRunner().invoke(
        app, ["web", "--host", "0.0.0.0", "--auth", "ann:secret", "--root-path", "/chat"]
    )
    assert "Warning:" not in result.output
    assert launched[-1][1]["auth"] == [("ann", "secret")] and launched[-1][1]["root_path"] == "/chat"


@pytest.mark.parametrize(
    ("options", "budget"),
    [([], 24_000), (["--document-tokens", "8000"], 8000), (["--document-tokens", "0"], None)],
    ids=["default", "set", "no-budget"],
)
def test_glmv_web_takes_the_document_token_budget(launched, options, budget):
    result = CliRunner().invoke(app, ["web", *options])
    assert result.exit_code == 0, result.output
    assert launched[-1][0].document_tokens == budget


def test_glmv_web_refuses_a_malformed_auth_without_a_traceback(launched):
    from glmv.cli import main

    with pytest.raises(SystemExit) as exited:
        import sys

        argv, sys.argv = sys.argv, ["glmv", "web", "--auth", "nopassword"]
        try:
            main()
        finally:
            sys.argv = argv
    assert exited.value.code == 1 and not launched


@pytest.mark.parametrize("family", ["glm-4.1v-thinking", "glm-4.6v"])
def test_the_page_builds_for_each_family_and_says_why_thinking_cannot_be_switched(family):
    pytest.importorskip("gradio")
    from glmv.web import create_app
    from glmv.web.app import thinking_switch

    value, interactive, info = thinking_switch(get_family(family))
    demo = create_app(ScriptedEngine(family=family))
    checkbox = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "thinking")
    assert checkbox.interactive is interactive and checkbox.info == info and value is True
    if family == "glm-4.1v-thinking":
        assert interactive is False and "always thinks" in info


def test_the_page_mounts_beside_the_openai_api_on_one_app():
    pytest.importorskip("gradio")
    from fastapi.testclient import TestClient

    from glmv.server import ServerSettings
    from glmv.server.app import create_app as create_server
    from glmv.web import WebSettings, mount_app

    engine = ScriptedEngine(default="<think>Hm.</think>Hello.")
    app = create_server(engine, ServerSettings(model_name="glm-4.6v", api_key="key"))
    mount_app(app, engine, WebSettings(model="glm-4.6v"), path="/web", auth=[("ann", "secret")])
    with TestClient(app) as client:
        assert client.get("/v1/models").status_code == 401  # the API keeps its key
        assert client.get("/v1/models", headers={"Authorization": "Bearer key"}).status_code == 200
        page = client.get("/web/")
        assert page.status_code == 200 and "gradio" in page.text.lower()
        assert client.post("/web/login", data={"username": "ann", "password": "wrong"}).status_code == 400
        assert client.post("/web/login", data={"username": "ann", "password": "secret"}).status_code == 200


@pytest.mark.parametrize(
    ("arguments", "installed", "said"),
    [
        (["--mcp"], False, ["mcp (needed by glmv web --mcp", "pip install 'glmv[web]'"]),
        (["--mcp", "--auth", "ann:secret"], True, ["--mcp cannot be combined with --auth", "login"]),
    ],
    ids=["mcp-not-installed", "mcp-with-auth"],
)
def test_glmv_web_mcp_refusals_say_why_before_a_model_is_loaded(
    launched, monkeypatch, capsys, arguments, installed, said
):
    import sys

    import glmv.cli.engines
    from glmv.cli import main

    opened = []
    monkeypatch.setattr(glmv.cli.engines, "open_cli_engine", lambda *args, **options: opened.append(args))
    if not installed:
        monkeypatch.setitem(sys.modules, "mcp", None)  # as when it is not installed
    monkeypatch.setattr(sys, "argv", ["glmv", "web", *arguments])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1 and not opened and not launched
    text = " ".join(capsys.readouterr().err.split())
    assert all(part in text for part in said), text


def test_mcp_tools_are_refused_beside_a_login_in_a_mounted_app_too():
    pytest.importorskip("gradio")
    from fastapi import FastAPI

    from glmv.web import mount_app

    with pytest.raises(ConfigError, match="--mcp cannot be combined with --auth"):
        mount_app(FastAPI(), ScriptedEngine(default="hi"), auth=[("ann", "secret")], mcp=True)
