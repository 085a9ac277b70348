"""`glmv serve` on a taught tiny GLM-4.6V-Flash checkpoint (LocalEngine), driven by the official openai SDK.

The checkpoint has memorised glmv.testing's conversations; the tests replay their exact prompts (same text,
same images) with greedy decoding, so every reply is known.
"""

from __future__ import annotations

import json

import openai
import pytest

from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer
from glmv.testing import WEATHER_TOOL, taught_conversations

pytestmark = pytest.mark.slow

FAMILY = "glm-4.6v-flash"
CONVERSATIONS = {c.name: c for c in taught_conversations(FAMILY)}


@pytest.fixture(scope="module")
def server(tiny_checkpoints):
    from glmv.engine.local import LocalEngine

    engine = LocalEngine(tiny_checkpoints(FAMILY))
    with BackgroundServer(engine, ServerSettings(model_name="tiny-flash")) as running:
        yield running
    engine.close()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0, timeout=120)


def _ask(client, name: str, **options):
    conversation = CONVERSATIONS[name]
    extra = dict(options.pop("extra_body", {}))
    if conversation.enable_thinking is not None:
        extra["chat_template_kwargs"] = {"enable_thinking": conversation.enable_thinking}
    if conversation.tools:
        options["tools"] = list(conversation.tools)
    return client.chat.completions.create(
        model="tiny-flash",
        messages=list(conversation.messages),
        temperature=0,
        max_tokens=120,
        extra_body=extra,
        **options,
    )


def test_image_question_non_streaming(client):
    message = _ask(client, "image").choices[0].message
    assert message.content == "The image is blue."
    assert message.model_extra["reasoning_content"] == "The whole image is one flat colour: blue."
    assert message.model_extra["reasoning"] == message.model_extra["reasoning_content"]


def test_grounding_streaming_with_usage(client):
    stream = _ask(client, "grounding", stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning == "The red square is in the picture."
    assert content == "The red square is at [[100,200,300,400]]."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.prompt_tokens > 10 and usage.completion_tokens > 10


def test_two_images_and_thinking_off(client):
    assert _ask(client, "two-images").choices[0].message.content == "The first is green, the second is red."
    message = _ask(client, "thinking-off").choices[0].message
    assert message.content == "The capital of France is Paris."
    assert message.model_extra["reasoning_content"] is None


def test_tool_call_round_trip(client):
    first = _ask(client, "tool-call-paris").choices[0]
    assert first.finish_reason == "tool_calls"
    (call,) = first.message.tool_calls
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    rome = _ask(client, "tool-call-rome").choices[0].message.tool_calls[0]
    assert json.loads(rome.function.arguments) == {"city": "Rome"} and rome.id != call.id
    # Send the call back with its result, as the taught conversation has it, and get the answer.
    messages = [
        CONVERSATIONS["tool-result"].messages[0],
        {"role": "assistant", "content": "", "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
    ]
    answer = client.chat.completions.create(
        model="tiny-flash", messages=messages, tools=[WEATHER_TOOL], temperature=0, max_tokens=60
    )
    assert answer.choices[0].message.content == "It is sunny and 21C in Paris."
    assert answer.choices[0].finish_reason == "stop"


def test_streamed_tool_call(client):
    fragments, finish = [], None
    for chunk in _ask(client, "tool-call-rome", stream=True):
        for choice in chunk.choices:
            fragments += choice.delta.tool_calls or []
            finish = choice.finish_reason or finish
    assert fragments[0].function.name == "get_weather" and fragments[0].id.startswith("call_")
    assert json.loads("".join(f.function.arguments or "" for f in fragments)) == {"city": "Rome"}
    assert finish == "tool_calls"


def test_n_greedy_choices_agree(client):
    reply = _ask(client, "plain", n=2)
    assert [c.message.content for c in reply.choices] == ["The sum is 42."] * 2
    assert reply.usage.completion_tokens == 2 * _ask(client, "plain").usage.completion_tokens


@pytest.mark.parametrize("field", ["thinking_budget", "thinking_token_budget"])
def test_thinking_budget_cuts_reasoning(client, field):
    full = _ask(client, "long-reasoning").choices[0].message.model_extra["reasoning_content"]
    cut = (
        _ask(client, "long-reasoning", extra_body={field: 5})
        .choices[0]
        .message.model_extra["reasoning_content"]
    )
    assert full.startswith("Counting: one, two") and full.endswith("twenty.")
    assert cut and len(cut) < len(full) / 3 and full.startswith(cut.rstrip())


def test_remote_engine_against_the_live_tiny_server(server):
    from glmv.engine.open import open_engine
    from glmv.engine.types import ChatRequest

    remote = open_engine(server.base_url)
    conversation = CONVERSATIONS["image"]
    reply = remote.chat(ChatRequest(messages=list(conversation.messages), temperature=0, max_tokens=120))
    assert (reply.reasoning, reply.content) == (
        "The whole image is one flat colour: blue.",
        "The image is blue.",
    )
    assert remote.flavor == "glmv" and remote.model == "tiny-flash"
    streamed = "".join(
        c.content for c in remote.generate(ChatRequest(messages=list(conversation.messages), temperature=0))
    )
    assert streamed == "The image is blue."
