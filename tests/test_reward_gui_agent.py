"""GUI-agent rewards (AndroidWorld, OSWorld, WebVoyager): extraction from GLM replies and the REWARD.md §8 formulas.

Cases are GLM-format agent replies (GLM-4.1V with ``<answer>`` tags, GLM-4.5V without) and the examples of the
official glmv_reward tests (``tests/cogagent/test_*_verifier.py``); expected values are worked out by hand from
the formulas.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glmv.reward.gui_agent import (
    android_world_extract,
    android_world_judge,
    box_iou,
    click_similarity,
    has_excessive_repetition,
    lcs_ratio,
    osworld_extract,
    osworld_judge,
    text_similarity,
    webvoyager_extract,
    webvoyager_judge,
)

BEGIN, END = "<|begin_of_box|>", "<|end_of_box|>"


def mobile_41v(action: str) -> str:
    """A GLM-4.1V mobile reply: reasoning, then Memory / Reason / Action inside <answer>."""
    return (
        "<think>The PictureThis app asks me to choose the related organ. The photo shows a flower, so the "
        "'flower' option is the right one.</think><answer>Memory: None\n"
        "Reason: The image shows a flower, so I select 'flower' to help the app identify the plant.\n"
        f"Action: {BEGIN}{action}{END}</answer>"
    )


def mobile_45v(action: str) -> str:
    """A GLM-4.5V mobile reply: no <answer> tags."""
    return (
        "<think>I need to type the title into the note's title field.</think>\n"
        "Memory: The note is titled after the budget app.\n"
        "Reason: The title field is focused and empty.\n"
        f"Action: {BEGIN}{action}{END}"
    )


def pc_41v(action: str) -> str:
    """A GLM-4.1V desktop reply: explanation with the boxed call, then Memory, inside <answer>."""
    return (
        "<think>The dialog asks for confirmation; the OK button is at the bottom right.</think><answer>"
        f"I will confirm the dialog. {BEGIN}{action}{END}\nMemory:\n[]</answer>"
    )


def pc_45v(action: str) -> str:
    """A GLM-4.5V desktop reply (no <answer> tags)."""
    return (
        "<think>The file manager is open; next I act on the selected item.</think>\n"
        f'Acting on the selected item. {BEGIN}{action}{END}\nMemory:\n[{{"file": "report.odt"}}]'
    )


def web_41v(action: str) -> str:
    """A GLM-4.1V web reply: Thought / Action / Memory_Updated inside <answer>."""
    return (
        "<think>The search results are listed; the first recipe matches the task.</think><answer>"
        "Thought: The first result is the vegetarian lasagna recipe I need.\n"
        f"Action: {BEGIN}{action}{END}\nMemory_Updated: {{}}</answer>"
    )


def web_45v(action: str) -> str:
    """A GLM-4.5V web reply (no <answer> tags)."""
    return (
        "<think>I can read the answer off the page now.</think>\n"
        f"Thought: The page shows what I need.\nAction: {BEGIN}{action}{END}\nMemory_Updated: {{}}"
    )


# --- building blocks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([503, 580, 718, 702], [503, 580, 718, 702], 1.0),
        ([503, 580, 718, 702], [203, 580, 418, 702], 0.0),  # disjoint
        ([503, 580, 718, 702], [503, 480, 718, 602], 215 * 22 / (2 * 215 * 122 - 215 * 22)),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([550, 580, 550, 702], [503, 580, 718, 702], 0.0),  # zero width
        ([5, 5, 5, 5], [5, 5, 5, 5], 0.0),  # zero-area union
    ],
)
def test_box_iou(a, b, expected):
    assert box_iou(a, b) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        ((500, 500), 1.0),  # d = 0
        ((506, 508), 0.9),  # d = 10
        ((512, 516), 0.8),  # d = 20: last point of the tolerance band
        ((500, 521), 0.58),  # d = 21: the documented jump 0.8 → 0.6
        ((521, 528), 0.3),  # d = 35
        ((530, 540), 0.0),  # d = 50
        ((900, 900), 0.0),
    ],
)
def test_click_similarity_by_distance(pred, expected):
    assert click_similarity(pred, (500, 500)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Personal Finance Tracker", "Personal Finance Tracker", 1.0),
        ("Personal Finance", "Personal Finance Tracker", 16 / 24),
        ("bcd", "abcd", 0.75),
        ("", "", 1.0),
        ("", "abc", 0.0),
        ("xyz", "abc", 0.0),
    ],
)
def test_lcs_ratio(a, b, expected):
    assert lcs_ratio(a, b) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "repetitive"),
    [
        ("aaaaaaaaaaaa", True),  # one character is 100 %
        ("abababababab", True),  # one bigram covers 100 %
        ("abcabcabcabcx", True),  # "abc" covers 12/13
        ("aaaaaaa", False),  # shorter than 10 characters: never
        ("hello world!", False),
        ("the quick brown fox", False),
    ],
)
def test_has_excessive_repetition(text, repetitive):
    assert has_excessive_repetition(text) is repetitive


def _reference_repetition(text: str, threshold: float = 0.7) -> bool:
    """REWARD.md §8.3 written out plainly: every character and every 2/3/4-gram counted, no shortcuts."""
    if len(text) < 10:
        return False
    if max(text.count(char) for char in set(text)) / len(text) > threshold:
        return True
    for size in (2, 3, 4):
        grams = [text[i : i + size] for i in range(len(text) - size + 1)]
        if grams and max(grams.count(gram) for gram in set(grams)) * size / len(text) > threshold:
            return True
    return False


# few distinct characters and repeated chunks, so texts near the 70 % line are common
_REPETITIVE_TEXT = st.one_of(
    st.text(alphabet="ab c", max_size=40),
    st.lists(st.sampled_from(["ab", "abc", "abcd", "aaaa", "a", "b", " ", "xy z"]), max_size=20).map("".join),
    st.text(max_size=30),
)


@given(_REPETITIVE_TEXT)
def test_has_excessive_repetition_matches_the_plain_definition(text):
    assert has_excessive_repetition(text) is _reference_repetition(text)


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        ("Hello World!", "Hello World!", 1.0),
        ("hello world!", "  HELLO WORLD!  ", 1.0),  # stripped and lower-cased
        # lev 1 of 12 → edit 11/12; bigrams 9 shared of 12 → Jaccard 0.75
        ("HeLloworld!", "Hello World!", 0.6 * 11 / 12 + 0.4 * 0.75),
        # length ratio 2/11 < 0.3 is a penalty; lev 10 of 11; no shared bigram
        ("hi", "hello world", 0.6 * (1 / 11) * (2 / 11)),
        # identical but repetitive: the 0.3 repetition penalty still applies
        ("aaaaaaaaaaaa", "aaaaaaaaaaaa", 0.3),
        ("x", "x", 1.0),  # no bigrams on either side → Jaccard 1
        ("", "abc", 0.0),
        ("   ", "abc", 0.0),
    ],
)
def test_text_similarity(pred, gt, expected):
    assert text_similarity(pred, gt) == pytest.approx(expected)


# --- AndroidWorld -------------------------------------------------------------------------------------------

CLICK_GT = mobile_41v('{"action_type": "click", "box_2d": [[503,580,718,702]]}')
SHIFTED_IOU = 215 * 22 / (2 * 215 * 122 - 215 * 22)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ('{"box_2d": [[503,580,718,702]], "action_type": "click"}', 1.0),  # key order does not matter
        ('{"action_type": "click", "box_2d": [[0503, 0580, 0718, 0702]]}', 1.0),  # leading zeros
        ("{'action_type': 'click', 'box_2d': [[503, 580, 718, 702]]}", 1.0),  # Python literal
        (
            '{"action_type": "click", "box_2d": [[503,580,718,702]], "element_type": "button"}',
            0.0,
        ),  # extra key
        ('{"action_type": "click"}', 0.0),  # missing key
        ('{"action_type": "long_press", "box_2d": [[503,580,718,702]]}', 0.0),  # other action
        ('{"action_type": "wait", "box_2d": [[503,580,718,702]]}', 0.0),
        ('{"box_2d": [[550,580,550,702]], "action_type": "click"}', 0.0),  # degenerate zero-width box
        ('{"box_2d": [[203,580,418,702]], "action_type": "click"}', 0.0),  # disjoint box
        ('{"box_2d": [[503,480,718,602]], "action_type": "click"}', SHIFTED_IOU),  # shifted: continuous IoU
        ('{"action_type": "click", "box_2d": [[503,580,718,1000]]}', 0.0),  # out of 0-999
        ('{"action_type": "click", "box_2d": [[-1,580,718,702]]}', 0.0),
        ('{"action_type": "click", "box_2d": [[718,580,503,702]]}', 0.0),  # x1 > x2
        ('{"action_type": "click", "box_2d": [[503,580,718]]}', 0.0),  # three numbers
        ('{"action_type": "click", "box_2d": [[503,580,718,702],[0,0,10,10]]}', 0.0),  # two boxes
        ('{"action_type": "click", "box_2d": "[[503,580,718,702]]"}', 0.0),  # a string, not a box
        ('{{"box_2d": [[503,480,718,602]], "action_type": "click"}}', 0.0),  # doubled braces: no dict
    ],
)
def test_android_world_click(action, expected):
    gt = android_world_extract(CLICK_GT)
    pred = android_world_extract(mobile_41v(action))
    assert android_world_judge(pred, gt) == pytest.approx(expected)


TYPE_GT = "{'action_type': 'input_text', 'text': 'Personal Finance Tracker', 'override': True, 'box_2d': [[38, 115, 961, 140]]}"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (TYPE_GT, 1.0),
        (TYPE_GT.replace("True", "true"), 1.0),  # JSON spelling inside a Python literal
        (
            '{"action_type": "input_text", "text": "Personal Finance Tracker", "override": true, '
            '"box_2d": [[38, 115, 961, 140]]}',
            1.0,
        ),
        (TYPE_GT.replace("True", "False"), 0.0),  # enumerated value differs
        (TYPE_GT.replace(", 'override': True", ""), 0.0),  # missing override
        (TYPE_GT.replace("Personal Finance Tracker", "Personal Finance"), 16 / 24),  # text LCS
        (TYPE_GT.replace("[[38, 115, 961, 140]]", "[[38, 115, 961, 127]]"), 12 / 25),  # box IoU
        (
            TYPE_GT.replace("Personal Finance Tracker", "Personal Finance").replace("140]]", "127]]"),
            16 / 24 * 12 / 25,  # product of the per-key scores
        ),
        (TYPE_GT.replace("'Personal Finance Tracker'", "42"), 0.0),  # text is not a string
    ],
)
def test_android_world_input_text(action, expected):
    gt = android_world_extract(mobile_45v(TYPE_GT))
    pred = android_world_extract(mobile_45v(action))
    assert android_world_judge(pred, gt) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("action", "gt_action", "expected"),
    [
        (
            '{"action_type": "status", "goal_status": "complete"}',
            '{"action_type": "status", "goal_status": "complete"}',
            1.0,
        ),
        (
            '{"action_type": "status", "goal_status": "infeasible"}',
            '{"action_type": "status", "goal_status": "complete"}',
            0.0,
        ),
        ('{"action_type": "swipe", "direction": "up"}', '{"action_type": "swipe", "direction": "down"}', 0.0),
        (
            '{"action_type": "open_app", "app_name": "Markor"}',
            '{"action_type": "open_app", "app_name": "Markor"}',
            1.0,
        ),
        (
            '{"action_type": "answer", "text": "3 sub-pages"}',
            '{"action_type": "answer", "text": "3"}',
            1 / 11,
        ),
        ('{"action_type": "navigate_back"}', '{"action_type": "navigate_back"}', 1.0),
        ('{"action_type": "navigate_home"}', '{"action_type": "navigate_back"}', 0.0),
    ],
)
def test_android_world_other_actions(action, gt_action, expected):
    assert android_world_judge(
        android_world_extract(mobile_41v(action)), android_world_extract(mobile_41v(gt_action))
    ) == pytest.approx(expected)


@pytest.mark.parametrize(
    "response",
    [
        '<think>tap it</think><answer>Action: {"action_type": "wait"}</answer>',  # no box
        mobile_41v('{"action_type": "wait"}') + f'{BEGIN}{{"action_type": "wait"}}{END}',  # two boxes
        mobile_41v('{"action_type": "click", "box_2d": [[1,2,3,4]]'),  # cut-off JSON
        mobile_41v('["click", [[1,2,3,4]]]'),  # not a dict
        mobile_41v("__import__('os').system('echo pwned')"),  # never evaluated
        mobile_41v("{'action_type': print('x')}"),
        f'<think>cut off</think><answer>Action: {BEGIN}{{"action_type": "wait"}}',  # unclosed box
        None,
        42,
    ],
)
def test_android_world_extract_rejects(response):
    assert android_world_extract(response) is None


def test_android_world_unusable_prediction_scores_zero():
    gt = android_world_extract(CLICK_GT)
    for pred in (None, "click", ["click"], {}, 1.5):
        assert android_world_judge(pred, gt) == 0.0


@pytest.mark.parametrize(
    "gt",
    [
        None,
        "<|begin_of_box|>{}<|end_of_box|>",  # an unextracted string
        {"box_2d": [[503, 580, 718, 702]]},  # no action_type
        {"action_type": "click", "box_2d": [[503, 580, 718, 1000]]},
        {"action_type": "click", "box_2d": [503, 580, 718, 702]},  # flat, not [[...]]
        {"action_type": "input_text", "text": 42, "override": True},
    ],
)
def test_android_world_malformed_ground_truth_raises(gt):
    with pytest.raises(ValueError, match="AndroidWorld ground truth"):
        android_world_judge({"action_type": "click", "box_2d": [[503, 580, 718, 702]]}, gt)


# --- OSWorld ------------------------------------------------------------------------------------------------


def test_osworld_extract_shapes():
    assert osworld_extract(pc_41v("left_click(start_box='[512,300]', element_info='OK button')")) == {
        "action_type": "left_click",
        "coordinates": [512, 300],
        "element_info": "OK button",
    }
    assert osworld_extract(pc_45v("left_drag(start_box='[100, 100]', end_box='[300, 300]')")) == {
        "action_type": "left_drag",
        "start_coordinates": [100, 100],
        "end_coordinates": [300, 300],
    }
    assert osworld_extract(pc_45v("scroll(start_box='[500,500]', direction='down', step=5)")) == {
        "action_type": "scroll",
        "coordinates": [500, 500],
        "direction": "down",
        "step": 5,
    }
    assert osworld_extract(pc_41v("type(content='It\\'s done')")) == {
        "action_type": "type",
        "content": "It's done",
    }
    assert osworld_extract(pc_41v("key(keys='ctrl+c')")) == {"action_type": "key", "keys": "ctrl+c"}
    assert osworld_extract(pc_41v("hotkey(keys='ctrl+shift+t')")) == {
        "action_type": "hotkey",
        "keys": "ctrl+shift+t",
    }
    assert osworld_extract(pc_45v("WAIT()")) == {"action_type": "WAIT"}
    assert osworld_extract(pc_45v("left_click()")) == {"action_type": "left_click"}


@pytest.mark.parametrize(
    "action",
    [
        "type(content='unbalanced)",  # odd number of quotes
        "left_click(start_box='[512,300')",  # unbalanced bracket
        "left_click(start_box='512,300]')",
        "left_click(start_box=']512,300[')",  # one pair of each, closed before it opens
        "DONE",  # no call
        "type(content='line one\nline two')",  # the action must be one line
        "",
    ],
)
def test_osworld_extract_rejects(action):
    assert osworld_extract(pc_41v(action)) is None


CLICK_FAMILY = ["left_click", "right_click", "middle_click", "hover", "left_double_click"]


@pytest.mark.parametrize("action", CLICK_FAMILY)
@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("[500, 500]", 1.0),
        ("[506, 508]", 0.9),
        ("[512, 516]", 0.8),
        ("[500, 521]", 0.58),
        ("[521, 528]", 0.3),
        ("[530, 540]", 0.0),
    ],
)
def test_osworld_click_distance(action, point, expected):
    gt = osworld_extract(pc_41v(f"{action}(start_box='[500, 500]', element_info='Save button')"))
    pred = osworld_extract(pc_45v(f"{action}(start_box='{point}')"))  # element_info is ignored
    assert osworld_judge(pred, gt) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        ("left_click(start_box='[500, 500]')", "right_click(start_box='[500, 500]')", 0.0),  # type mismatch
        ("left_click(start_box='[500, 500]')", "left_double_click(start_box='[500, 500]')", 0.0),
        ("left_click()", "left_click(start_box='[500, 500]')", 0.0),  # coordinates did not parse
        ("left_click(start_box='[500, 500]')", "type(content='500')", 0.0),
        # drag: geometric mean of start (d = 10 → 0.9) and end (d = 35 → 0.3)
        (
            "left_drag(start_box='[106,108]', end_box='[321,328]')",
            "left_drag(start_box='[100,100]', end_box='[300,300]')",
            0.27**0.5,
        ),
        # official case: both ends off by (5, 5) → d = √50
        (
            "left_drag(start_box='[105, 95]', end_box='[295, 305]')",
            "left_drag(start_box='[100, 100]', end_box='[300, 300]')",
            1 - 50**0.5 / 100,
        ),
        ("left_drag(start_box='[100,100]')", "left_drag(start_box='[100,100]', end_box='[300,300]')", 0.0),
        # scroll: coord × direction × step term
        (
            "scroll(start_box='[200,200]', direction='down', step=3)",
            "scroll(start_box='[200,200]', direction='down', step=3)",
            1.0,
        ),
        (
            "scroll(start_box='[200,200]', direction='down', step=4)",
            "scroll(start_box='[200,200]', direction='down', step=3)",
            1 - 1 / 6,
        ),
        (
            "scroll(start_box='[200,200]', direction='down', step=10)",
            "scroll(start_box='[200,200]', direction='down', step=3)",
            0.0,
        ),
        # no predicted step: counts as 5
        (
            "scroll(start_box='[200,200]', direction='down')",
            "scroll(start_box='[200,200]', direction='down', step=3)",
            1 - 2 / 6,
        ),
        # no ground-truth step: the step does not matter
        (
            "scroll(start_box='[200,200]', direction='down', step=9)",
            "scroll(start_box='[200,200]', direction='down')",
            1.0,
        ),
        (
            "scroll(start_box='[206,208]', direction='down', step=3)",
            "scroll(start_box='[200,200]', direction='down', step=3)",
            0.9,
        ),
        (
            "scroll(start_box='[198,202]', direction='up', step=3)",
            "scroll(start_box='[200,200]', direction='down', step=3)",
            0.0,
        ),
        # type: text similarity
        ("type(content='Hello World!')", "type(content='Hello World!')", 1.0),
        ("type(content='HeLloworld!')", "type(content='Hello World!')", 0.6 * 11 / 12 + 0.4 * 0.75),
        ("type(content='hi')", "type(content='hello world')", 0.6 * (1 / 11) * (2 / 11)),
        ("type(content='aaaaaaaaaaaa')", "type(content='aaaaaaaaaaaa')", 0.3),
        ("type()", "type(content='hello')", 0.0),
        # key: case-insensitive exact
        ("key(keys='Ctrl+C')", "key(keys='ctrl+c')", 1.0),
        ("key(keys='ctrl+v')", "key(keys='ctrl+c')", 0.0),
        ("hotkey(keys='CTRL+SHIFT+T')", "hotkey(keys='ctrl+shift+t')", 1.0),
        ("key(keys='ctrl+c')", "hotkey(keys='ctrl+c')", 0.0),
        # no-argument actions: the type must match exactly (case-sensitive)
        ("WAIT()", "WAIT()", 1.0),
        ("DONE()", "DONE()", 1.0),
        ("FAIL()", "FAIL()", 1.0),
        ("finished()", "finished()", 1.0),
        ("wait()", "WAIT()", 0.0),
        ("done()", "DONE()", 0.0),
        ("DONE()", "FAIL()", 0.0),
    ],
)
def test_osworld_judge(pred, gt, expected):
    assert osworld_judge(osworld_extract(pc_45v(pred)), osworld_extract(pc_41v(gt))) == pytest.approx(
        expected
    )


def test_osworld_escaped_quote_is_part_of_the_text():
    # the official regex stopped at \' so these two texts both read "It\" and scored 1.0
    pred = osworld_extract(pc_41v("type(content='It\\'s fine')"))
    gt = osworld_extract(pc_41v("type(content='It\\'s broken beyond repair')"))
    assert pred["content"] == "It's fine"
    assert osworld_judge(pred, gt) < 0.5


def test_osworld_unusable_prediction_scores_zero():
    gt = osworld_extract(pc_41v("left_click(start_box='[500, 500]')"))
    for pred in (
        None,
        "left_click",
        {},
        {"action_type": "left_click", "coordinates": "500,500"},
        {"action_type": "left_click", "coordinates": [500]},
        {"action_type": "left_click", "coordinates": [True, 1]},
    ):
        assert osworld_judge(pred, gt) == 0.0
    scroll_gt = osworld_extract(pc_41v("scroll(start_box='[1,1]', direction='up', step=2)"))
    assert (
        osworld_judge(
            {"action_type": "scroll", "coordinates": [1, 1], "direction": "up", "step": "2"}, scroll_gt
        )
        == 0.0
    )


@pytest.mark.parametrize(
    "gt",
    [
        None,
        "left_click(start_box='[500, 500]')",
        {"action_type": "left_click"},  # its coordinates did not parse
        {"action_type": "open_app", "app_name": "Files"},  # not an OSWorld action
        {"action_type": "scroll", "coordinates": [1, 1], "direction": "up", "step": 0},
        {"action_type": "type", "content": 42},
    ],
)
def test_osworld_malformed_ground_truth_raises(gt):
    with pytest.raises(ValueError, match="OSWorld ground truth"):
        osworld_judge({"action_type": "left_click", "coordinates": [500, 500]}, gt)


# --- WebVoyager ---------------------------------------------------------------------------------------------

# (prediction, ground truth, expected) in the "new" point grammar, mostly the official test examples
NEW_GRAMMAR = [
    # click: same point → 1; same element_info elsewhere → 0.05; else 0
    (
        "CLICK(point=(214, 100), element_info='Dinners')",
        "CLICK(point=(230, 100), element_info='Dinners')",
        0.05,
    ),
    (
        "CLICK(point=(214, 100), box=[[198,92,229,107]], element_info='Dinners')",
        "CLICK(point=(230, 100), box=[[198,92,229,107]], element_info='Dinners')",
        0.05,
    ),
    (
        "CLICK(point=(214, 100), box=[[198,92,229,107]], element_info='Dinners')",
        "CLICK(point=(214, 100), box=[[198,92,229,100]], element_info='Dinners')",
        1.0,
    ),
    ("CLICK(point=(214, 100), element_info='Lunch')", "CLICK(point=(230, 100), element_info='Dinners')", 0.0),
    ("CLICK(point=(214, 100))", "CLICK(point=(230, 100))", 0.0),  # no element_info on either side
    (
        "TYPE(point=(214, 100), box=[[198,92,229,107]], element_info='Dinners')",
        "CLICK(point=(200, 100), box=[[198,92,229,100]], element_info='Dinners')",
        0.0,
    ),  # kinds differ
    # type: text LCS; a different point costs 5 %, with a 0.05 floor
    (
        "TYPE(point=(214, 100), text='bcd', box=[[198,92,229,107]], element_info='Dinners')",
        "TYPE(point=(200, 100), text='abcd', box=[[198,92,229,107]], element_info='Dinners')",
        0.75 * 0.95,
    ),
    (
        "TYPE(point=(214, 100), text='bcd', box=[[0,0,1,1]], element_info='Dinners')",
        "TYPE(point=(200, 100), text='abcd', box=[[198,92,229,107]], element_info='Dinners')",
        0.75 * 0.95,
    ),
    ("TYPE(point=(200, 100), text='bcd')", "TYPE(point=(200, 100), text='abcd')", 0.75),
    ("TYPE(point=(200, 100), text='abcd')", "TYPE(point=(200, 100), text='abcd')", 1.0),
    ("TYPE(point=(214, 100), text='xyz')", "TYPE(point=(200, 100), text='abcd')", 0.05),
    ("TYPE(point=(214, 100), text='a')", "TYPE(point=(200, 100), text='abcdefghijklmnopqrstu')", 0.05),
    ("TYPE(point=(200, 100), text='xyz')", "TYPE(point=(200, 100), text='abcd')", 0.0),
    # key: lower-cased equality; Return ↔ Enter is 0.05
    ("KEY_PRESS(key='Return')", "KEY_PRESS(key='Enter')", 0.05),
    ("KEY_PRESS(key='Enter')", "KEY_PRESS(key='Enter')", 1.0),
    ("KEY_PRESS(key='enter')", "KEY_PRESS(key='Enter')", 1.0),
    ("KEY_PRESS(key='Tab')", "KEY_PRESS(key='Enter')", 0.0),
    # scroll: same point and direction, then the distance term
    (
        "SCROLL_DOWN(point=(214, 100), distance=50, element_info='Dinners')",
        "SCROLL_DOWN(point=(214, 100), distance=0, element_info='Dinners')",
        0.0,
    ),
    (
        "SCROLL_DOWN(point=(214, 100), box=[[198,92,229,107]], distance=0.5, element_info='Dinners')",
        "SCROLL_DOWN(point=(214, 100), box=[[198,92,229,107]], distance=0.75, element_info='Dinners')",
        1 - 0.25 / 0.75,
    ),
    (
        "SCROLL_DOWN(point=(214, 100), box=[[198,92,229,107]], distance=0.75, element_info='Dinners')",
        "SCROLL_DOWN(point=(214, 100), box=[[198,92,229,107]], distance=0.5, element_info='Dinners')",
        1 - 0.25 / 0.75,
    ),
    ("SCROLL_DOWN(point=(214, 100), distance=300)", "SCROLL_DOWN(point=(214, 100), distance=300)", 1.0),
    ("SCROLL_DOWN(point=(214, 100))", "SCROLL_DOWN(point=(214, 100))", 1.0),
    ("SCROLL_DOWN(point=(214, 100))", "SCROLL_DOWN(point=(214, 100), distance=300)", 0.0),
    ("SCROLL_DOWN(point=(214, 100), distance=fast)", "SCROLL_DOWN(point=(214, 100), distance=300)", 0.0),
    ("SCROLL_UP(point=(214, 100), distance=300)", "SCROLL_DOWN(point=(214, 100), distance=300)", 0.0),
    ("SCROLL_DOWN(point=(215, 100), distance=300)", "SCROLL_DOWN(point=(214, 100), distance=300)", 0.0),
    # answer: equal → 1, else LCS ratio
    ("ANSWER(content='Dinners')", "ANSWER(content='Dinners')", 1.0),
    ("ANSWER(content='Dinner')", "ANSWER(content='Dinners')", 6 / 7),
    ("ANSWER(content='')", "ANSWER(content='Dinners')", 0.0),
]

# (prediction, ground truth, expected) in the set-of-marks grammar of the GLM web prompts
SOM_GRAMMAR = [
    ("Click [5]", "Click [5]", 1.0),
    ("Click 5", "Click [5]", 1.0),
    ("Click [6]", "Click [5]", 0.0),
    ("Type [3]; [vegetarian lasagna]", "Type [3]; [vegetarian lasagna]", 1.0),
    ("Type [3]; [laptop]", "Type [3]; [laptops]", 6 / 7),
    ("Type [4]; [laptops]", "Type [3]; [laptops]", 0.0),
    ("Key; [Return]", "Key; [return]", 1.0),
    ("Key; [Enter]", "Key; [Return]", 0.0),
    ("Scroll [WINDOW]; [down]", "Scroll [WINDOW]; [down]", 1.0),
    ("Scroll [WINDOW]; [up]", "Scroll [WINDOW]; [down]", 0.0),
    ("Scroll [12]; [down]", "Scroll [WINDOW]; [down]", 0.0),
    ("Scroll [12]; [down]", "Scroll [12]; [down]", 1.0),
    ("Wait", "Wait", 1.0),
    ("GoBack", "GoBack", 1.0),
    ("Google", "Google", 1.0),
    ("Bing", "Bing", 1.0),
    ("Wait", "GoBack", 0.0),
    ("Click [5]", "Type [5]; [hello]", 0.0),
    ("ANSWER; <content>42</content>", "ANSWER; <content>42</content>", 1.0),
    ("ANSWER; <content>42 dollars</content>", "ANSWER; <content>42</content>", 0.2),
    ("ANSWER; <content>It takes\n2 hours</content>", "ANSWER; <content>It takes\n2 hours</content>", 1.0),
    # the two grammars never compare with each other
    ("CLICK(point=(214, 100), element_info='Dinners')", "Click [5]", 0.0),
    ("Click [5]", "CLICK(point=(214, 100), element_info='Dinners')", 0.0),
]


@pytest.mark.parametrize(("pred", "gt", "expected"), NEW_GRAMMAR + SOM_GRAMMAR)
def test_webvoyager_judge(pred, gt, expected):
    extracted, gt_extracted = webvoyager_extract(web_45v(pred)), webvoyager_extract(web_41v(gt))
    assert (extracted, gt_extracted) == (pred, gt)
    assert webvoyager_judge(extracted, gt_extracted) == pytest.approx(expected)


@pytest.mark.parametrize(
    "response",
    [
        "<think>x</think><answer>Thought: done\nAction: Click [5]</answer>",  # no box
        web_41v("Click [5]") + f"{BEGIN}Click [6]{END}",  # two boxes
        None,
    ],
)
def test_webvoyager_extract_rejects(response):
    assert webvoyager_extract(response) is None


def test_webvoyager_unusable_prediction_scores_zero():
    for pred in (None, 5, "", "I would click the first result", "CLICK(point=(1,2)"):
        assert webvoyager_judge(pred, "Click [5]") == 0.0


@pytest.mark.parametrize(
    "gt",
    [
        None,
        "",
        "Press the search button",
        "SCROLL_DOWN(point=(214, 100), distance=fast)",
        "SCROLL_DOWN(point=(214, 100), distance=nan)",
        {"action": "click"},
    ],
)
def test_webvoyager_malformed_ground_truth_raises(gt):
    with pytest.raises(ValueError, match="WebVoyager ground truth"):
        webvoyager_judge("Click [5]", gt)


# --- contract: extraction never raises ----------------------------------------------------------------------

_AGENT_TEXT = st.lists(
    st.sampled_from(
        [
            BEGIN,
            END,
            "<think>",
            "</think>",
            "<answer>",
            "</answer>",
            "{",
            "}",
            "[[",
            "]]",
            "'",
            "(",
            ")",
            "\\",
            '"action_type": "click"',
            "box_2d",
            "left_click(start_box='[1,2]')",
            "Click [3]",
            "true",
            "0",
            "\n",
        ]
    )
    | st.text(max_size=8),
    max_size=20,
).map("".join)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


@given(st.text(alphabet="[]a,", max_size=12))
def test_osworld_extract_requires_balanced_brackets(arguments):
    action = osworld_extract(pc_41v(f"left_click({arguments})"))
    assert (action is not None) is _balanced(arguments)


@given(_AGENT_TEXT)
def test_extractors_never_raise(text):
    assert android_world_extract(text) is None or isinstance(android_world_extract(text), dict)
    assert osworld_extract(text) is None or isinstance(osworld_extract(text), dict)
    assert webvoyager_extract(text) is None or isinstance(webvoyager_extract(text), str)
