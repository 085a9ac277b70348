"""render_reply, the one GLM writer: each family's layout, tool calls in both shapes, and render → parse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glmv.errors import OutputError
from glmv.families import FAMILIES
from glmv.output import ToolCall, parse_reply, render_reply, render_tool_call

WEATHER = {"name": "get_weather", "arguments": {"city": "Paris"}}


@pytest.mark.parametrize(
    ("family", "parts", "text"),
    [
        pytest.param(
            "glm-4.1v-thinking",
            {"reasoning": "Add them.", "content": "<|begin_of_box|>42<|end_of_box|>"},
            "<think>\nAdd them.\n</think>\n<answer>\n<|begin_of_box|>42<|end_of_box|>\n</answer>",
            id="glm-4.1v-writes-think-and-answer-tags-on-their-own-lines",
        ),
        pytest.param(
            "glm-4.1v-thinking",
            {"reasoning": "Still thinking."},
            "<think>\nStill thinking.\n</think>",
            id="glm-4.1v-without-content-writes-no-answer-tags",
        ),
        pytest.param(
            "glm-4.6v",
            {"reasoning": "Add them.", "content": "It is 42."},
            "<think>Add them.</think>\nIt is 42.",
            id="glm-4.6v-writes-think-then-content-on-the-next-line",
        ),
        pytest.param(
            "glm-4.5v",
            {"content": "It is 42."},
            "<think></think>\nIt is 42.",
            id="a-thinking-family-writes-an-empty-think-block-without-reasoning",
        ),
        pytest.param(
            "glm-4.6v",
            {"content": "It is 42.", "thinking": False},
            "It is 42.",
            id="thinking-off-writes-only-the-answer",
        ),
        pytest.param(
            "glm-4.1v-base",
            {"content": "A red square."},
            "A red square.",
            id="a-base-model-writes-no-think-block",
        ),
        pytest.param(
            "glm-4.6v",
            {"reasoning": "Need the tool.", "tool_calls": [WEATHER]},
            "<think>Need the tool.</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
            "<arg_value>Paris</arg_value>\n</tool_call>",
            id="a-tool-call-follows-the-reasoning-in-the-glm45-shape",
        ),
        pytest.param(
            "glm-4.6v-flash",
            {
                "content": "Two calls.",
                "tool_calls": [WEATHER, ToolCall("call_9", "get_time", {})],
                "thinking": False,
            },
            "Two calls.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
            "</tool_call>\n<tool_call>get_time\n</tool_call>",
            id="content-then-every-call-each-on-a-new-line",
        ),
    ],
)
def test_each_family_writes_its_own_layout(family, parts, text):
    assert render_reply(family=family, **parts) == text


@pytest.mark.parametrize(
    ("call", "shape", "text"),
    [
        pytest.param(
            {"name": "f", "arguments": {"n": 3, "ok": True, "tags": ["a", "ü"], "none": None}},
            "glm45",
            "<tool_call>f\n<arg_key>n</arg_key>\n<arg_value>3</arg_value>\n<arg_key>ok</arg_key>\n"
            '<arg_value>true</arg_value>\n<arg_key>tags</arg_key>\n<arg_value>["a", "ü"]</arg_value>\n'
            "<arg_key>none</arg_key>\n<arg_value>null</arg_value>\n</tool_call>",
            id="non-string-values-are-json-without-ascii-escapes",
        ),
        pytest.param(
            {"name": "f", "arguments": {"code": '  x = "1"\n'}},
            "glm45",
            '<tool_call>f\n<arg_key>code</arg_key>\n<arg_value>  x = "1"\n</arg_value>\n</tool_call>',
            id="string-values-are-raw-whitespace-and-quotes-included",
        ),
        pytest.param(
            {"name": "f", "arguments": '{"n": 3, "s": "7"}'},
            "glm45",
            "<tool_call>f\n<arg_key>n</arg_key>\n<arg_value>3</arg_value>\n<arg_key>s</arg_key>\n"
            "<arg_value>7</arg_value>\n</tool_call>",
            id="arguments-given-as-a-json-string",
        ),
        pytest.param(
            {"type": "function", "function": {"name": "f", "arguments": '{"s": "x"}'}},
            "glm47",
            "<tool_call>f<arg_key>s</arg_key><arg_value>x</arg_value></tool_call>",
            id="an-openai-call-in-the-glm47-shape",
        ),
        pytest.param(
            ToolCall("call_0", "ping"),
            "glm47",
            "<tool_call>ping</tool_call>",
            id="a-zero-argument-glm47-call",
        ),
    ],
)
def test_tool_calls_in_both_shapes(call, shape, text):
    assert render_tool_call(call, shape) == text


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param({"name": "f", "arguments": "{not json"}, "not JSON", id="arguments-that-are-not-json"),
        pytest.param({"name": "f", "arguments": "[1, 2]"}, "JSON object", id="arguments-that-are-a-list"),
        pytest.param({"arguments": {}}, "name", id="a-call-without-a-name"),
        pytest.param("get_weather", "ToolCall", id="a-bare-string"),
    ],
)
def test_malformed_tool_calls_are_refused_with_the_reason(call, message):
    with pytest.raises(OutputError, match=message):
        render_reply(tool_calls=[call], family="glm-4.6v")


def test_an_unknown_shape_is_refused():
    with pytest.raises(OutputError, match="glm45 or glm47"):
        render_tool_call(WEATHER, "glm99")


# -- render → parse gives back what went in ---------------------------------------------------------------------

# Text the parser gives back as it is: no tag-like `<`, no backticks (HTML / code fences), stripped.
_PLAIN = st.text(alphabet=st.sampled_from("abcxyz XYZ019 .,;:!?()[]{}'\"+-=*/\\\n\t你好"), max_size=30).map(
    str.strip
)
_BOX = _PLAIN.map(lambda inner: f"<|begin_of_box|>{inner}<|end_of_box|>")
_CONTENT = st.lists(st.one_of(_PLAIN, _BOX), max_size=3).map(lambda parts: " ".join(parts).strip())
_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-:]{0,15}", fullmatch=True)
_KEY = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ ]{0,10}[A-Za-z0-9_]|[A-Za-z_]", fullmatch=True)
# String values are raw text: anything but the closing tag, whitespace included.
_STRING = st.text(max_size=20).filter(lambda value: "</arg_value>" not in value)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _PLAIN,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_PLAIN, inner, max_size=3),
    max_leaves=6,
)
_ARGUMENTS = st.dictionaries(_KEY, st.one_of(_STRING, _JSON), max_size=4)
_CALLS = st.lists(st.fixed_dictionaries({"name": _NAME, "arguments": _ARGUMENTS}), max_size=3)


def _tools(calls: list[dict]) -> list[dict]:
    """Declared tools for ``calls``: string arguments typed ``string`` (kept raw), the others left to the parser."""
    properties: dict[str, dict] = {}
    for call in calls:
        schema = properties.setdefault(call["name"], {})
        for key, value in call["arguments"].items():
            if isinstance(value, str):
                schema[key] = {"type": "string"}
    return [
        {
            "type": "function",
            "function": {"name": name, "parameters": {"type": "object", "properties": props}},
        }
        for name, props in properties.items()
    ]


def _consistent(calls: list[dict]) -> bool:
    """A key is a string in every call of a tool or in none (one schema serves all calls of a name)."""
    kinds: dict[tuple[str, str], bool] = {}
    for call in calls:
        for key, value in call["arguments"].items():
            if kinds.setdefault((call["name"], key), isinstance(value, str)) != isinstance(value, str):
                return False
    return True


@pytest.mark.parametrize("family", sorted(FAMILIES))
@settings(max_examples=60, deadline=None)
@given(reasoning=_PLAIN, content=_CONTENT, calls=_CALLS.filter(_consistent))
def test_parse_gives_back_what_render_wrote(family, reasoning, content, calls):
    text = render_reply(reasoning=reasoning, content=content, tool_calls=calls, family=family)
    reply = parse_reply(text, family=family, tools=_tools(calls), keep_box_markers=True)
    assert (reply.reasoning, reply.content) == (reasoning, content)
    assert [(call.name, call.arguments) for call in reply.tool_calls] == [
        (call["name"], call["arguments"]) for call in calls
    ]


@settings(max_examples=120, deadline=None)
@given(calls=_CALLS.filter(_consistent))
def test_glm47_calls_parse_back(calls):
    text = "".join(render_tool_call(call, "glm47") for call in calls)
    reply = parse_reply(text, family="glm-4.6v", tools=_tools(calls))
    assert [(call.name, call.arguments) for call in reply.tool_calls] == [
        (call["name"], call["arguments"]) for call in calls
    ]
