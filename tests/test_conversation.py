"""``glmv.messages.Conversation``: turns, attachments checked when attached, the history policy, and the saved
JSON format (round trips and the errors a damaged file gives)."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from glmv.engine import ChatRequest
from glmv.engine.scripted import ScriptedEngine
from glmv.errors import ConfigError, MediaError, RequestError
from glmv.messages import Conversation
from glmv.output import parse_reply
from glmv.testing import WEATHER_TOOL

FAMILY = "glm-4.6v"
TOOL_REPLY = (
    "<think>The user wants the weather.</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
    "<arg_value>Paris</arg_value>\n</tool_call>"
)


@pytest.fixture
def red(tmp_path) -> Path:
    path = tmp_path / "red.png"
    Image.new("RGB", (56, 56), (220, 30, 30)).save(path)
    return path


@pytest.fixture
def pdf(tmp_path) -> Path:
    path = tmp_path / "report.pdf"
    pages = [Image.new("RGB", (40, 30), (200, 30, 30)), Image.new("RGB", (40, 30), (30, 30, 200))]
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    return path


def reply(text: str, family: str = FAMILY, tools=None):
    return parse_reply(text, family=family, tools=tools)


# ---- turns -------------------------------------------------------------------------------------------------


def test_ask_sends_pending_attachments_once_then_text_only(red):
    conversation = Conversation(FAMILY, system="Be brief.", settings={"max_tokens": 64, "temperature": 0})
    conversation.attach(images=[red])
    request = ChatRequest(**conversation.ask("What colour?"))
    assert request.max_tokens == 64 and request.temperature == 0
    assert request.messages[0] == {"role": "system", "content": "Be brief."}
    assert request.messages[1]["content"] == [
        {"type": "image_url", "image_url": {"url": str(red)}},
        {"type": "text", "text": "What colour?"},
    ]
    assert conversation.pending == ()
    conversation.answered(reply("<think>Red pixels.</think>\nIt is red."))
    follow_up = conversation.ask("Sure?")
    assert follow_up["messages"][-1] == {"role": "user", "content": "Sure?"}


def test_the_assistant_turn_is_the_parsed_reply_and_its_reasoning_is_dropped_later():
    conversation = Conversation(FAMILY)
    conversation.ask("Where is it?")
    stored = conversation.answered(
        reply("<think>Looks like Paris.</think>\nIt is <|begin_of_box|>Paris<|end_of_box|>.")
    )
    assert stored == {
        "role": "assistant",
        "content": "It is Paris.",
        "reasoning_content": "Looks like Paris.",
    }
    sent = conversation.ask("Weather there?")["messages"]
    assert sent[1] == {"role": "assistant", "content": "It is Paris."}
    assert conversation.messages[1]["reasoning_content"] == "Looks like Paris."  # kept in the history itself


def test_glm41v_history_keeps_only_the_answer():
    conversation = Conversation("glm-4.1v-thinking")
    conversation.ask("What is 15 + 27?")
    conversation.answered(
        reply("<think>\nAdd.\n</think>\n<answer>\nThe sum is <|begin_of_box|>42<|end_of_box|>.\n</answer>",
              family="glm-4.1v-thinking")
    )  # fmt: skip
    assert conversation.ask("And doubled?")["messages"][1] == {
        "role": "assistant",
        "content": "The sum is 42.",
    }


def test_tool_calls_are_stored_in_the_openai_shape_and_the_tool_loop_continues():
    conversation = Conversation(FAMILY, settings={"tools": [WEATHER_TOOL]})
    conversation.ask("What is the weather in Paris?")
    stored = conversation.answered(reply(TOOL_REPLY, tools=[WEATHER_TOOL]))
    call = stored["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    conversation.add_tool_result(call["id"], "sunny, 21C")
    request = ChatRequest(**conversation.request())
    assert [m["role"] for m in request.messages] == ["user", "assistant", "tool"]
    assert request.messages[1]["reasoning_content"] == "The user wants the weather."  # an ongoing tool loop
    assert request.tools == [WEATHER_TOOL]


def test_a_scripted_engine_sees_the_whole_history():
    engine = ScriptedEngine(
        ["<think>Hm.</think>\nAda.", "<think>Hm.</think>\nYour name is Ada."], family=FAMILY
    )
    conversation = Conversation(FAMILY)
    conversation.answered(engine.chat(ChatRequest(**conversation.ask("My name is Ada."))))
    conversation.answered(engine.chat(ChatRequest(**conversation.ask("What is my name?"))))
    assert [m.get("content") for m in engine.history[-1].messages] == [
        "My name is Ada.",
        "Ada.",
        "What is my name?",
    ]
    assert conversation.messages[-1]["content"] == "Your name is Ada."


def test_forget_question_and_clear():
    conversation = Conversation(FAMILY, system="S", settings={"temperature": 0.5})
    conversation.ask("one")
    conversation.answered(reply("uno"))
    conversation.ask("two")
    conversation.forget_question()
    assert [m["content"] for m in conversation.messages] == ["one", "uno"]
    conversation.forget_question()  # the last message is an answer: nothing to forget
    assert len(conversation.messages) == 2
    conversation.clear()
    assert (
        conversation.messages == []
        and conversation.system == "S"
        and conversation.settings == {"temperature": 0.5}
    )


def test_a_message_needs_text_or_an_attachment():
    with pytest.raises(RequestError, match="needs text or at least one attachment"):
        Conversation(FAMILY).ask("")


def test_settings_are_the_chat_request_keywords():
    keywords = {f.name for f in dataclasses.fields(ChatRequest)} - {"messages"}
    assert set(Conversation.SETTINGS) == keywords


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_token": 5}, "settings.max_token: is not a request setting"),
        ({"max_tokens": 0}, "settings.max_tokens: must be a whole number of at least 1"),
        ({"enable_thinking": "yes"}, "settings.enable_thinking: must be true, false or null"),
        ({"temperature": True}, "settings.temperature: must be a number"),
    ],
    ids=["unknown-key", "zero-max-tokens", "string-for-bool", "bool-for-number"],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        Conversation(FAMILY, settings=settings)
    with pytest.raises(ConfigError, match=message):
        Conversation(FAMILY).configure(**settings)


# ---- attachments -------------------------------------------------------------------------------------------


def test_a_document_becomes_its_pages(pdf):
    conversation = Conversation(FAMILY)
    (attachment,) = conversation.attach(files=[pdf])
    assert attachment.kind == "file" and attachment.label == str(pdf) and len(attachment.parts) == 2
    content = conversation.ask("Summarise.")["messages"][0]["content"]
    assert [p["type"] for p in content] == ["image_url", "image_url", "text"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_pil_images_and_bytes_are_attached_as_data_uris(red):
    conversation = Conversation(FAMILY)
    conversation.attach(images=[Image.open(red), red.read_bytes()])
    urls = [a.parts[0]["image_url"]["url"] for a in conversation.pending]
    assert all(url.startswith("data:") for url in urls)


def _truncated_png(folder: Path) -> Path:
    path = folder / "truncated.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    return path


def _garbage_pdf(folder: Path) -> Path:
    path = folder / "garbage.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not a pdf")
    return path


def _text_as_video(folder: Path) -> Path:
    path = folder / "notes.mp4"
    path.write_text("just text")
    return path


@pytest.mark.parametrize(
    ("kind", "make", "message"),
    [
        ("images", _truncated_png, "truncated.png"),
        ("files", _garbage_pdf, "garbage.pdf"),
        ("videos", _text_as_video, "notes.mp4"),
        ("images", lambda folder: folder / "missing.png", "missing.png"),
    ],
    ids=["truncated-png", "garbage-pdf", "text-as-video", "missing-file"],
)
def test_a_bad_attachment_fails_when_attached_and_is_not_kept(tmp_path, red, kind, make, message):
    conversation = Conversation(FAMILY)
    conversation.attach(images=[red])
    with pytest.raises(MediaError, match=message):
        conversation.attach(**{kind: [make(tmp_path)]})
    assert [a.label for a in conversation.pending] == [str(red)]
    request = conversation.ask("Colour?")
    assert len(request["messages"][0]["content"]) == 2  # the good image and the text, nothing else


def test_one_bad_file_attaches_nothing_of_that_call(tmp_path, red):
    conversation = Conversation(FAMILY)
    with pytest.raises(MediaError):
        conversation.attach(images=[red, _truncated_png(tmp_path)])
    assert conversation.pending == ()


def test_last_image_is_where_boxes_are_drawn(red, tmp_path):
    blue = tmp_path / "blue.png"
    Image.new("RGB", (84, 56), (30, 60, 220)).save(blue)
    conversation = Conversation(FAMILY)
    assert conversation.last_image is None
    conversation.attach(images=[red, blue])
    conversation.ask("Where?")
    conversation.ask("And now?")
    assert conversation.last_image == str(blue)


# ---- the file format: round trips --------------------------------------------------------------------------


def _text(folder: Path) -> Conversation:
    conversation = Conversation(FAMILY, system="Answer briefly.")
    conversation.ask("What is 2 + 2?")
    conversation.answered(reply("<think>Easy.</think>\n2 + 2 = 4."))
    return conversation


def _image_by_path(folder: Path) -> Conversation:
    path = folder / "media" / "red.png"
    path.parent.mkdir()
    Image.new("RGB", (56, 56), (220, 30, 30)).save(path)
    conversation = Conversation("glm-4.5v")
    conversation.attach(images=[path])
    conversation.ask("Where is the red square?")
    conversation.answered(reply("<think>Top left.</think>\nAt <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>."))
    return conversation


def _tool_calls(folder: Path) -> Conversation:
    conversation = Conversation(FAMILY, settings={"tools": [WEATHER_TOOL], "tool_choice": "auto"})
    conversation.ask("What is the weather in Paris?")
    call = conversation.answered(reply(TOOL_REPLY, tools=[WEATHER_TOOL]))["tool_calls"][0]
    conversation.add_tool_result(call["id"], "sunny, 21C")
    conversation.answered(reply("<think>Sunny.</think>\nIt is sunny and 21C."))
    return conversation


def _settings(folder: Path) -> Conversation:
    settings = {
        "max_tokens": 512, "temperature": 0.7, "top_p": 0.9, "top_k": 2, "repetition_penalty": 1.1,
        "stop": ["END"], "seed": 7, "n": 1, "enable_thinking": False, "thinking_budget": 100,
        "model": "glm-4.6v-flash", "keep_box_markers": True,
    }  # fmt: skip
    return Conversation("glm-4.6v-flash", settings=settings)


def _document(folder: Path) -> Conversation:
    path = folder / "report.pdf"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path, "PDF", resolution=72)
    conversation = Conversation(FAMILY)
    conversation.attach(files=[path])
    conversation.ask("Summarise.")
    return conversation


@pytest.mark.parametrize(
    "build", [_text, _image_by_path, _tool_calls, _settings, _document], ids=lambda f: f.__name__.strip("_")
)
@pytest.mark.parametrize("embed", [False, True], ids=["referenced", "embedded"])
def test_save_then_load_gives_the_same_conversation(tmp_path, monkeypatch, build, embed):
    original = build(tmp_path)
    saved = original.save(tmp_path / "saved.json", embed_media=embed)
    monkeypatch.chdir(tmp_path.parent)  # loading does not depend on the folder one stands in
    loaded = Conversation.load(saved)
    assert loaded.family == original.family
    assert loaded.system == original.system and loaded.settings == original.settings
    if not embed:
        assert loaded.messages == original.messages
    assert loaded.request() == Conversation.from_dict(json.loads(saved.read_text())).request()
    assert [m["role"] for m in loaded.messages] == [m["role"] for m in original.messages]
    ChatRequest(**loaded.ask("Go on."))  # the loaded conversation continues


def test_the_file_says_what_it_is(tmp_path, red):
    conversation = Conversation(FAMILY, system="S", settings={"max_tokens": 8})
    conversation.attach(images=[red])
    conversation.ask("Colour?")
    data = json.loads(conversation.save(tmp_path / "c.json").read_text(encoding="utf-8"))
    assert data == {
        "format": "glmv.conversation",
        "version": 1,
        "family": "glm-4.6v",
        "system": "S",
        "settings": {"max_tokens": 8},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": str(red)}},
                    {"type": "text", "text": "Colour?"},
                ],
            }
        ],
    }


def test_embedded_media_travel_without_the_original_file(tmp_path, red):
    conversation = Conversation(FAMILY)
    conversation.attach(images=[red])
    conversation.ask("Colour?")
    saved = conversation.save(tmp_path / "c.json", embed_media=True)
    original_bytes = red.read_bytes()
    red.unlink()
    url = Conversation.load(saved).messages[0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.partition(",")[2]) == original_bytes
    with pytest.raises(ConfigError, match="is not a file"):
        Conversation.load(conversation.save(tmp_path / "by-path.json"))


def test_relative_media_paths_are_read_against_the_files_folder(tmp_path, red, monkeypatch):
    data = Conversation(FAMILY).to_dict()
    data["messages"] = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "red.png"}}]}]
    (tmp_path / "c.json").write_text(json.dumps(data))
    monkeypatch.chdir("/")
    loaded = Conversation.load(tmp_path / "c.json")
    assert loaded.messages[0]["content"][0]["image_url"]["url"] == str(red)


def test_a_failed_save_keeps_the_old_file(tmp_path, red):
    conversation = Conversation(FAMILY)
    conversation.attach(images=[red])
    conversation.ask("Colour?")
    target = conversation.save(tmp_path / "c.json")
    before = target.read_text()
    red.unlink()
    with pytest.raises(MediaError, match="red.png"):
        conversation.save(target, embed_media=True)
    assert target.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
    with pytest.raises(ConfigError, match="Check that the folder exists"):
        conversation.save(tmp_path / "no-such-folder" / "c.json")


# ---- the file format: load errors --------------------------------------------------------------------------

GOOD = {"format": "glmv.conversation", "version": 1, "family": "glm-4.6v", "system": None, "settings": {}}


def _with(**changes):
    data = {**GOOD, "messages": [{"role": "user", "content": "hi"}], **changes}
    return json.dumps({k: v for k, v in data.items() if v is not _MISSING})


_MISSING = object()


def _message(**message):
    return _with(messages=[message])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"format": "glmv.conversation", ', "is not valid JSON (line 1, column 33"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (json.dumps([{"role": "user", "content": "hi"}]), "expected a JSON object"),
        (_with(format="chat"), '"format" must be "glmv.conversation"'),
        (_with(version=2), "written by a newer glmv: upgrade glmv"),
        (_with(colour="blue"), "unknown key 'colour'"),
        (_with(family=_MISSING), "missing key 'family'"),
        (_with(family="gpt-4"), "Unknown GLM-V family 'gpt-4'"),
        (_with(system=["a"]), '"system" must be a string or null'),
        (_with(settings={"max_tokens": "many"}), "settings.max_tokens: must be a whole number"),
        (_with(settings={"temprature": 0}), "settings.temprature: is not a request setting"),
        (_with(messages={"role": "user"}), "messages: must be a list"),
        (_message(role="system", content="x"), 'the system prompt goes in "system"'),
        (_message(role="user", content="x", mood="happy"), "messages[0]: unknown key 'mood'"),
        (_message(role="user", content=[{"type": "image_url", "image_url": {}}]), "messages[0].content[0].image_url"),
        (_message(role="user", content=[{"type": "file", "file": "a.pdf"}]), "messages[0].content[0].type"),
        (_message(role="assistant", content=["x"]), "messages[0].content: must be a string or null"),
        (
            _message(role="assistant", content="", tool_calls=[
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]),
            "messages[0].tool_calls[0].function.arguments: must be a JSON object",
        ),
        (_message(role="tool", content="sunny"), "messages[0].tool_call_id: must be a string"),
        (
            _message(role="user", content=[{"type": "image_url", "image_url": {"url": "gone.png"}}]),
            "messages[0].content[0]: the image",
        ),
        (
            _message(role="user", content=[{"type": "image_url", "image_url": {"url": "truncated.png"}}]),
            "truncated or corrupt",
        ),
    ],
    ids=[
        "cut-json", "not-utf8", "deeply-nested", "old-bare-list", "wrong-format", "newer-version", "unknown-key",
        "missing-family", "unknown-family", "system-not-text", "setting-wrong-type", "setting-misspelt",
        "messages-not-a-list", "system-role-in-messages", "unknown-message-key", "image-without-url",
        "unknown-part-type", "assistant-content-parts", "tool-arguments-not-json", "tool-without-call-id",
        "missing-image", "truncated-image",
    ],
)  # fmt: skip
def test_a_bad_file_is_a_config_error_naming_it(tmp_path, text, problem):
    _truncated_png(tmp_path)
    path = tmp_path / "saved.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(ConfigError) as caught:
        Conversation.load(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda folder: folder / "nothere.json", "does not exist"),
        (lambda folder: folder, "is not a regular file"),
    ],
    ids=["missing", "a-folder"],
)
def test_a_path_that_is_not_a_file_is_refused(tmp_path, make, problem):
    with pytest.raises(ConfigError, match=problem):
        Conversation.load(make(tmp_path))


def test_a_file_can_be_loaded_without_opening_its_media(tmp_path):
    path = tmp_path / "saved.json"
    path.write_text(_message(role="user", content=[{"type": "image_url", "image_url": {"url": "gone.png"}}]))
    assert Conversation.load(path, check_files=False).messages[0]["content"][0]["image_url"]["url"] == str(
        tmp_path / "gone.png"
    )


def test_importing_messages_loads_neither_the_engine_nor_torch():
    code = "import sys, glmv.messages; print(sorted(m for m in sys.modules if m in ('torch', 'glmv.engine')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
