"""The OpenAI-compatible server over real HTTP on 127.0.0.1, driven by the official openai SDK.

The engine is the ScriptedEngine (real streaming parser, scripted model text), so these tests check the
server: request mapping, response and streaming shapes, ids, usage, n, thinking switches, budgets, metrics.
"""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from glmv.engine.open import open_engine
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer
from glmv.testing import WEATHER_TOOL, image_data_uri

THOUGHT = "<think>The image is red.</think>"
WEATHER_CALL = (
    "<think>I need the weather.</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
    "<arg_value>Paris</arg_value>\n</tool_call>"
)


@pytest.fixture(scope="module")
def engine():
    return open_engine("scripted:glm-4.6v")


@pytest.fixture(scope="module")
def server(engine):
    with BackgroundServer(
        engine, ServerSettings(model_name="glm-test", max_concurrency=8, max_queue=8)
    ) as running:
        yield running


@pytest.fixture
def client(server, engine):
    engine.history.clear()
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=20)


def _image_message(text: str = "What colour is this?") -> dict:
    return {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": image_data_uri("red")}},
            {"type": "text", "text": text},
        ],
    }


def test_non_streaming_reply_has_both_reasoning_fields_and_clean_content(client, engine):
    engine.enqueue(THOUGHT + "It is <|begin_of_box|>red<|end_of_box|>.")
    reply = client.chat.completions.create(model="glm-test", messages=[_image_message()])
    message = reply.choices[0].message
    assert message.content == "It is red."
    extra = message.model_extra
    assert extra["reasoning_content"] == extra["reasoning"] == "The image is red."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    # The server loaded the image itself: the engine saw a decoded 56x56 picture, not a URL.
    part = engine.history[-1].messages[0]["content"][0]
    assert part["type"] == "image" and part["image"].size == (56, 56)


def test_streaming_chunks_follow_the_openai_sequence(client, engine):
    engine.enqueue(THOUGHT + "It is red.")
    stream = client.chat.completions.create(
        model="glm-test", messages=[_image_message()], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    kinds = []
    for chunk in chunks[1:-1]:
        delta = chunk.choices[0].delta
        extra = delta.model_extra or {}
        if extra.get("reasoning"):
            assert extra["reasoning_content"] == extra["reasoning"]
            kinds.append("reasoning")
        if delta.content:
            kinds.append("content")
    assert kinds[0] == "reasoning" and kinds[-1] == "content"
    assert kinds == sorted(kinds, key=["reasoning", "content"].index)  # never reasoning after content
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning") or "" for c in chunks if c.choices
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, content) == ("The image is red.", "It is red.")
    finish = chunks[-2]
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_stream_ends_with_done_and_no_usage_unless_asked(server, engine):
    engine.enqueue("Plain answer.")
    body = {"model": "glm-test", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body, timeout=10) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    payloads = [json.loads(line[6:]) for line in lines[:-1]]
    assert all("usage" not in p for p in payloads)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"


