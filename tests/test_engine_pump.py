"""ChunkPump: text deltas → chunks → finish reason, usage and the finished reply; and collecting them once."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glmv.engine import ChatRequest, Chunk, ChunkPump, Engine, chat, collect
from glmv.engine.batching import End, Text
from glmv.errors import OutputError
from glmv.output import Reply, Usage, parse_reply
from glmv.testing import WEATHER_TOOL

CALL = "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Rome</arg_value>\n</tool_call>"
GROUNDED = "<think>Look left.</think>\nIt is at <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>."
ASK = ChatRequest(messages=[{"role": "user", "content": "hi"}])


def pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def run(text: str, reason: str = "stop", **options) -> list[Chunk]:
    pump = ChunkPump("glm-4.6v", [WEATHER_TOOL], prompt_tokens=7, **options)
    events = [Text(0, piece) for piece in pieces(text)] + [End(0, reason, 11)]
    return list(pump.run(events))


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(1, 12), min_size=1, max_size=40))
def test_chunks_and_the_last_reply_equal_the_one_shot_parse(cuts):
    text = f"<think>Need the weather.</think>\nOne moment: <|begin_of_box|>[[5,6,7,8]]<|end_of_box|>\n{CALL}"
    events, position = [], 0
    for cut in cuts:
        if position < len(text):
            events.append(Text(0, text[position : position + cut]))
        position += cut
    if position < len(text):
        events.append(Text(0, text[position:]))
    chunks = list(ChunkPump("glm-4.6v", [WEATHER_TOOL], prompt_tokens=3).run([*events, End(0, "stop", 20)]))
    expected = parse_reply(text, family="glm-4.6v", tools=[WEATHER_TOOL])
    reply = chunks[-1].reply
    assert (reply.reasoning, reply.content, reply.answer, reply.boxes, reply.tool_calls) == (
        expected.reasoning,
        expected.content,
        expected.answer,
        expected.boxes,
        expected.tool_calls,
    )
    assert "".join(c.reasoning for c in chunks) == expected.reasoning
    assert "".join(c.content for c in chunks) == expected.content
    arguments = "".join(f.arguments for c in chunks for f in c.tool_calls)
    assert arguments == expected.tool_calls[0].arguments_json()
    assert "".join(c.raw for c in chunks) == text == reply.raw
    assert [c.reply is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]


@pytest.mark.parametrize(
    ("text", "engine_reason", "finish"),
    [
        pytest.param(
            f"<think>t</think>\n{CALL}", "stop", "tool_calls", id="a-complete-call-turns-stop-into-tool_calls"
        ),
        pytest.param("<think>t</think>\nJust text.", "stop", "stop", id="no-call-stays-stop"),
        pytest.param(f"<think>t</think>\n{CALL}", "length", "length", id="cut-by-max-tokens-stays-length"),
        pytest.param("<think>t</think>\nHal", "cancelled", "cancelled", id="cancelled-stays-cancelled"),
        pytest.param("Done.", "eos", "stop", id="an-unknown-reason-is-stop"),
    ],
)
def test_finish_reason(text, engine_reason, finish):
    last = run(text, engine_reason)[-1]
    assert last.finish_reason == finish == last.reply.finish_reason
    assert last.usage == Usage(7, 11) == last.reply.usage


@pytest.mark.parametrize(
    ("keep", "content"),
    [
        pytest.param(False, "It is at [[1,2,3,4]].", id="markers-removed-by-default"),
        pytest.param(
            True, "It is at <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>.", id="markers-kept-when-asked"
        ),
    ],
)
def test_keep_box_markers(keep, content):
    chunks = run(GROUNDED, keep_box_markers=keep)
    assert "".join(c.content for c in chunks) == content == chunks[-1].reply.content
    assert [box.as_list() for box in chunks[-1].reply.boxes] == [[1, 2, 3, 4]]


def test_interleaved_choices_each_get_their_own_reply():
    pump = ChunkPump("glm-4.6v", prompt_tokens=5)
    events = [Text(0, "<think>a</think>"), Text(1, "<think>b</think>"), Text(1, "Two."), Text(0, "One.")]
    events += [End(1, "stop", 2), End(0, "length", 3)]
    chunks = list(pump.run(events))
    replies = collect(chunks)
    assert [(r.reasoning, r.content, r.finish_reason) for r in replies] == [
        ("a", "One.", "length"),
        ("b", "Two.", "stop"),
    ]
    assert [r.usage.completion_tokens for r in replies] == [3, 2]


# -- what a server hands in already parsed ----------------------------------------------------------------------


def test_server_parts_go_straight_into_chunks_and_the_reply():
    pump = ChunkPump("glm-4.6v", [WEATHER_TOOL])
    chunks = [
        pump.reasoning(0, "\n  Need the "),
        pump.reasoning(0, "weather.  "),
        pump.reasoning(0, " \n"),
        pump.content(0, "Asking: <|begin_of_box|>Rome<|end_of_box|>"),
        pump.tool_call(0, {"index": 0, "id": "srv-1", "function": {"name": "get_weather", "arguments": ""}}),
        pump.tool_call(0, {"index": 0, "function": {"arguments": '{"city": "Ro'}}),
        pump.tool_call(0, {"index": 0, "function": {"arguments": 'me", "days": "3"}'}}),
    ]
    chunks = [c for c in chunks if c is not None] + [pump.end(0, "stop", Usage(9, 4))]
    assert "".join(c.reasoning for c in chunks) == "Need the weather."  # trimmed as the parser trims
    assert "".join(c.content for c in chunks) == "Asking: Rome"
    fragments = [f for c in chunks for f in c.tool_calls]
    assert (fragments[0].id, fragments[0].name, fragments[0].arguments) == ("srv-1", "get_weather", "")
    assert "".join(f.arguments for f in fragments) == '{"city": "Rome", "days": "3"}'
    reply = chunks[-1].reply
    assert (reply.reasoning, reply.content, reply.answer) == ("Need the weather.", "Asking: Rome", "Rome")
    # the server's ids and JSON types stand: "3" stays a string although nothing re-reads it as GLM text
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("srv-1", "get_weather", {"city": "Rome", "days": "3"})
    ]
    assert reply.finish_reason == "tool_calls" and all(not c.raw for c in chunks)


def test_a_server_call_sent_whole_streams_as_name_then_arguments():
    pump = ChunkPump("glm-4.6v")
    chunk = pump.tool_call(0, {"function": {"name": "ping", "arguments": {"n": 1}}})
    assert [(f.index, f.name, f.arguments) for f in chunk.tool_calls] == [
        (0, "ping", ""),
        (0, None, '{"n": 1}'),
    ]
    assert pump.end(0, "stop", None).reply.tool_calls[0].arguments == {"n": 1}


def test_unnumbered_server_fragments_start_a_call_at_each_name():
    pump = ChunkPump("glm-4.6v")
    pump.tool_call(0, {"function": {"name": "a", "arguments": '{"x": '}})
    pump.tool_call(0, {"function": {"arguments": "1}"}})
    pump.tool_call(0, {"function": {"name": "b"}})
    calls = pump.end(0, "stop", None).reply.tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [("call_0", "a", {"x": 1}), ("call_1", "b", {})]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param('{"city": ', "not JSON", id="arguments-that-are-not-json"),
        pytest.param("[1]", "not a JSON object", id="arguments-that-are-a-list"),
    ],
)
def test_bad_server_arguments_are_an_output_error(arguments, message):
    pump = ChunkPump("glm-4.6v")
    pump.tool_call(0, {"index": 0, "function": {"name": "get_weather", "arguments": arguments}})
    with pytest.raises(OutputError, match=message):
        pump.end(0, "stop", None)


def test_a_server_call_cut_by_max_tokens_is_no_error_and_no_half_call():
    pump = ChunkPump("glm-4.6v")
    pump.tool_call(0, {"index": 0, "function": {"name": "get_weather", "arguments": '{"city": "Ro'}})
    last = pump.end(0, "length", None)
    assert (last.finish_reason, last.reply.tool_calls) == ("length", [])


# -- collecting --------------------------------------------------------------------------------------------------


def test_collect_returns_the_reply_the_last_chunk_carries():
    carried = Reply(reasoning="from the engine", content="parsed once")
    chunks = [
        Chunk(0, content="x", raw="<think>other text</think>y"),
        Chunk(0, finish_reason="stop", reply=carried),
    ]
    (reply,) = collect(chunks)
    assert reply is carried and reply.finish_reason == "stop"


def test_collect_parses_the_raw_text_of_an_engine_that_sends_no_reply():
    chunks = [Chunk(0, raw="<think>Hmm.</think>"), Chunk(0, raw="It is <|begin_of_box|>7<|end_of_box|>.")]
    chunks.append(Chunk(0, finish_reason="stop", usage=Usage(1, 2)))
    (reply,) = collect(chunks, family="glm-4.6v")
    assert (reply.reasoning, reply.content, reply.answer, reply.usage) == (
        "Hmm.",
        "It is 7.",
        "7",
        Usage(1, 2),
    )


class ThirdParty:
    """An engine that only has ``generate`` and sends plain deltas."""

    family = "glm-4.6v"

    def generate(self, request):
        yield Chunk(0, reasoning="r")
        yield Chunk(0, content=json.dumps(request.messages[0]["content"]))
        yield Chunk(0, finish_reason="stop")


def test_chat_works_for_anything_with_generate():
    assert isinstance(ThirdParty(), Engine)
    reply = chat(ThirdParty(), ASK)
    assert (reply.reasoning, reply.content, reply.finish_reason) == ("r", '"hi"', "stop")
