"""Streaming == one-shot: for GLM-style outputs cut into deltas every way, StreamParser agrees with parse_reply.

Checked for every generated text and chunking: the accumulated ``.reply`` equals ``parse_reply`` (all fields),
the streamed reasoning/content deltas join to ``reply.reasoning`` / ``reply.content``, and the tool-call
fragments have the OpenAI streaming shape and join to ``ToolCall.arguments_json()``.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glmv.engine.scripted import split_tokens
from glmv.errors import OutputError
from glmv.output import Box, StreamParser, parse_reply

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer"},
                    "units": {"enum": ["c", "f"]},
                    "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
        },
    },
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
    {
        "type": "function",
        "function": {
            "name": "show",
            "parameters": {
                "type": "object",
                "properties": {"note": {"$ref": "#/$defs/Note"}, "kind": {"type": "string"}},
                "oneOf": [
                    {"properties": {"kind": {"const": "text"}, "value": {"type": "string"}}},
                    {"properties": {"kind": {"const": "count"}, "value": {"type": ["integer", "null"]}}},
                ],
                "$defs": {"Note": {"enum": ["7", 8, None]}},
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "run_in_terminal",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}, "timeout": {"type": ["number", "null"]}},
            },
        },
    },
]

TAGS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<|begin_of_box|>",
    "<|end_of_box|>",
    "<tool_call>",
    "</tool_call>",
    "<arg_key>",
    "</arg_key>",
    "<arg_value>",
    "</arg_value>",
    "<|user|>",
    "<|observation|>",
    "<|begin_of_image|>",
    "<|video|>",
    "\\n",
    "\n",
    "<",
    "<thi",
    "</arg_va",
    "<|begin_of",
    "```",
    "<div>",
    "<!DOCTYPE html>",
    "<!doc",
    "<d",
    "\n  <sec",
    "<b>",
]

words = st.text(alphabet=st.sampled_from(list('ab 1-2.,"\\<>/|\n\t中{}[]()')), max_size=12)
numbers = st.integers(min_value=0, max_value=1100).map(str) | st.sampled_from(["12.5", "1000", "0", "999"])


@st.composite
def coordinates(draw) -> str:
    size = draw(st.sampled_from([2, 4, 4, 3]))
    values = [draw(numbers) for _ in range(size)]
    sep = draw(st.sampled_from([",", ", ", " "]))
    left, right = draw(
        st.sampled_from([("[", "]"), ("[[", "]]"), ("(", ")"), ("<", ">"), ("{", "}"), ("", "")])
    )
    return left + sep.join(values) + right


@st.composite
def box(draw) -> str:
    inner = draw(st.one_of(coordinates(), words, st.lists(coordinates(), max_size=3).map(", ".join)))
    if draw(st.booleans()):
        inner = f"The answer is <|begin_of_box|>{inner}<|end_of_box|>"
    return f"<|begin_of_box|>{inner}<|end_of_box|>"


@st.composite
def tool_call(draw) -> str:
    name = draw(
        st.sampled_from(
            ["get_weather", "now", "run_in_terminal", "show", "undeclared", "", "bad name", "x<y"]
        )
    )
    after_name = draw(st.sampled_from(["\n", "", "\\n", " \n"]))
    pairs = []
    for _ in range(draw(st.integers(0, 3))):
        key = draw(
            st.sampled_from(
                [
                    "city",
                    "days",
                    "units",
                    "when",
                    "command",
                    "timeout",
                    "extra",
                    "city",
                    "kind",
                    "value",
                    "note",
                ]
            )
        )
        value = draw(
            st.one_of(
                words,
                st.sampled_from(
                    [
                        "Paris",
                        "text",
                        "count",
                        "7",
                        '"8"',
                        "  two words \n",
                        "3",
                        "[1, 2]",
                        '{"a": 1}',
                        "true",
                        "null",
                        "NaN",
                        "1e999",
                        "{'a': (1, 2)}",
                        "echo '</tool_call>' done",
                        "",
                    ]
                ),
            )
        )
        sep = draw(st.sampled_from(["\n", "", " "]))
        if draw(st.integers(0, 9)) == 0:
            pairs.append(f"<arg_key>{key}</arg_key>{sep}")  # a key with no value
        else:
            pairs.append(f"<arg_key>{key}</arg_key>{sep}<arg_value>{value}</arg_value>{sep}")
    return f"<tool_call>{name}{after_name}{''.join(pairs)}</tool_call>"


html_page = st.sampled_from(
    [
        "<!DOCTYPE html>\n<html><body><div class='a'>hi</div></body></html>",
        'Here is the page:\n<div id="x">\n  <p>hello</p>\n</div>',
        "```html\n<div>fenced already</div>\n```",
        "Use <b>bold</b> text.",
    ]
)


@st.composite
def glm_output(draw) -> str:
    parts: list[str] = [draw(st.sampled_from(["", "\n", "  "]))]
    reasoning = draw(words) + draw(
        st.sampled_from(["", "<|begin_of_box|>5<|end_of_box|>", " more thoughts "])
    )
    style = draw(st.sampled_from(["closed", "closed", "cut", "preopened", "empty", "none", "tool_inside"]))
    if style == "closed":
        parts.append(f"<think>{reasoning}</think>\n")
    elif style == "cut":
        parts.append(f"<think>{reasoning}")
    elif style == "preopened":
        parts.append(f"{reasoning}</think>")
    elif style == "empty":
        parts.append("<think></think>\n")
    elif style == "tool_inside":
        parts.append(f"<think>{reasoning}")
    body: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        body.append(draw(st.one_of(words, box(), html_page, st.sampled_from(TAGS), tool_call())))
    answer = "".join(body)
    answer_style = draw(st.sampled_from(["plain", "plain", "tags", "open_tag"]))
    if answer_style == "tags":
        answer = f"<answer>\n{answer}\n</answer>"
    elif answer_style == "open_tag":
        answer = f"<answer>{answer}"
    parts.append(answer)
    for _ in range(draw(st.integers(0, 2))):
        parts.append(draw(st.sampled_from(["\n", "", "Calling.\n"])) + draw(tool_call()))
    text = "".join(parts)
    if draw(st.booleans()):  # cut off anywhere
        text = text[: draw(st.integers(0, len(text)))]
    return text


soup = st.lists(st.one_of(st.sampled_from(TAGS), words, tool_call(), box()), max_size=12).map("".join)


@st.composite
def chunked(draw, texts):
    text = draw(texts)
    mode = draw(st.sampled_from(["one", "random", "small"]))
    if mode == "one":
        return text, list(text)
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=40 if mode == "random" else 400))))
    if mode == "small":
        cuts = sorted(set(cuts) | set(range(0, len(text), 3)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


OPTIONS = st.sampled_from(
    [
        {},
        {"family": "glm-4.5v"},
        {"family": "glm-4.1v-thinking"},
        {"start": "reasoning"},
        {"tools": TOOLS},
        {"family": "glm-4.6v", "tools": TOOLS, "bare_boxes": True},
        {"bare_boxes": True, "fence_html": False},
        {"keep_box_markers": True},
        {"family": "glm-4.1v-thinking", "tools": TOOLS, "keep_box_markers": True},
        {"start": "reasoning", "bare_boxes": True, "keep_box_markers": True},
    ]
)


def check_stream(text: str, pieces: list[str], options: dict) -> None:
    assert "".join(pieces) == text
    expected = parse_reply(text, **options)
    parser = StreamParser(**options)
    deltas = [parser.feed(piece) for piece in pieces]
    deltas.append(parser.close())
    assert parser.reply == expected
    assert parser.reply.raw == text
    assert "".join(d.reasoning for d in deltas) == expected.reasoning
    assert "".join(d.content for d in deltas) == expected.content

    fragments = [fragment for d in deltas for fragment in d.tool_calls]
    by_index: dict[int, list] = {}
    for fragment in fragments:
        by_index.setdefault(fragment.index, []).append(fragment)
    assert sorted(by_index) == list(range(len(expected.tool_calls)))
    for index, call in enumerate(expected.tool_calls):
        first, *rest = by_index[index]
        assert (first.id, first.name, first.arguments) == (call.id, call.name, "")
        assert all(f.id is None and f.name is None for f in rest)
        joined = "".join(f.arguments for f in rest)
        assert joined == call.arguments_json()
        assert json.loads(joined) == call.arguments


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunked(glm_output()), OPTIONS)
def test_stream_equals_one_shot_on_glm_outputs(case, options):
    text, pieces = case
    check_stream(text, pieces, options)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunked(soup), OPTIONS)
def test_stream_equals_one_shot_on_tag_soup(case, options):
    text, pieces = case
    check_stream(text, pieces, options)


def test_partial_tags_are_held_back_not_emitted():
    parser = StreamParser()
    assert parser.feed("<thi").reasoning == ""
    assert parser.feed("nk>Let me").reasoning == "Let me"
    delta = parser.feed(" see</thi")
    assert delta.reasoning == " see" and "<" not in delta.content
    parser.feed("nk>")
    parser.feed("x" * 70 + "<|begin_of")
    assert parser.feed("_box|>7<|end_of_box|>").content.endswith("7")
    parser.close()
    assert parser.reply.answer == "7"
    assert "<|" not in parser.reply.content


def test_content_streams_before_the_end_when_the_family_is_known():
    """With a family, tag-less text is content at once; without one it waits for </think> or the end."""
    known = StreamParser(family="glm-4.5v", fence_html=False)
    assert known.feed("Paris is the capital. ").content == "Paris is the capital."
    unknown = StreamParser(fence_html=False)
    assert unknown.feed("Paris is the capital. ").content == ""
    assert unknown.close().content == "Paris is the capital."


def test_a_call_waits_for_its_end_tag_so_a_cut_off_call_never_streams():
    """Issue 8 (replacing the vllm #32829 early streaming of string arguments): a call may still be cut off by
    ``max_tokens``, and then it is content, so nothing of it is a tool-call delta before ``</tool_call>``."""
    parser = StreamParser(family="glm-4.6v", tools=TOOLS)
    parser.feed("<tool_call>run_in_terminal\n<arg_key>command</arg_key>\n<arg_value>echo ")
    assert parser.feed("hello world").tool_calls == ()
    fragments = parser.feed("</arg_value></tool_call>").tool_calls
    assert [f.arguments for f in fragments] == ["", '{"command": "echo hello world"}']
    cut = StreamParser(family="glm-4.6v", tools=TOOLS)
    text = "<tool_call>run_in_terminal\n<arg_key>command</arg_key>\n<arg_value>echo hello"
    deltas = [cut.feed(text), cut.close()]
    assert [d.tool_calls for d in deltas] == [(), ()]
    assert "".join(d.content for d in deltas) == text == cut.reply.content


def test_feed_after_close_is_an_error():
    parser = StreamParser()
    parser.close()
    with pytest.raises(OutputError):
        parser.feed("more")


def test_short_answers_stream_from_their_first_characters():
    """A reply that cannot be an HTML page is not held for the HTML window (TTFT is not the whole latency)."""
    parser = StreamParser(family="glm-4.6v")
    pieces = [parser.feed(char).content for char in "The answer is 4"]
    assert pieces[0] == "T"  # the first character is out before the second arrives
    tail = parser.close().content
    assert "".join(pieces) == "The answer is 4" and tail == ""
    assert parser.reply.content == "The answer is 4"


# (text, how many characters are fed before content first comes out, the content at the end)
EMISSION = [
    ("The answer is 4", 1, "The answer is 4"),
    ("  \n42", 4, "42"),  # leading whitespace is trimmed, then the first character flows
    ("`code` is fine", 1, "`code` is fine"),
    ("```html\n<div>x</div>\n```", 1, "```html\n<div>x</div>\n```"),
    ("<3 you", 2, "<3 you"),  # "<3" can no longer become a page tag
    ("<b>bold</b> words", 3, "<b>bold</b> words"),  # "<b>" neither
    ("<|begin_of_box|>7<|end_of_box|>", 17, "7"),  # the marker is a tag; content starts with "7"
    ("Here is the page:\n<div>hi</div>", 1, "Here is the page:\n```html\n<div>hi</div>\n```"),
    ("Intro\n<p>x</p>", 1, "Intro\n<p>x</p>"),
    ("<div>hi</div>", None, "```html\n<div>hi</div>\n```"),  # could be a page: decided at the end
    ("<!DOCTYPE html><p>", None, "```html\n<!DOCTYPE html><p>\n```"),
    ("<!-- note -->", 3, "<!-- note -->"),  # "<!-" is no doctype
    ("<html5 is a word", 6, "<html5 is a word"),  # "<html5" is no <html tag
    ("<nav\nmenu", None, "```html\n<nav\nmenu\n```"),
]


@pytest.mark.parametrize(("text", "first", "content"), EMISSION, ids=[c[0] for c in EMISSION])
def test_content_is_held_only_while_it_could_still_be_an_html_page(text, first, content):
    parser = StreamParser(family="glm-4.6v")
    emitted = [parser.feed(char).content for char in text]
    emitted.append(parser.close().content)
    fed_before_first = next(i + 1 for i, piece in enumerate(emitted) if piece)
    assert fed_before_first == (len(text) + 1 if first is None else first)  # len+1: only at close
    assert "".join(emitted) == content == parse_reply(text, family="glm-4.6v").content


def test_html_pages_are_held_until_the_window_decides_then_flow():
    """A page start is held for the first 64 characters of content at most; the rest streams as it comes."""
    parser = StreamParser(family="glm-4.6v")
    assert parser.feed('<div class="card">\n  <p>The harbour at dusk, ').content == ""
    first = parser.feed("with boats moored along the quay and gulls overhead.</p> ").content
    assert first.startswith('```html\n<div class="card">')
    assert parser.feed("<p>Lights ").content == " <p>Lights"
    assert parser.close().content == "\n```"


def test_kept_box_markers_stream_and_parse():
    """skip_special_tokens=False servers keep the markers in content; boxes and answer are read the same."""
    text = "<think>Look.</think>\nIt is here <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>."
    kept = parse_reply(text, family="glm-4.6v", keep_box_markers=True)
    clean = parse_reply(text, family="glm-4.6v")
    assert kept.content == "It is here <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>."
    assert clean.content == "It is here [[1,2,3,4]]."
    assert (kept.boxes, kept.answer, kept.reasoning) == (clean.boxes, clean.answer, clean.reasoning)
    assert kept.boxes == [Box(1, 2, 3, 4)]
    parser = StreamParser(family="glm-4.6v", keep_box_markers=True)
    streamed = "".join(parser.feed(piece).content for piece in split_tokens(text)) + parser.close().content
    assert streamed == kept.content and parser.reply == kept