def test_tool_call_round_trip(client, engine):
    engine.enqueue(WEATHER_CALL, "<think>Sunny, so say so.</think>It is sunny in Paris.")
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model="glm-test", messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_") and len(call.id) > 10
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call.model_dump()],
            "reasoning_content": choice.message.model_extra["reasoning_content"],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
    ]
    second = client.chat.completions.create(model="glm-test", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "It is sunny in Paris."
    seen = engine.history[-1]
    assert seen.tools == [WEATHER_TOOL] and seen.tool_choice == "auto"
    assert seen.messages[1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert seen.messages[1]["reasoning_content"] == "I need the weather."
    assert seen.messages[2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"}


def test_streamed_tool_call_fragments(client, engine):
    engine.enqueue(WEATHER_CALL)
    stream = client.chat.completions.create(
        model="glm-test",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    fragments, finish = [], None
    for chunk in stream:
        for choice in chunk.choices:
            fragments += choice.delta.tool_calls or []
            finish = choice.finish_reason or finish
    first, *rest = fragments
    assert first.index == 0 and first.id.startswith("call_") and first.type == "function"
    assert first.function.name == "get_weather"
    assert all(f.id is None and f.function.name is None and f.index == 0 for f in rest)
    arguments = first.function.arguments + "".join(f.function.arguments for f in rest)
    assert json.loads(arguments) == {"city": "Paris"}
    assert finish == "tool_calls"


def test_tool_call_ids_are_unique_across_requests(client, engine):
    ids = set()
    for _ in range(5):
        engine.enqueue(WEATHER_CALL)
        reply = client.chat.completions.create(
            model="glm-test", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL]
        )
        ids.add(reply.choices[0].message.tool_calls[0].id)
    assert len(ids) == 5


def test_n_choices_streamed_and_not(client, engine):
    engine.enqueue("One.", "Two.", "Three.")
    reply = client.chat.completions.create(model="glm-test", messages=[{"role": "user", "content": "x"}], n=3)
    assert [c.message.content for c in reply.choices] == ["One.", "Two.", "Three."]
    assert [c.index for c in reply.choices] == [0, 1, 2]
    engine.enqueue("Uno.", "Dos.")
    stream = client.chat.completions.create(
        model="glm-test",
        messages=[{"role": "user", "content": "x"}],
        n=2,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts, finished, usage = {0: "", 1: ""}, set(), None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert texts == {0: "Uno.", 1: "Dos."} and finished == {0, 1}
    assert usage.completion_tokens == 2  # one scripted token per choice, summed over both


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"chat_template_kwargs": {"enable_thinking": False}}, False),
        ({"chat_template_kwargs": {"thinking": False}}, False),
        ({"thinking": {"type": "disabled"}}, False),
        ({"chat_template_kwargs": {"enable_thinking": True}}, True),
        ({}, None),
    ],
)
def test_thinking_switches_reach_the_engine(client, engine, extra, expected):
    engine.enqueue("Answer.")
    client.chat.completions.create(
        model="glm-test", messages=[{"role": "user", "content": "x"}], extra_body=extra
    )
    assert engine.history[-1].enable_thinking is expected


@pytest.mark.parametrize(
    ("extra", "field", "value"),
    [
        ({"thinking_budget": 12}, "thinking_budget", 12),
        ({"thinking_token_budget": 7}, "thinking_budget", 7),
        ({"max_completion_tokens": 33}, "max_tokens", 33),
        ({"max_tokens": 44}, "max_tokens", 44),
        ({"top_k": 3, "repetition_penalty": 1.2}, "top_k", 3),
        ({"top_k": -1}, "top_k", None),
        ({"stop": "END"}, "stop", ["END"]),
        ({"seed": 5, "temperature": 0.3, "top_p": 0.9}, "seed", 5),
    ],
)
def test_sampling_fields_reach_the_engine(client, engine, extra, field, value):
    engine.enqueue("Answer.")
    client.chat.completions.create(
        model="glm-test", messages=[{"role": "user", "content": "x"}], extra_body=extra
    )
    assert getattr(engine.history[-1], field) == value


def test_length_finish_and_stop_strings(client, engine):
    engine.enqueue("<think>" + "very long reasoning " * 20 + "</think>Done.")
    reply = client.chat.completions.create(
        model="glm-test", messages=[{"role": "user", "content": "x"}], max_tokens=5
    )
    assert reply.choices[0].finish_reason == "length" and reply.choices[0].message.content == ""
    assert reply.usage.completion_tokens == 5
    engine.enqueue("Alpha beta END gamma")
    reply = client.chat.completions.create(
        model="glm-test", messages=[{"role": "user", "content": "x"}], stop=["END"]
    )
    assert reply.choices[0].message.content == "Alpha beta"


