"""Conversation helpers: convenience inputs, history policy, template-ready messages, media order."""

from __future__ import annotations

import jinja2
import pytest
from PIL import Image

from glmv.errors import RequestError
from glmv.messages import (
    MediaRef,
    apply_history_policy,
    image_part,
    media_in_order,
    normalize_content,
    to_processor_messages,
    user_message,
)

TEMPLATES = "glmv.templates"


def render(family_template: str, messages, **kwargs) -> str:
    from importlib.resources import files

    text = files(TEMPLATES).joinpath(family_template).read_text(encoding="utf-8")
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda value, ensure_ascii=False: __import__("json").dumps(
        value, ensure_ascii=ensure_ascii
    )
    return env.from_string(text).render(messages=messages, **kwargs)


def test_user_message_puts_media_before_text(tmp_path):
    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8), "red").save(image)
    message = user_message("What is this?", images=[image, "https://example.com/b.jpg"], videos=["clip.mp4"])
    assert message["role"] == "user"
    kinds = [part["type"] for part in message["content"]]
    assert kinds == ["image_url", "image_url", "video_url", "text"]
    assert message["content"][0]["image_url"]["url"] == str(image)
    assert message["content"][-1]["text"] == "What is this?"


def test_user_message_text_only_is_a_plain_string():
    assert user_message("hi") == {"role": "user", "content": "hi"}


def test_user_message_needs_something():
    with pytest.raises(RequestError, match="needs a prompt or at least one image"):
        user_message()


def test_pil_images_become_png_data_uris():
    part = image_part(Image.new("RGB", (4, 4)))
    assert part["image_url"]["url"].startswith("data:image/png;base64,")


def test_user_message_renders_document_pages(tmp_path):
    pdf = tmp_path / "doc.pdf"
    pages = [Image.new("RGB", (200, 260), colour) for colour in ("white", "gray", "black")]
    pages[0].save(pdf, save_all=True, append_images=pages[1:])
    message = user_message("Summarise.", files=[pdf])
    kinds = [part["type"] for part in message["content"]]
    assert kinds == ["image_url"] * 3 + ["text"]
    assert all(p["image_url"]["url"].startswith("data:image/png") for p in message["content"][:3])


def test_unknown_part_type_is_refused_clearly():
    with pytest.raises(RequestError, match="Unknown content part type 'file_url'"):
        normalize_content([{"type": "file_url", "file_url": {"url": "x.pdf"}}])


HISTORY = [
    {"role": "user", "content": "Where is this?"},
    {"role": "assistant", "content": "<think>Looks like the Eiffel tower.</think>\nIt is Paris.", "reasoning_content": "x"},
    {"role": "user", "content": "Weather there?"},
    {"role": "assistant", "content": "", "reasoning_content": "need the tool",
     "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
]  # fmt: skip


def test_history_policy_drops_reasoning_of_earlier_turns_only():
    cleaned = apply_history_policy(HISTORY, "glm-4.5v")
    assert cleaned[1] == {"role": "assistant", "content": "It is Paris."}
    # The ongoing tool loop keeps its reasoning (interleaved thinking).
    assert cleaned[3]["reasoning_content"] == "need the tool"
    assert HISTORY[1]["reasoning_content"] == "x", "the input is not modified"


def test_history_policy_keeps_only_the_answer_for_glm41v():
    messages = [
        {"role": "user", "content": "2+2?"},
        {
            "role": "assistant",
            "content": "<think>easy</think><answer><|begin_of_box|>4<|end_of_box|></answer>",
        },
        {"role": "user", "content": "and 3+3?"},
    ]
    assert apply_history_policy(messages, "glm-4.1v-thinking")[1]["content"] == "4"


def test_processor_messages_render_like_the_reference_example():
    """FORMATS.md §4.2's rendered example: tools + system + image + history + tool loop, thinking off."""
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [image_part("https://example.com/paris.jpg"), {"type": "text", "text": "Where is this?"}]},
        *HISTORY[1:],
    ]  # fmt: skip
    rendered, media = to_processor_messages(messages, "glm-4.5v")
    assert media == [MediaRef("image", "https://example.com/paris.jpg")]
    assert rendered[4]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    text = render("glm-4.5v.jinja", rendered, tools=tools, add_generation_prompt=True, enable_thinking=False)
    tail = text.split("</tool_call><|system|>", 1)[1]
    assert tail == (
        "\nYou are a helpful assistant.<|user|>\n<|begin_of_image|><|image|><|end_of_image|>Where is this?/nothink"
        "<|assistant|>\n<think></think>\nIt is Paris.<|user|>\nWeather there?/nothink<|assistant|>\n"
        "<think>need the tool</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris"
        "</arg_value>\n</tool_call><|observation|>\n<tool_response>\nsunny, 21C\n</tool_response>"
        "<|assistant|>\n<think></think>\n"
    )


