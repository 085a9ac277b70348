"""The outer-tag helpers of glmv.output.tags on real GLM-4.1V and GLM-4.5V/4.6V replies."""

from __future__ import annotations

import pytest

from glmv.output.tags import has_tag, strip_answer_tags, strip_reasoning, think_split, unwrap_answer

SPLITS = [
    ("GLM-4.1V reply", "<think>15+27</think><answer>42</answer>", ("15+27", "<answer>42</answer>")),
    (
        "GLM-4.6V reply",
        "<think>15+27</think><|begin_of_box|>42<|end_of_box|>",
        ("15+27", "<|begin_of_box|>42<|end_of_box|>"),
    ),
    ("tags in any case", "<THINK>a</Think>b", ("a", "b")),
    ("the first close ends the reasoning", "<think>a</think>b</think>c", ("a", "b</think>c")),
    ("empty reasoning", "<think></think>x", ("", "x")),
    ("no think block", "The answer is 42.", None),
    ("text before the think block", " <think>a</think>b", None),
    ("reasoning cut off", "<think>still going", None),
]


@pytest.mark.parametrize(("source", "text", "split"), SPLITS, ids=[c[0] for c in SPLITS])
def test_think_split(source, text, split):
    assert think_split(text) == split


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        ("a <answer>b", "any", True),
        ("a </THINK> b", "any", True),
        ("a </think> b", "answer", False),
        ("a </Answer> b", "answer", True),
        ("a <answer> b", "think", False),
        ("<thinking> is not a tag", "any", False),
        ("plain text", "any", False),
    ],
)
def test_has_tag(text, kind, found):
    assert has_tag(text, kind) is found


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("<answer>42</answer>", "42"),
        ("\n <ANSWER> 42 </answer>\n", " 42 "),
        (
            "<answer>a</answer> and <answer>b</answer>",
            "a</answer> and <answer>b",
        ),  # the caller judges nesting
        ("<answer>42", None),
        ("42</answer>", None),
        ("so <answer>42</answer>", None),
    ],
)
def test_unwrap_answer(text, inner):
    assert unwrap_answer(text) == inner


def test_strip_answer_tags_keeps_what_they_wrap():
    assert strip_answer_tags("<answer>It is <|begin_of_box|>7<|end_of_box|></ANSWER>") == (
        "It is <|begin_of_box|>7<|end_of_box|>"
    )


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("<think>Not 0.0: they agree.</think> 1.0", "1.0"),
        ("hmm</think>first</think> 0.0 ", "0.0"),
        (" 1.0\n", "1.0"),
    ],
)
def test_strip_reasoning_keeps_the_verdict(reply, verdict):
    assert strip_reasoning(reply) == verdict
