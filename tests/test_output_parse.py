"""parse_reply on real GLM outputs: reasoning, content, answers, boxes, HTML, cut-offs, named after their source."""

from __future__ import annotations

import pytest

from glmv.errors import ConfigError, FamilyError
from glmv.output import Box, Point, Reply, StreamParser, parse_reply

# (source, text, options, reasoning, content, answer)
CASES = [
    (
        "FORMATS §5.1 / official reward example (GLM-4.1V)",
        "<think>\nI need to add 15 and 27.\n15 + 27 = 42\n</think>\n<answer>\n<|begin_of_box|>42<|end_of_box|>\n</answer>",
        {"family": "glm-4.1v-thinking"},
        "I need to add 15 and 27.\n15 + 27 = 42",
        "42",
        "42",
    ),
    (
        "GLM-4.1V stops on </answer>: the closing tag never arrives (FORMATS §3.3)",
        "<think>Count the apples: 3.</think><answer>There are <|begin_of_box|>3<|end_of_box|> apples.",
        {"family": "glm-4.1v-thinking"},
        "Count the apples: 3.",
        "There are 3 apples.",
        "3",
    ),
    (
        "GLM-V #195: <answer> tags left in content by vLLM",
        "<think>It is a cat.</think>\n<answer>This is a cat.</answer>",
        {},
        "It is a cat.",
        "This is a cat.",
        None,
    ),
    (
        "GLM-V #79 / #133: box markers leak into the answer (GLM-4.5V)",
        "<think>The sign says STOP.</think>The sign reads <|begin_of_box|>STOP<|end_of_box|>.",
        {"family": "glm-4.5v"},
        "The sign says STOP.",
        "The sign reads STOP.",
        "STOP",
    ),
    (
        "FORMATS §4.2: thinking off, the prompt ends with <think></think>\\n (output is just the answer)",
        "It is Paris.",
        {"family": "glm-4.5v"},
        "",
        "It is Paris.",
        None,
    ),
    (
        "FORMATS §4.4 / vLLM R1 parser: prompt pre-opened <think>, text before </think> is reasoning",
        "The user wants a summary.\n</think>\nHere is the summary.",
        {},
        "The user wants a summary.",
        "Here is the summary.",
        None,
    ),
    (
        "pre-opened <think> declared explicitly",
        "The user wants a summary.</think>Summary.",
        {"start": "reasoning", "family": "glm-4.6v"},
        "The user wants a summary.",
        "Summary.",
        None,
    ),
    (
        "sglang #37645: a skipped-thinking answer without tags stays content when no </think> comes",
        "Paris is the capital of France.",
        {},
        "",
        "Paris is the capital of France.",
        None,
    ),
    (
        "FORMATS §8.5: cut off by max_tokens inside thinking, all reasoning",
        "<think>First, look at the left side of the image. Then",
        {"family": "glm-4.6v-flash"},
        "First, look at the left side of the image. Then",
        "",
        None,
    ),
    (
        "cut off by max_tokens with a pre-opened prompt",
        "Still thinking about",
        {"start": "reasoning"},
        "Still thinking about",
        "",
        None,
    ),
    (
        "FORMATS §8.4: budget forced </think><answer> into a GLM-4.1V reply",
        "<think>Let me compute step by step and</think><answer><|begin_of_box|>7<|end_of_box|></answer>",
        {"family": "glm-4.1v-thinking"},
        "Let me compute step by step and",
        "7",
        "7",
    ),
    (
        "GLM-V #243: <think> not at the start (reasoning leaked into content before the fix)",
        "\n\n<think>reasoning here</think>\n\nanswer here",
        {"family": "glm-4.6v"},
        "reasoning here",
        "answer here",
        None,
    ),
    (
        "nested box: the outermost span is the answer (official reward extractor)",
        "<think>x</think>A<|begin_of_box|>B<|begin_of_box|>C<|end_of_box|>D<|end_of_box|>E",
        {},
        "x",
        "ABCDE",
        "BCD",
    ),
    (
        "several boxes: answer is the last closed one",
        "First <|begin_of_box|>12<|end_of_box|>, finally <|begin_of_box|>13<|end_of_box|>.",
        {"family": "glm-4.5v"},
        "",
        "First 12, finally 13.",
        "13",
    ),
    (
        "box cut off before <|end_of_box|>: text kept, no answer",
        "<think>ok</think>The answer is <|begin_of_box|>4",
        {},
        "ok",
        "The answer is 4",
        None,
    ),
    (
        "stray end-of-turn tokens decoded with skip_special_tokens=False",
        "<think>a</think>b<|user|>",
        {},
        "a",
        "b",
        None,
    ),
    (
        "media and prompt tokens an untrained model writes (taught tiny checkpoint, untaught prompt)",
        "<think>r<|image|>s</think>world<|begin_of_image|>sages<|end_of_video|>].[gMASK]<sop>",
        {"family": "glm-4.6v-flash"},
        "rs",
        "worldsages].",
        None,
    ),
    (
        "a box inside reasoning is not the answer",
        "<think>maybe <|begin_of_box|>5<|end_of_box|>?</think>It is 6.",
        {},
        "maybe <|begin_of_box|>5<|end_of_box|>?",
        "It is 6.",
        None,
    ),
]


@pytest.mark.parametrize(
    ("source", "text", "options", "reasoning", "content", "answer"), CASES, ids=[c[0] for c in CASES]
)
def test_real_outputs(source, text, options, reasoning, content, answer):
    reply = parse_reply(text, **options)
    assert (reply.reasoning, reply.content, reply.answer) == (reasoning, content, answer)
    assert reply.raw == text
    for marker in ("<think>", "</think>", "<answer>", "</answer>", "<|begin_of_box|>", "<|end_of_box|>"):
        assert marker not in reply.content


