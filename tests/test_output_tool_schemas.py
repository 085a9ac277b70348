"""Tool arguments typed by the schema, and cut-off calls kept (issue 8), each checked one-shot and cut every way.

The schema facts are the ones vLLM's glm4 tool parser and SGLang's glm4 detector act on (null for nullable
properties, ``$ref`` into ``$defs``, enum members of their own type, quoted numbers for number properties,
discriminated ``oneOf`` / ``anyOf``); a call the text ends inside is no call and its text stays in
``content``, as both servers return it.
"""

from __future__ import annotations

import itertools
import json

import pytest

from glmv.output import StreamParser, parse_reply


def tools(parameters: dict, name: str = "f") -> list[dict]:
    return [{"type": "function", "function": {"name": name, "parameters": parameters}}]


def props(**properties) -> dict:
    return {"type": "object", "properties": properties}


def call(*pairs: tuple[str, str], name: str = "f") -> str:
    body = "".join(f"<arg_key>{key}</arg_key><arg_value>{value}</arg_value>" for key, value in pairs)
    return f"<tool_call>{name}\n{body}</tool_call>"


def chunkings(text: str):
    """The text whole, one character at a time, cut once at every place, and in pieces of 2, 3, 5 and 7."""
    yield [text]
    yield list(text)
    for cut in range(1, len(text)):
        yield [text[:cut], text[cut:]]
    for size in (2, 3, 5, 7):
        for offset in range(1, size):
            bounds = [0, *range(offset, len(text), size), len(text)]
            yield [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def parse_every_way(text: str, tool_list: list[dict] | None):
    """The one-shot reply, after checking that every chunking streams to it (fragments included)."""
    expected = parse_reply(text, tools=tool_list)
    for pieces in chunkings(text):
        parser = StreamParser(tools=tool_list)
        deltas = [parser.feed(piece) for piece in pieces]
        deltas.append(parser.close())
        assert parser.reply == expected, pieces
        assert "".join(d.content for d in deltas) == expected.content
        assert "".join(d.reasoning for d in deltas) == expected.reasoning
        fragments = [f for d in deltas for f in d.tool_calls]
        for index, tool_call in enumerate(expected.tool_calls):
            first, *rest = [f for f in fragments if f.index == index]
            assert (first.id, first.name, first.arguments) == (tool_call.id, tool_call.name, "")
            assert "".join(f.arguments for f in rest) == tool_call.arguments_json()
        assert {f.index for f in fragments} == set(range(len(expected.tool_calls)))
    return expected


NULLABLE = {"type": ["string", "null"]}
DEFS = {
    "Count": {"type": "integer"},
    "Flag": {"type": "boolean"},
    "a/b~c": {"type": "integer"},
    "a b": {"type": "number"},
    "Text": {"type": "string"},
    "Maybe": NULLABLE,
    "Mode": {"$ref": "#/$defs/Level"},
    "Level": {"enum": [1, 2]},
    "Loop": {"$ref": "#/$defs/Pool"},
    "Pool": {"$ref": "#/$defs/Loop"},
}


def with_defs(**properties) -> dict:
    return {**props(**properties), "$defs": DEFS, "definitions": {"Flag": {"type": "boolean"}}}


# (behaviour, parameters, value text, value)
VALUES = [
    ("a nullable string gives None for null", props(v=NULLABLE), "null", None),
    ("a nullable string gives None for null with spaces around", props(v=NULLABLE), " null\n", None),
    ("a nullable string keeps other text raw", props(v=NULLABLE), "  nullish ", "  nullish "),
    ('"type": "null" gives None', props(v={"type": "null"}), "null", None),
    ("an enum containing null gives None for null", props(v={"enum": ["a", None]}), "null", None),
    ("an enum containing null keeps its string members", props(v={"enum": ["a", None]}), "a", "a"),
    (
        "anyOf with a null branch gives None",
        props(v={"anyOf": [{"type": "string"}, {"type": "null"}]}),
        "null",
        None,
    ),
    ("a string that does not allow null keeps the text null", props(v={"type": "string"}), "null", "null"),
    ('an enum member "null" stays the string', props(v={"enum": ["null", "none"]}), "null", "null"),
    (
        "a string-or-integer without null keeps the text null",
        props(v={"type": ["string", "integer"]}),
        "null",
        "null",
    ),
    ("a nullable integer gives None for null", props(v={"type": ["integer", "null"]}), "null", None),
    ("$ref into $defs", with_defs(v={"$ref": "#/$defs/Count"}), "5", 5),
    ("$ref into definitions", with_defs(v={"$ref": "#/definitions/Flag"}), "true", True),
    ("$ref with JSON-pointer escapes ~1 and ~0", with_defs(v={"$ref": "#/$defs/a~1b~0c"}), "7", 7),
    ("$ref with a percent-encoded pointer", with_defs(v={"$ref": "#/$defs/a%20b"}), "2.5", 2.5),
    ("a ref to a ref", with_defs(v={"$ref": "#/$defs/Mode"}), "2", 2),
    ("a string behind a ref stays raw", with_defs(v={"$ref": "#/$defs/Text"}), "42", "42"),
    ("a nullable string behind a ref gives None", with_defs(v={"$ref": "#/$defs/Maybe"}), "null", None),
    ("a ref with sibling keywords", with_defs(v={"$ref": "#/$defs/Count", "description": "n"}), "3", 3),
    ("a ref inside anyOf", with_defs(v={"anyOf": [{"$ref": "#/$defs/Count"}, {"type": "null"}]}), "4", 4),
    ("a ref cycle says nothing: JSON is guessed", with_defs(v={"$ref": "#/$defs/Loop"}), "42", 42),
    ("a ref cycle says nothing: text stays raw", with_defs(v={"$ref": "#/$defs/Loop"}), "hi", "hi"),
    ("a ref that points nowhere says nothing", with_defs(v={"$ref": "#/$defs/Missing"}), "[1]", [1]),
    ("a remote ref says nothing", props(v={"$ref": "https://example.org/s.json#/x"}), "1", 1),
    (
        "a $ref as the whole parameters schema",
        {"$ref": "#/$defs/Args", "$defs": {"Args": props(v={"type": "string"})}},
        "12",
        "12",
    ),
    ('enum ["7", 8]: text 7 is the string member', props(v={"enum": ["7", 8]}), "7", "7"),
    ('enum ["7", 8]: text 8 is the integer member', props(v={"enum": ["7", 8]}), "8", 8),
    ('enum ["7", 8]: a quoted "7" is the string member', props(v={"enum": ["7", 8]}), '"7"', "7"),
    ("enum members of several types", props(v={"enum": [1, 2.5, True, "x"]}), "true", True),
    ("an enum float member", props(v={"enum": [1, 2.5, True, "x"]}), "2.5", 2.5),
    ("an enum integer member is not the boolean", props(v={"enum": [True, 1]}), "1", 1),
    ("an enum string member with spaces around", props(v={"enum": ["fast", "slow"]}), " fast\n", "fast"),
    ("text that is no enum member stays raw", props(v={"enum": ["fast", "slow"]}), "medium", "medium"),
    ("a const member", props(v={"const": 3}), "3", 3),
    ("an array enum member", props(v={"enum": [[1, 2], "x"]}), "[1, 2]", [1, 2]),
    ("a quoted number for an integer is the number", props(v={"type": "integer"}), '"123"', 123),
    ("a quoted number for a number is the number", props(v={"type": "number"}), '"2.5"', 2.5),
    ("a quoted number for a nullable integer", props(v={"type": ["integer", "null"]}), ' "7" ', 7),
    (
        "a quoted number for anyOf integer/null",
        props(v={"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        '"9"',
        9,
    ),
    ("a quoted non-number for an integer stays that string", props(v={"type": "integer"}), '"abc"', "abc"),
    ('a quoted "true" for an integer stays that string', props(v={"type": "integer"}), '"true"', "true"),
    (
        "a quoted number where strings are allowed stays as written",
        props(v={"type": ["integer", "string"]}),
        '"7"',
        '"7"',
    ),
    (
        "allOf narrows number and integer to integer",
        props(v={"allOf": [{"type": "number"}, {"type": "integer"}]}),
        "4",
        4,
    ),
    (
        "allOf with a constraint-only part keeps the type",
        props(v={"allOf": [{"type": "string"}, {"minLength": 1}]}),
        "8",
        "8",
    ),
]


@pytest.mark.parametrize(("behaviour", "parameters", "raw", "value"), VALUES, ids=[c[0] for c in VALUES])
def test_values_are_typed_by_the_schema(behaviour, parameters, raw, value):
    reply = parse_every_way(call(("v", raw)), tools(parameters))
    (typed,) = reply.tool_calls
    assert typed.arguments == {"v": value}
    assert type(typed.arguments["v"]) is type(value)
    assert json.loads(typed.arguments_json()) == typed.arguments


ONE_OF = {
    "type": "object",
    "properties": {"kind": {"type": "string"}},
    "oneOf": [
        {"properties": {"kind": {"const": "text"}, "value": {"type": "string"}}},
        {"properties": {"kind": {"const": "count"}, "value": {"type": "integer"}}},
    ],
}
ANY_OF_ENUM = {
    "type": "object",
    "anyOf": [
        {"properties": {"unit": {"enum": ["c", "f"]}, "temp": {"type": "number"}}},
        {"properties": {"unit": {"enum": ["words"]}, "temp": {"type": "string"}}},
    ],
}
ONE_OF_REFS = {
    "type": "object",
    "oneOf": [{"$ref": "#/$defs/Text"}, {"$ref": "#/$defs/Count"}],
    "$defs": {
        "Text": {"properties": {"kind": {"enum": ["text", "note"]}, "value": {"type": "string"}}},
        "Count": {"properties": {"kind": {"const": "count"}, "value": {"$ref": "#/$defs/N"}}},
        "N": {"type": ["integer", "null"]},
    },
}
ALL_OF_ONE_OF = {
    "allOf": [
        {"properties": {"id": {"type": "string"}}},
        {
            "oneOf": [
                {"properties": {"flag": {"const": True}, "value": {"type": "integer"}}},
                {"properties": {"flag": {"const": False}, "value": {"type": "string"}}},
            ]
        },
    ]
}

# (behaviour, parameters, arguments in the order written, typed arguments)
UNIONS = [
    (
        "kind text before value: a string",
        ONE_OF,
        [("kind", "text"), ("value", "5")],
        {"kind": "text", "value": "5"},
    ),
    (
        "kind count before value: an integer",
        ONE_OF,
        [("kind", "count"), ("value", "5")],
        {"kind": "count", "value": 5},
    ),
    (
        "kind text after value: a string",
        ONE_OF,
        [("value", "5"), ("kind", "text")],
        {"value": "5", "kind": "text"},
    ),
    (
        "kind count after value: an integer",
        ONE_OF,
        [("value", "5"), ("kind", "count")],
        {"value": 5, "kind": "count"},
    ),
    (
        "kind text keeps a string's spaces",
        ONE_OF,
        [("value", " 5 "), ("kind", "text")],
        {"value": " 5 ", "kind": "text"},
    ),
    ("no discriminator: either branch, JSON read", ONE_OF, [("value", "5")], {"value": 5}),
    ("no discriminator: either branch, text kept", ONE_OF, [("value", "five")], {"value": "five"}),
    (
        "an unknown kind fits no branch: either",
        ONE_OF,
        [("kind", "other"), ("value", "5")],
        {"kind": "other", "value": 5},
    ),
    (
        "anyOf by an enum discriminator: number",
        ANY_OF_ENUM,
        [("temp", "21"), ("unit", "c")],
        {"temp": 21, "unit": "c"},
    ),
    (
        "anyOf by an enum discriminator: string",
        ANY_OF_ENUM,
        [("temp", "21"), ("unit", "words")],
        {"temp": "21", "unit": "words"},
    ),
    (
        "oneOf branches behind refs: string",
        ONE_OF_REFS,
        [("value", "null"), ("kind", "note")],
        {"value": "null", "kind": "note"},
    ),
    (
        "oneOf branches behind refs: nullable integer",
        ONE_OF_REFS,
        [("value", "null"), ("kind", "count")],
        {"value": None, "kind": "count"},
    ),
    (
        "oneOf inside allOf by a boolean const",
        ALL_OF_ONE_OF,
        [("id", "1"), ("value", "2"), ("flag", "true")],
        {"id": "1", "value": 2, "flag": True},
    ),
    (
        "oneOf inside allOf, the other branch",
        ALL_OF_ONE_OF,
        [("flag", "false"), ("value", "2")],
        {"flag": False, "value": "2"},
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "parameters", "pairs", "arguments"), UNIONS, ids=[c[0] for c in UNIONS]
)
def test_alternatives_are_chosen_by_a_sibling_discriminator(behaviour, parameters, pairs, arguments):
    reply = parse_every_way(call(*pairs), tools(parameters))
    assert [c.arguments for c in reply.tool_calls] == [arguments]
    assert list(reply.tool_calls[0].arguments) == [key for key, _ in pairs]  # the order written


def test_the_branch_chosen_for_one_call_does_not_carry_to_the_next():
    text = (
        call(("kind", "count"), ("value", "5"))
        + call(("value", "6"), ("kind", "text"))
        + call(("value", "7"))
        + call(("kind", "text"), ("value", "8"))
        + call(("value", "9"), ("kind", "count"))
    )
    reply = parse_every_way(text, tools(ONE_OF))
    assert [c.arguments["value"] for c in reply.tool_calls] == [5, "6", 7, "8", 9]


CUT_WEATHER = tools(props(city={"type": "string"}, days={"type": "integer"}), name="get_weather")

# (behaviour, text, reasoning, content, calls as (name, arguments))
CUT_OFF = [
    (
        "cut inside a value: no call, the text is content",
        "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Par",
        "",
        "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Par",
        [],
    ),
    ("cut inside the name", "Sure.<tool_call>get_wea", "", "Sure.<tool_call>get_wea", []),
    ("cut right after <tool_call>", "Calling.\n<tool_call>", "", "Calling.\n<tool_call>", []),
    (
        "cut inside the closing tag",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Oslo</arg_value></tool_ca",
        "",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Oslo</arg_value></tool_ca",
        [],
    ),
    (
        "cut inside a key",
        "<tool_call>get_weather<arg_key>ci",
        "",
        "<tool_call>get_weather<arg_key>ci",
        [],
    ),
    (
        "a complete call is kept, the cut one after it is content",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Oslo</arg_value></tool_call>\n"
        "<tool_call>get_weather<arg_key>days</arg_key><arg_value>3",
        "",
        "<tool_call>get_weather<arg_key>days</arg_key><arg_value>3",
        [("get_weather", {"city": "Oslo"})],
    ),
    (
        "a cut call to an undeclared tool is content too",
        "Let me.<tool_call>rm_rf<arg_key>path</arg_key><arg_value>/",
        "",
        "Let me.<tool_call>rm_rf<arg_key>path</arg_key><arg_value>/",
        [],
    ),
    (
        "a call cut off inside <think> ends the reasoning; its text is content",
        "<think>Need weather.<tool_call>get_weather<arg_key>city</arg_key>",
        "Need weather.",
        "<tool_call>get_weather<arg_key>city</arg_key>",
        [],
    ),
    (
        "a value holding a literal </tool_call> does not complete the call",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>a</tool_call>b",
        "",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>a</tool_call>b",
        [],
    ),
    (
        "box markers and end tokens inside a cut call stay as written",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value><|begin_of_box|>x<|user|>",
        "",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value><|begin_of_box|>x<|user|>",
        [],
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "text", "reasoning", "content", "calls"), CUT_OFF, ids=[c[0] for c in CUT_OFF]
)
def test_a_call_the_text_ends_inside_is_no_call_and_stays_in_content(
    behaviour, text, reasoning, content, calls
):
    reply = parse_every_way(text, CUT_WEATHER)
    assert (reply.reasoning, reply.content) == (reasoning, content)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == calls


def test_a_call_is_emitted_whole_when_it_ends_and_not_before():
    """Nothing of a call is a tool-call delta until ``</tool_call>`` shows it complete (it may be cut off)."""
    text = "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>"
    parser = StreamParser(tools=CUT_WEATHER)
    before = [parser.feed(char) for char in text[:-1]]
    assert not any(d.tool_calls or d.content for d in before)
    last = parser.feed(text[-1]).tool_calls
    assert [(f.index, f.id, f.name, f.arguments) for f in last] == [
        (0, "call_0", "get_weather", ""),
        (0, None, None, '{"city": "Paris"}'),
    ]


def test_refs_that_multiply_are_walked_in_bounded_time():
    """A request's schema is untrusted: refs shared by both branches of 40 nested anyOf (2^40 paths) end fast."""
    defs = {
        f"D{i}": {"anyOf": [{"$ref": f"#/$defs/D{i + 1}"}, {"$ref": f"#/$defs/D{i + 1}"}]} for i in range(40)
    }
    defs["D40"] = {"type": "integer", "properties": {"v": {"$ref": "#/$defs/D0"}}}
    parameters = {
        "allOf": [{"$ref": "#/$defs/D0"}],
        "properties": {"v": {"$ref": "#/$defs/D0"}},
        "$defs": defs,
    }
    reply = parse_reply(call(("v", "5"), ("w", "x")), tools=tools(parameters))
    assert reply.tool_calls[0].arguments == {"v": 5, "w": "x"}
