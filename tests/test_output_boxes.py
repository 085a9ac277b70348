"""Box-span and \\boxed{} extraction (the reward system's extractors), coordinate parsing and draw_boxes."""

from __future__ import annotations

import pytest
from PIL import Image

from glmv.output import Box, Point, draw_boxes, parse_reply
from glmv.output.boxes import (
    count_box_markers,
    extract_boxed,
    extract_latex_boxed,
    find_bare_boxes,
    has_latex_boxed,
    parse_coordinates,
)

BOXED = [
    ("REWARD §2 ground truth", "<think>…</think><answer><|begin_of_box|>42<|end_of_box|></answer>", ["42"]),
    ("stripped", "<|begin_of_box|>  x = 3 \n<|end_of_box|>", ["x = 3"]),
    ("two spans", "<|begin_of_box|>a<|end_of_box|> and <|begin_of_box|>b<|end_of_box|>", ["a", "b"]),
    (
        "REWARD §5.1: a nested pair stays inside the outermost span",
        "<|begin_of_box|>A<|begin_of_box|>B<|end_of_box|>C<|end_of_box|>",
        ["A<|begin_of_box|>B<|end_of_box|>C"],
    ),
    ("unclosed span (cut off) is not returned", "<|begin_of_box|>4", []),
    ("stray end marker ignored", "x<|end_of_box|><|begin_of_box|>y<|end_of_box|>", ["y"]),
    ("no markers", "The answer is 42.", []),
]


@pytest.mark.parametrize(("source", "text", "spans"), BOXED, ids=[c[0] for c in BOXED])
def test_extract_boxed(source, text, spans):
    assert extract_boxed(text) == spans


LATEX = [
    ("simple", r"so \boxed{42}.", ["42"]),
    ("braces inside", r"\boxed{\frac{1}{2}}", [r"\frac{1}{2}"]),
    ("REWARD §5.1 nested", r"\boxed{\boxed{x}}", [r"\boxed{x}"]),
    ("two", r"\boxed{a} or \boxed{b}", ["a", "b"]),
    ("escaped brace", r"\boxed{\{1, 2\}}", [r"\{1, 2\}"]),
    ("unbalanced", r"\boxed{a", []),
]


@pytest.mark.parametrize(("source", "text", "spans"), LATEX, ids=[c[0] for c in LATEX])
def test_extract_latex_boxed(source, text, spans):
    assert extract_latex_boxed(text) == spans


@pytest.mark.parametrize(
    ("text", "boxes", "points"),
    [
        ("[[1,2,3,4]]", [Box(1, 2, 3, 4)], []),
        ("[1 2 3 4]", [Box(1, 2, 3, 4)], []),
        ("{5, 6}", [], [Point(5, 6)]),
        ("[1,2,3]", [], []),
        ("the word", [], []),
        ("[1001, 2, 3, 4]", [], []),
        ("12, 34", [], [Point(12, 34)]),
    ],
)
def test_parse_coordinates(text, boxes, points):
    assert parse_coordinates(text) == (boxes, points)


def test_find_bare_boxes_ignores_points_and_out_of_range():
    assert find_bare_boxes("at [1,2,3,4], (5,6) and [1,2,3,4000]") == [Box(1, 2, 3, 4)]


def test_draw_boxes_marks_the_right_pixels_and_leaves_the_input_alone():
    image = Image.new("RGB", (200, 100), "black")
    reply = parse_reply(
        "<|begin_of_box|>[[100,200,500,800]]<|end_of_box|> <|begin_of_box|>[750,500]<|end_of_box|>"
    )
    drawn = draw_boxes(image, [*reply.boxes, *reply.points], labels=["dog", None])
    assert drawn is not image and drawn.mode == "RGB" and drawn.size == (200, 100)
    assert image.getpixel((20, 50)) == (0, 0, 0)
    # box edge at x = 100/1000 * 200 = 20 px, y from 20 to 80 px
    assert drawn.getpixel((20, 50)) != (0, 0, 0)
    assert drawn.getpixel((60, 50)) == (0, 0, 0)  # inside the box, untouched
    # the point at (150, 50) px is a filled circle
    assert drawn.getpixel((150, 50)) != (0, 0, 0)
    # a label is written above the box's top-left corner (y = 20 px)
    assert any(drawn.getpixel((x, y)) != (0, 0, 0) for x in range(22, 40) for y in range(8, 19))


def test_draw_boxes_converts_other_modes_and_uses_box_labels():
    image = Image.new("L", (50, 50), 0)
    drawn = draw_boxes(image, [Box(0, 0, 1000, 1000, label="all")])
    assert drawn.mode == "RGB"
    assert drawn.getpixel((0, 25)) != (0, 0, 0)


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("<|begin_of_box|>42<|end_of_box|>", (1, 1)),
        ("<|BEGIN_OF_BOX|>7<|End_Of_Box|> or <|begin_of_box|>8<|end_of_box|>", (2, 2)),
        ("<|begin_of_box|>cut off", (1, 0)),
        ("no box", (0, 0)),
    ],
)
def test_count_box_markers_ignores_case(text, counts):
    assert count_box_markers(text) == counts


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (r"so \boxed{42}", True),
        (r"\BOXED{42}", True),
        (r"\boxed 42", False),
        ("<|begin_of_box|>42<|end_of_box|>", False),
    ],
)
def test_has_latex_boxed(text, found):
    assert has_latex_boxed(text) is found