# (source, text, options, boxes, points)
GROUNDING = [
    (
        "GLM-V README grounding: [[x1,y1,x2,y2]] in box tokens (GLM-4.5V)",
        "<think>The dog is on the right.</think>The dog is at <|begin_of_box|>[[512,301,897,950]]<|end_of_box|>",
        {},
        [Box(512, 301, 897, 950)],
        [],
    ),
    (
        "several objects in one span, [] style (GLM-V #118)",
        "<|begin_of_box|>[[10,20,30,40],[50,60,70,80]]<|end_of_box|>",
        {},
        [Box(10, 20, 30, 40), Box(50, 60, 70, 80)],
        [],
    ),
    (
        "() style, float coordinates kept as written",
        "<|begin_of_box|>(100.5, 200, 300, 400.25)<|end_of_box|>",
        {},
        [Box(100.5, 200, 300, 400.25)],
        [],
    ),
    ("<> style", "<|begin_of_box|><1,2,3,4><|end_of_box|>", {}, [Box(1, 2, 3, 4)], []),
    (
        "bare numbers inside the span",
        "<|begin_of_box|>1000, 0, 999, 5<|end_of_box|>",
        {},
        [Box(1000, 0, 999, 5)],
        [],
    ),
    (
        "points: two numbers (GUI-agent click)",
        "Click <|begin_of_box|>[500,288]<|end_of_box|> then <|begin_of_box|>(12, 13)<|end_of_box|>",
        {},
        [],
        [Point(500, 288), Point(12, 13)],
    ),
    (
        "coordinates over 1000 are not thousandths (FORMATS §5.3: re-ask)",
        "<|begin_of_box|>[120, 40, 1920, 1080]<|end_of_box|>",
        {},
        [],
        [],
    ),
    (
        "skills/glmv-grounding detection JSON with labels",
        '<|begin_of_box|>[{"label": "cat", "bbox_2d": [1, 2, 300, 400]}, {"label": "eye", "point_2d": [5, 6]}]'
        "<|end_of_box|>",
        {},
        [Box(1, 2, 300, 400, label="cat")],
        [Point(5, 6, label="eye")],
    ),
    (
        "SERVING §4.4: markers missing, bare 4-tuples read when asked",
        "The car is at [120, 340, 410, 620] and the bike at (5,6,7,8).",
        {"bare_boxes": True},
        [Box(120, 340, 410, 620), Box(5, 6, 7, 8)],
        [],
    ),
    ("bare 4-tuples are not read unless asked", "The car is at [120, 340, 410, 620].", {}, [], []),
    (
        "bare scan is off when markers are present",
        "<|begin_of_box|>yes<|end_of_box|> [1,2,3,4]",
        {"bare_boxes": True},
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("source", "text", "options", "boxes", "points"), GROUNDING, ids=[c[0] for c in GROUNDING]
)
def test_grounding_outputs(source, text, options, boxes, points):
    reply = parse_reply(text, **options)
    assert reply.boxes == boxes
    assert reply.points == points


def test_box_to_pixels_uses_thousandths_of_the_original_image_and_clips():
    box = parse_reply("<|begin_of_box|>[[250,500,750,1000]]<|end_of_box|>").boxes[0]
    assert box.to_pixels(1920, 1080) == (480.0, 540.0, 1440.0, 1080.0)
    assert Box(-5, 0, 1200, 10).to_pixels(100, 100) == (0.0, 0.0, 100.0, 1.0)
    assert Point(500, 250).to_pixels(640, 480) == (320.0, 120.0)


HTML = [
    (
        "APPS §6: bare HTML page gets a ```html fence",
        "<!DOCTYPE html>\n<html>\n<body><h1>Hi</h1></body>\n</html>",
        "```html\n<!DOCTYPE html>\n<html>\n<body><h1>Hi</h1></body>\n</html>\n```",
    ),
    (
        "APPS §6: text before the first tag passes through",
        'Here is the page:\n<div class="card">\n  <p>Hello</p>\n</div>',
        'Here is the page:\n```html\n<div class="card">\n  <p>Hello</p>\n</div>\n```',
    ),
    (
        "APPS §6: content the model fenced itself is left alone",
        "```html\n<div>x</div>\n```",
        "```html\n<div>x</div>\n```",
    ),
    ("inline tag in prose is not a page", "Use <b>bold</b> for emphasis.", "Use <b>bold</b> for emphasis."),
    (
        "after reasoning",
        "<think>make a page</think>\n<html><body>x</body></html>",
        "```html\n<html><body>x</body></html>\n```",
    ),
]


@pytest.mark.parametrize(("source", "text", "content"), HTML, ids=[c[0] for c in HTML])
def test_html_answers_are_fenced(source, text, content):
    assert parse_reply(text).content == content
    unfenced = parse_reply(text, fence_html=False).content
    assert unfenced == text.split("</think>")[-1].strip()


def test_family_accepts_objects_and_names_and_rejects_unknown():
    from glmv.families import get_family

    text = "<think>a</think>b"
    assert parse_reply(text, family=get_family("glm-4.6v")) == parse_reply(text, family="GLM-4.6V")
    with pytest.raises(FamilyError):
        parse_reply(text, family="gpt-4")
    with pytest.raises(ConfigError):
        StreamParser(start="thinking")


def test_reply_is_a_plain_reply_with_raw_text():
    reply = parse_reply("")
    assert reply == Reply(raw="")
    assert reply.to_dict()["tool_calls"] == []