def test_tool_choice_none_hides_tools(client, engine):
    engine.enqueue("No tools.")
    client.chat.completions.create(
        model="glm-test",
        messages=[{"role": "user", "content": "x"}],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert engine.history[-1].tools is None


def test_models_health_and_metrics(client, server, engine):
    models = client.models.list().data
    assert [m.id for m in models] == ["glm-test"]
    assert abs(models[0].created - time.time()) < 3600, "created is the server's start time"
    assert httpx.get(f"{server.root_url}/health").json() == {"status": "ok"}
    engine.enqueue("Counted.")
    client.chat.completions.create(model="glm-test", messages=[{"role": "user", "content": "x"}])
    text = httpx.get(f"{server.root_url}/metrics").text
    for name in (
        'glmv_requests_total{endpoint="/v1/chat/completions",status="200"}',
        "glmv_completion_tokens_total",
        "glmv_request_latency_seconds_bucket",
        "glmv_time_to_first_token_seconds_count",
        "glmv_queue_depth",
        "glmv_requests_running",
    ):
        assert name in text
    served = [line for line in text.splitlines() if line.startswith("glmv_completion_tokens_total")]
    assert float(served[0].split()[-1]) > 0


BOXED = THOUGHT + "It is here <|begin_of_box|>[[120,340,410,620]]<|end_of_box|>."
MARKED = "It is here <|begin_of_box|>[[120,340,410,620]]<|end_of_box|>."
CLEAN = "It is here [[120,340,410,620]]."


def _streamed(client, extra: dict, **fields) -> tuple[str, str, list]:
    stream = client.chat.completions.create(
        model="glm-test",
        messages=[{"role": "user", "content": "Where?"}],
        stream=True,
        extra_body=extra,
        **fields,
    )
    reasoning, content, fragments = "", "", []
    for chunk in stream:
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            content += choice.delta.content or ""
            fragments += choice.delta.tool_calls or []
    return reasoning, content, fragments


@pytest.mark.parametrize(
    ("extra", "content"),
    [({"skip_special_tokens": False}, MARKED), ({"skip_special_tokens": True}, CLEAN), ({}, CLEAN)],
)
def test_skip_special_tokens_false_keeps_box_markers(client, engine, extra, content):
    """As vLLM: with skip_special_tokens false the box markers stay in content; reasoning is unchanged."""
    engine.enqueue(BOXED)
    reply = client.chat.completions.create(
        model="glm-test", messages=[{"role": "user", "content": "Where?"}], extra_body=extra
    )
    message = reply.choices[0].message
    assert message.content == content
    assert message.model_extra["reasoning_content"] == "The image is red."
    engine.enqueue(BOXED)
    assert _streamed(client, extra)[:2] == ("The image is red.", content)


def test_kept_markers_leave_tool_calls_and_n_choices_intact(client, engine):
    engine.enqueue("Look: <|begin_of_box|>[1,2,3,4]<|end_of_box|>\n" + WEATHER_CALL.split("\n", 1)[1])
    reasoning, content, fragments = _streamed(client, {"skip_special_tokens": False}, tools=[WEATHER_TOOL])
    assert (reasoning, content) == ("", "Look: <|begin_of_box|>[1,2,3,4]<|end_of_box|>")
    first, *rest = fragments
    assert first.function.name == "get_weather" and first.id.startswith("call_")
    assert json.loads(first.function.arguments + "".join(f.function.arguments for f in rest)) == {
        "city": "Paris"
    }
    engine.enqueue("<|begin_of_box|>A<|end_of_box|>", "<|begin_of_box|>B<|end_of_box|>")
    reply = client.chat.completions.create(
        model="glm-test",
        messages=[{"role": "user", "content": "x"}],
        n=2,
        extra_body={"skip_special_tokens": False},
    )
    assert [c.message.content for c in reply.choices] == [
        "<|begin_of_box|>A<|end_of_box|>",
        "<|begin_of_box|>B<|end_of_box|>",
    ]
