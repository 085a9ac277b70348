"""ScriptedEngine: scripted GLM text through the real streaming parser, as a real engine streams it."""

from __future__ import annotations

import pytest

from glmv.engine.open import open_engine
from glmv.engine.scripted import ScriptedEngine, split_tokens
from glmv.engine.types import ChatRequest, collect
from glmv.errors import EngineError
from glmv.output import Reply, ToolCall, parse_reply
from glmv.testing import WEATHER_TOOL

ASK = ChatRequest(messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(
    "text",
    [
        "<think>Hmm.</think>It is <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>.",
        "<think>\nadd\n</think>\n<answer>\nThe sum is <|begin_of_box|>42<|end_of_box|>.\n",
        "<think>tool</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Rome</arg_value>\n</tool_call>",
        "plain words only, no tags at all",
    ],
)
def test_streamed_reply_equals_one_shot_parse(text):
    engine = ScriptedEngine([text], family="glm-4.6v")
    request = ASK.with_(tools=[WEATHER_TOOL])
    chunks = list(engine.generate(request))
    assert "".join(split_tokens(text)) == text and len(chunks) > 3
    assert "".join(c.raw for c in chunks) == text
    (reply,) = collect(chunks, tools=[WEATHER_TOOL], family="glm-4.6v")
    expected = parse_reply(text, family="glm-4.6v", tools=[WEATHER_TOOL])
    assert (reply.reasoning, reply.content, reply.answer) == (
        expected.reasoning,
        expected.content,
        expected.answer,
    )
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        (c.name, c.arguments) for c in expected.tool_calls
    ]
    assert reply.finish_reason == ("tool_calls" if expected.tool_calls else "stop")
    assert "".join(c.reasoning for c in chunks) == expected.reasoning
    assert "".join(c.content for c in chunks) == expected.content


def test_reply_objects_are_rendered_to_glm_text():
    reply = Reply(
        reasoning="Think.", content="Call it.", tool_calls=[ToolCall("x", "get_weather", {"city": "Oslo"})]
    )
    engine = open_engine("scripted:glm-4.5v").enqueue(reply)
    got = engine.chat(ASK.with_(tools=[WEATHER_TOOL]))
    assert (got.reasoning, got.content) == ("Think.", "Call it.")
    assert [(c.name, c.arguments) for c in got.tool_calls] == [("get_weather", {"city": "Oslo"})]
    answer = open_engine("scripted:glm-4.1v-thinking").enqueue(Reply(reasoning="r", content="A")).chat(ASK)
    assert (answer.reasoning, answer.content) == ("r", "A")


def test_box_markers_kept_when_the_request_asks():
    text = "<think>Hmm.</think>It is <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>."
    chunks = list(ScriptedEngine([text]).generate(ASK.with_(keep_box_markers=True)))
    content = "It is <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>."
    assert "".join(c.content for c in chunks) == content == chunks[-1].reply.content
    assert [box.as_list() for box in chunks[-1].reply.boxes] == [[1, 2, 3, 4]]


def test_history_limits_and_errors():
    engine = ScriptedEngine(["one two three four five six", "alpha STOP beta"])
    reply = engine.chat(ASK.with_(max_tokens=3))
    assert reply.finish_reason == "length" and reply.usage.completion_tokens == 3
    assert engine.chat(ASK.with_(stop=["STOP"])).content == "alpha"
    assert [r.max_tokens for r in engine.history] == [3, None]
    with pytest.raises(EngineError, match="enqueue"):
        engine.chat(ASK)


@pytest.mark.parametrize(
    ("stops", "content"),
    [
        pytest.param(["STOP"], "alpha beta", id="a-stop-that-is-one-token"),
        pytest.param(["ta ST"], "alpha be", id="a-stop-across-three-tokens"),
        pytest.param(["OP g", "zzz"], "alpha beta ST", id="the-stop-that-occurs-among-several"),
        pytest.param(["lph"], "a", id="a-stop-inside-the-first-token-keeps-what-came-before"),
        pytest.param(["nowhere"], "alpha beta STOP gamma", id="a-stop-that-never-occurs"),
    ],
)
def test_stop_strings_cut_the_reply_where_they_start(stops, content):
    reply = ScriptedEngine(default="alpha beta STOP gamma").chat(ASK.with_(stop=stops))
    assert (reply.content, reply.finish_reason) == (content, "stop")


def test_closing_a_generation_counts_as_cancelled():
    engine = ScriptedEngine(default="a b c d e f g")
    stream = engine.generate(ASK)
    next(stream)
    stream.close()
    list(engine.generate(ASK))
    assert (engine.cancelled, engine.completed) == (1, 1)


def test_opened_like_any_model_by_a_front_end():
    """A front end passes loading options to every engine; the scripted engine takes and ignores them."""
    engine = open_engine(
        "scripted:glm-4.1v-thinking", family=None, device="cpu", dtype="auto", progress=print
    )
    assert engine.family.name == "glm-4.1v-thinking"
    engine.enqueue("<think>a</think><answer>b</answer>")
    reply = collect(engine.generate(ChatRequest(messages=[{"role": "user", "content": "q"}])))[0]
    assert reply.content == "b"