def test_media_order_includes_tool_result_images_only_where_rendered():
    messages = [
        {"role": "user", "content": [image_part("a.png"), {"type": "text", "text": "crop it"}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "function": {"name": "crop", "arguments": "{}"}}]},
        {"role": "tool", "content": [{"type": "text", "text": "cropped:"}, image_part("b.png")]},
        {"role": "user", "content": [{"type": "video_url", "video_url": {"url": "c.mp4"}}]},
    ]  # fmt: skip
    assert [r.source for r in media_in_order(messages, "glm-4.6v")] == ["a.png", "b.png", "c.mp4"]
    assert [r.source for r in media_in_order(messages, "glm-4.5v")] == ["a.png", "c.mp4"]
    rendered, _ = to_processor_messages(messages, "glm-4.6v")
    text = render("glm-4.6v.jinja", rendered, add_generation_prompt=True)
    assert "<tool_response>\ncropped:<|begin_of_image|><|image|><|end_of_image|>\n</tool_response>" in text
    assert text.count("<|image|>") == 2 and text.count("<|video|>") == 1


def test_tool_call_arguments_that_are_not_json_are_refused():
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}],
        },
    ]
    with pytest.raises(RequestError, match="'f' has arguments that are not valid JSON"):
        to_processor_messages(messages, "glm-4.6v")


def test_system_images_are_refused():
    messages = [{"role": "system", "content": [image_part("a.png")]}, {"role": "user", "content": "hi"}]
    with pytest.raises(RequestError, match="System messages may hold text only"):
        to_processor_messages(messages, "glm-4.6v")


@pytest.mark.parametrize("token", ["<|image|>", "<|video|>", "<|begin_of_image|>", "<|end_of_video|>"])
def test_a_media_placeholder_typed_as_text_is_refused(token):
    from glmv.messages import to_processor_messages

    for message in (
        {"role": "user", "content": f"look {token} here"},
        {"role": "user", "content": [{"type": "text", "text": token}]},
        {"role": "system", "content": token},
    ):
        with pytest.raises(RequestError, match="reserves for media") as caught:
            to_processor_messages([message], "glm-4.6v")
        assert caught.value.field == "messages"
    rendered, _ = to_processor_messages(
        [{"role": "user", "content": "<|begin_of_box|>[1,2,3,4]"}], "glm-4.6v"
    )
    assert rendered[0]["content"] == "<|begin_of_box|>[1,2,3,4]"  # other special tokens are text, as in vLLM


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        ("get_weather", "must be a list"),
        (["get_weather"], r"tool_calls\[0\] is not a call"),
        ([{"function": "get_weather"}], r"tool_calls\[0\] is not a call"),
        ([{"function": {"arguments": "{}"}}], r"tool_calls\[0\] is not a call"),
        ([{"function": {"name": "f", "arguments": "[1, 2]"}}], "not a JSON object"),
        ([{"function": {"name": "f", "arguments": "{oops"}}], "not valid JSON"),
    ],
    ids=["not-a-list", "a-string", "function-a-string", "no-name", "arguments-a-list", "arguments-not-json"],
)
def test_malformed_tool_calls_in_history_are_refused(calls, message):
    from glmv.messages import to_processor_messages

    history = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": "sunny"},
    ]
    with pytest.raises(RequestError, match=message):
        to_processor_messages(history, "glm-4.6v")


def test_a_lone_surrogate_is_refused_with_where_it_is():
    from glmv.messages import to_processor_messages

    with pytest.raises(
        RequestError, match=r"messages\[0\]\.content holds a lone surrogate \(U\+D800 at character 3\)"
    ):
        to_processor_messages([{"role": "user", "content": "abc\ud800"}], "glm-4.6v")
