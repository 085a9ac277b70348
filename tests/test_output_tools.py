"""Tool calls: glm45/glm47 shapes, schema typing, names, and the cases where vLLM's and SGLang's GLM tool parsers went wrong."""

from __future__ import annotations

import json

import pytest

from glmv.output import StreamParser, ToolCall, parse_reply
from glmv.output.tools import ToolSchemas, type_value


def tool(name: str, **properties) -> dict:
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": properties}},
    }


TOOLS = [
    tool("get_weather", city={"type": "string"}, days={"type": "integer"}),
    tool("now"),
    tool("run_in_terminal", command={"type": "string"}, timeout={"type": ["number", "null"]}),
    tool(
        "search",
        query={"type": "string"},
        limit={"anyOf": [{"type": "integer"}, {"type": "null"}]},
        filters={"oneOf": [{"type": "object"}, {"type": "array"}]},
        exact={"allOf": [{"type": "boolean"}]},
        mode={"enum": ["fast", "slow"]},
        level={"enum": [1, 2, 3]},
        tag={"type": ["string", "integer"]},
    ),
    {
        "name": "edit_file",
        "parameters": {"properties": {"path": {"type": "string"}, "text": {"type": "string"}}},
    },
]

# (source, text, tools, content, calls as (name, arguments))
CASES = [
    (
        "FORMATS §4.2 template example (glm45 shape, newline after the name)",
        "<think>need the tool</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
        "</tool_call>",
        TOOLS,
        "",
        [("get_weather", {"city": "Paris"})],
    ),
    (
        "SGLang PR #15333 / rtp-llm #525: glm47 shape, no newline",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Oslo</arg_value><arg_key>days</arg_key>"
        "<arg_value>3</arg_value></tool_call>",
        TOOLS,
        "",
        [("get_weather", {"city": "Oslo", "days": 3})],
    ),
    ("glm47 zero-argument call", "<tool_call>now</tool_call>", TOOLS, "", [("now", {})]),
    ("glm45 zero-argument call", "<tool_call>now\n</tool_call>", TOOLS, "", [("now", {})]),
    (
        "SGLang PR #12456: a literal \\n after the name",
        "<tool_call>get_weather\\n<arg_key>city</arg_key>\\n<arg_value>Rome</arg_value>\\n</tool_call>",
        TOOLS,
        "",
        [("get_weather", {"city": "Rome"})],
    ),
    (
        "FORMATS §5.4: text before the first call is content; several calls in a row",
        "Let me check both.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
        "</tool_call>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Lyon</arg_value>\n</tool_call>",
        TOOLS,
        "Let me check both.",
        [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Lyon"})],
    ),
    (
        "content between and after calls is kept",
        "A<tool_call>now</tool_call>B<tool_call>now</tool_call>C",
        TOOLS,
        "ABC",
        [("now", {}), ("now", {})],
    ),
    (
        "vllm #42400 / #46040: a call made inside <think> ends the reasoning",
        "<think>I should look this up.<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris</arg_value>"
        "</tool_call>",
        TOOLS,
        "",
        [("get_weather", {"city": "Paris"})],
    ),
    (
        "local-inference-lab/vllm #639: a literal </tool_call> inside a value",
        "<tool_call>run_in_terminal\n<arg_key>command</arg_key>\n<arg_value>grep -n '</tool_call>' out.txt"
        "</arg_value>\n</tool_call>",
        TOOLS,
        "",
        [("run_in_terminal", {"command": "grep -n '</tool_call>' out.txt"})],
    ),
    (
        "SGLang PR #20543: whitespace inside string values is preserved (code edits)",
        "<tool_call>edit_file\n<arg_key>path</arg_key>\n<arg_value>a.py</arg_value>\n<arg_key>text</arg_key>\n"
        "<arg_value>\n    def f():\n        return 1\n\n</arg_value>\n</tool_call>",
        TOOLS,
        "",
        [("edit_file", {"path": "a.py", "text": "\n    def f():\n        return 1\n\n"})],
    ),
    (
        "SGLang PR #15754: an empty name is skipped",
        "<tool_call>\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>ok",
        None,
        "ok",
        [],
    ),
    (
        "SGLang PR #15754: an invalid name is skipped, the next call kept",
        "<tool_call>get weather now\n</tool_call><tool_call>now</tool_call>",
        None,
        "",
        [("now", {})],
    ),
    (
        "vLLM: names are validated against the declared tools",
        "<tool_call>delete_everything\n<arg_key>really</arg_key>\n<arg_value>yes</arg_value>\n</tool_call>",
        TOOLS,
        "",
        [],
    ),
    (
        "without tools any valid name is kept and values are guessed",
        "<tool_call>lookup<arg_key>n</arg_key><arg_value>42</arg_value><arg_key>q</arg_key>"
        '<arg_value>cats and dogs</arg_value><arg_key>f</arg_key><arg_value>{"a": [1, 2]}</arg_value></tool_call>',
        None,
        "",
        [("lookup", {"n": 42, "q": "cats and dogs", "f": {"a": [1, 2]}})],
    ),
    (
        "a string property keeps digits and JSON text as raw strings (vllm #36410: no double encoding)",
        '<tool_call>get_weather<arg_key>city</arg_key><arg_value>{"x": 1}</arg_value><arg_key>days</arg_key>'
        "<arg_value>2</arg_value></tool_call>",
        TOOLS,
        "",
        [("get_weather", {"city": '{"x": 1}', "days": 2})],
    ),
    (
        "SGLang PR #15753: anyOf / oneOf / allOf / enum / type arrays",
        "<tool_call>search<arg_key>query</arg_key><arg_value>42</arg_value><arg_key>limit</arg_key>"
        "<arg_value>10</arg_value><arg_key>filters</arg_key><arg_value>{'year': 2024}</arg_value>"
        "<arg_key>exact</arg_key><arg_value>true</arg_value><arg_key>mode</arg_key><arg_value>fast</arg_value>"
        "<arg_key>level</arg_key><arg_value>2</arg_value><arg_key>tag</arg_key><arg_value>7</arg_value></tool_call>",
        TOOLS,
        "",
        [
            (
                "search",
                {
                    "query": "42",
                    "limit": 10,
                    "filters": {"year": 2024},
                    "exact": True,
                    "mode": "fast",
                    "level": 2,
                    "tag": 7,
                },
            )
        ],
    ),
    (
        "SGLang PR #15754: null values",
        "<tool_call>search<arg_key>query</arg_key><arg_value>x</arg_value><arg_key>limit</arg_key>"
        "<arg_value>null</arg_value></tool_call>",
        TOOLS,
        "",
        [("search", {"query": "x", "limit": None})],
    ),
    (
        "a key without a value is None; a repeated key keeps its first value",
        "<tool_call>search<arg_key>limit</arg_key><arg_key>query</arg_key><arg_value>a</arg_value>"
        "<arg_key>query</arg_key><arg_value>b</arg_value></tool_call>",
        TOOLS,
        "",
        [("search", {"limit": None, "query": "a"})],
    ),
    (
        "literal text that is not a number stays raw for a number property",
        "<tool_call>run_in_terminal<arg_key>command</arg_key><arg_value>ls</arg_value><arg_key>timeout</arg_key>"
        "<arg_value>soon</arg_value></tool_call>",
        TOOLS,
        "",
        [("run_in_terminal", {"command": "ls", "timeout": "soon"})],
    ),
]


@pytest.mark.parametrize(("source", "text", "tools", "content", "calls"), CASES, ids=[c[0] for c in CASES])
def test_tool_calls(source, text, tools, content, calls):
    reply = parse_reply(text, tools=tools)
    assert reply.content == content
    assert [(call.name, call.arguments) for call in reply.tool_calls] == calls
    assert [call.id for call in reply.tool_calls] == [f"call_{i}" for i in range(len(calls))]
    assert "<tool_call>" not in reply.content and "<arg_key>" not in reply.content


def stream(text: str, pieces: list[str], tools=None):
    parser = StreamParser(tools=tools)
    fragments = [f for piece in pieces for f in parser.feed(piece).tool_calls]
    fragments += parser.close().tool_calls
    assert parser.reply == parse_reply(text, tools=tools)
    return parser.reply, fragments


def test_vllm_39757_streamed_names_are_never_truncated():
    text = "<tool_call>run_in_terminal\n<arg_key>command</arg_key>\n<arg_value>ls</arg_value>\n</tool_call>"
    _, fragments = stream(text, [text[i : i + 3] for i in range(0, len(text), 3)], TOOLS)
    assert [f.name for f in fragments if f.name] == ["run_in_terminal"]


def test_vllm_44326_inline_zero_argument_call_in_one_delta():
    text = "Done.<tool_call>now</tool_call>"
    reply, fragments = stream(text, [text], TOOLS)
    assert reply.content == "Done."
    assert [(f.index, f.id, f.name, f.arguments) for f in fragments] == [
        (0, "call_0", "now", ""),
        (0, None, None, "{}"),
    ]


def test_vllm_34449_merged_deltas_carry_every_call():
    """MTP / --stream-interval: several tags and calls arrive in one delta."""
    text = (
        "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>"
        "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Nice</arg_value>\n</tool_call>"
    )
    reply, fragments = stream(text, [text[:50], text[50:]], TOOLS)
    for index, call in enumerate(reply.tool_calls):
        args = "".join(f.arguments for f in fragments if f.index == index)
        assert json.loads(args) == call.arguments


def test_vllm_35208_streamed_json_matches_arguments_json_exactly():
    text = '<tool_call>search<arg_key>query</arg_key><arg_value>a "q"\n</arg_value><arg_key>limit</arg_key><arg_value>5</arg_value></tool_call>'
    reply, fragments = stream(text, list(text), TOOLS)
    joined = "".join(f.arguments for f in fragments)
    assert joined == reply.tool_calls[0].arguments_json() == '{"query": "a \\"q\\"\\n", "limit": 5}'


def test_tool_call_arguments_json_is_the_openai_string():
    call = ToolCall(id="call_0", name="f", arguments={"città": "Zürich", "n": 1})
    assert json.loads(call.arguments_json()) == call.arguments
    assert "Zürich" in call.arguments_json()


@pytest.mark.parametrize(
    ("raw", "types", "value"),
    [
        (" spaced ", {"string"}, " spaced "),
        ("null", {"string", "null"}, None),
        ("null", {"string"}, "null"),
        ("null", {"null"}, None),
        ('"12"', {"integer"}, 12),
        ("3", {"integer"}, 3),
        ("3.5", {"number"}, 3.5),
        ("True", {"boolean"}, True),
        ("(1, 2)", {"array"}, [1, 2]),
        ("NaN", {"number"}, "NaN"),
        ("1e999", {"number"}, "1e999"),
        ("1e999", set(), "1e999"),
        ("hello", set(), "hello"),
        ('"quoted"', set(), "quoted"),
        ("  42 ", set(), 42),
        ("[1, 2", set(), "[1, 2"),
        ("x", {"integer", "string"}, "x"),
        ("7", {"integer", "string"}, 7),
        ('"7"', {"integer", "string"}, '"7"'),
    ],
)
def test_type_value(raw, types, value):
    assert type_value(raw, types) == value


def test_declared_tools_type_arguments_and_restrict_names():
    schemas = ToolSchemas(TOOLS)
    raw = {"limit": "null", "filters": "[1]", "mode": "fast", "query": "42", "missing": "7", "exact": None}
    assert schemas.type_arguments("search", raw) == {
        "limit": None,
        "filters": [1],
        "mode": "fast",
        "query": "42",
        "missing": 7,
        "exact": None,
    }
    assert not schemas.accepts("unknown")
    assert ToolSchemas(None).accepts("anything_valid")
    assert ToolSchemas(None).type_arguments("anything_valid", {"n": "3", "s": "hi"}) == {"n": 3, "s": "hi"}
    assert not ToolSchemas(None).accepts("")
