"""Typed GUI actions (glmv.actions): real agent replies of each dialect parsed to the expected Action,
dialect detection, errors that name the text, and coordinates converted to pixels.

Replies follow the shapes in AGENT.md: GLM-4.1V wraps the visible part in ``<answer>``, GLM-4.5V / 4.6V do
not; the action sits in one ``<|begin_of_box|>…<|end_of_box|>`` span. UI-TARS cases are the examples of
bytedance/UI-TARS ``codes/tests/action_parser_test.py`` and its prompt's action space.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from glmv.actions import (
    Action,
    ActionParseError,
    action_from_dict,
    action_to_dict,
    detect_dialect,
    parse_action,
    read_action,
)
from glmv.actions.action import KINDS, qwen_resized_size
from glmv.actions.parse import DIALECTS
from glmv.errors import ConfigError, OutputError

BEGIN, END = "<|begin_of_box|>", "<|end_of_box|>"


def mobile_41v(action: str) -> str:
    """GLM-4.1V mobile: reasoning, then Memory / Reason / Action inside <answer>."""
    return (
        "<think>The PictureThis app asks me to choose the related organ; the photo shows a flower.</think>"
        "<answer>Memory: None\nReason: The image shows a flower, so I select 'flower'.\n"
        f"Action: {BEGIN}{action}{END}</answer>"
    )


def mobile_45v(action: str) -> str:
    """GLM-4.5V mobile: no <answer> tags."""
    return (
        "<think>I need to type the title into the note's title field.</think>\n"
        "Memory: The note is titled after the budget app.\nReason: The title field is focused and empty.\n"
        f"Action: {BEGIN}{action}{END}"
    )


def pc_41v(action: str) -> str:
    """GLM-4.1V desktop: explanation with the boxed call, then Memory, inside <answer>."""
    return (
        "<think>The dialog asks for confirmation; the OK button is at the bottom right.</think><answer>"
        f"I will confirm the dialog. {BEGIN}{action}{END}\nMemory:\n[]</answer>"
    )


def pc_45v(action: str) -> str:
    """GLM-4.5V desktop."""
    return (
        "<think>The file manager is open; next I act on the selected item.</think>\n"
        f'Acting on the selected item. {BEGIN}{action}{END}\nMemory:\n[{{"file": "report.odt"}}]'
    )


def web_41v(action: str) -> str:
    """GLM-4.1V web: Thought / Action / Memory_Updated inside <answer>."""
    return (
        "<think>The search results are listed; the first recipe matches the task.</think><answer>"
        "Thought: The first result is the vegetarian lasagna recipe I need.\n"
        f"Action: {BEGIN}{action}{END}\nMemory_Updated: {{}}</answer>"
    )


def web_45v(action: str) -> str:
    """GLM-4.5V web."""
    return (
        "<think>I can read the answer off the page now.</think>\n"
        f"Thought: The page shows what I need.\nAction: {BEGIN}{action}{END}\nMemory_Updated: {{}}"
    )


def mobile(kind: str, name: str, **fields) -> Action:
    return Action(kind, name=name, dialect="glm-mobile", **fields)


def pc(kind: str, name: str, **fields) -> Action:
    return Action(kind, name=name, dialect="glm-pc", **fields)


def som(kind: str, name: str, **fields) -> Action:
    return Action(kind, name=name, dialect="glm-web", **fields)


def tars(kind: str, name: str, **fields) -> Action:
    return Action(kind, name=name, dialect="ui-tars", **fields)


GLM_MOBILE = [
    (
        mobile_41v('{"action_type": "click", "box_2d": [[503,580,718,702]]}'),
        mobile("click", "click", box=(503, 580, 718, 702)),
    ),
    (
        mobile_45v(
            '{"action_type": "input_text", "text": "Personal Finance Tracker", "override": true, '
            '"box_2d": [[38, 115, 961, 140]]}'
        ),
        mobile("type", "input_text", text="Personal Finance Tracker", clear=True, box=(38, 115, 961, 140)),
    ),
    (  # Python spelling and leading zeros, as GLM sometimes writes them
        mobile_41v("{'action_type': 'long_press', 'box_2d': [[0503, 0580, 0718, 0702]]}"),
        mobile("long_press", "long_press", box=(503, 580, 718, 702)),
    ),
    (mobile_45v('{"action_type": "swipe", "direction": "up"}'), mobile("swipe", "swipe", direction="up")),
    (
        mobile_41v('{"action_type": "open_app", "app_name": "Markor"}'),
        mobile("open_app", "open_app", app="Markor"),
    ),
    (
        mobile_45v('{"action_type": "answer", "text": "3 sub-pages"}'),
        mobile("answer", "answer", text="3 sub-pages"),
    ),
    (
        mobile_41v('{"action_type": "status", "goal_status": "complete"}'),
        mobile("finish", "status"),
    ),
    (
        mobile_41v('{"action_type": "status", "goal_status": "infeasible"}'),
        mobile("fail", "status"),
    ),
    (mobile_45v('{"action_type": "keyboard_enter"}'), mobile("key", "keyboard_enter", keys=("enter",))),
    (mobile_45v('{"action_type": "navigate_back"}'), mobile("back", "navigate_back")),
    (mobile_45v('{"action_type": "navigate_home"}'), mobile("home", "navigate_home")),
    (mobile_41v('{"action_type": "wait"}'), mobile("wait", "wait")),
]

GLM_PC = [
    (
        pc_41v("left_click(start_box='[512,300]', element_info='OK button')"),
        pc("click", "left_click", point=(512, 300), element="OK button"),
    ),
    (
        pc_45v("left_double_click(start_box='[88, 140]')"),
        pc("double_click", "left_double_click", point=(88, 140)),
    ),
    (pc_45v("right_click(start_box='[88,140]')"), pc("right_click", "right_click", point=(88, 140))),
    (pc_41v("hover(start_box='[10,20]')"), pc("hover", "hover", point=(10, 20))),
    (
        pc_45v("left_drag(start_box='[100, 100]', end_box='[300, 300]')"),
        pc("drag", "left_drag", point=(100, 100), end_point=(300, 300)),
    ),
    (
        pc_45v("scroll(start_box='[500,500]', direction='down', step=5)"),
        pc("scroll", "scroll", point=(500, 500), direction="down", steps=5),
    ),
    (pc_41v("type(content='It\\'s done')"), pc("type", "type", text="It's done")),
    (pc_41v("key(keys='ctrl+c')"), pc("key", "key", keys=("ctrl", "c"))),
    (pc_45v("key(keys='Ctrl + Shift + T')"), pc("key", "key", keys=("Ctrl", "Shift", "T"))),
    (pc_45v("WAIT()"), pc("wait", "WAIT")),
    (pc_45v("DONE()"), pc("finish", "DONE")),
    (pc_41v("FAIL()"), pc("fail", "FAIL")),
]

GLM_WEB = [
    (web_41v("Click [5]"), som("click", "Click", label=5)),
    (
        web_45v("Type [3]; [vegetarian lasagna]"),
        som("type", "Type", label=3, text="vegetarian lasagna"),
    ),
    (web_41v("Scroll [WINDOW]; [down]"), som("scroll", "Scroll", label="WINDOW", direction="down")),
    (web_45v("Scroll [12]; [up]"), som("scroll", "Scroll", label=12, direction="up")),
    (web_41v("Key; [Return]"), som("key", "Key", keys=("Return",))),
    (web_45v("Wait"), som("wait", "Wait")),
    (web_45v("GoBack"), som("back", "GoBack")),
    (web_41v("Bing"), som("search", "Bing")),
    (
        web_45v("ANSWER; <content>It takes\n2 hours</content>"),
        som("answer", "ANSWER", text="It takes\n2 hours"),
    ),
]

GLM_WEB_POINT = [
    (
        web_45v("CLICK(point=(214, 100), box=[[198,92,229,107]], element_info='Dinners')"),
        Action(
            "click",
            name="CLICK",
            dialect="glm-web-point",
            point=(214, 100),
            box=(198, 92, 229, 107),
            element="Dinners",
        ),
    ),
    (
        web_41v("SCROLL_DOWN(point=(214, 100), distance=0.5)"),
        Action(
            "scroll",
            name="SCROLL_DOWN",
            dialect="glm-web-point",
            point=(214, 100),
            direction="down",
            distance=0.5,
        ),
    ),
    (
        web_45v("KEY_PRESS(key='Enter')"),
        Action("key", name="KEY_PRESS", dialect="glm-web-point", keys=("Enter",)),
    ),
]

UI_TARS = [
    (
        "Thought: test\nAction: click(start_box='<|box_start|>(112,224)<|box_end|>')",
        tars("click", "click", point=(112, 224)),
    ),
    ("Thought: test\nAction: click(start_box='(235,512)')", tars("click", "click", point=(235, 512))),
    (
        "Thought: test\nAction: left_double(start_box='(10,20)')",
        tars("double_click", "left_double", point=(10, 20)),
    ),
    (
        "Thought: menu\nAction: right_single(start_box='(10,20)')",
        tars("right_click", "right_single", point=(10, 20)),
    ),
    (
        "Thought: move it\nAction: drag(start_box='(100,200)', end_box='(300,400)')",
        tars("drag", "drag", point=(100, 200), end_point=(300, 400)),
    ),
    ("Thought: copy\nAction: hotkey(key='ctrl c')", tars("key", "hotkey", keys=("ctrl", "c"))),
    (
        "Thought: search\nAction: type(content='weather in Paris\\n')",
        tars("type", "type", text="weather in Paris\n"),
    ),
    ("Thought: say it\nAction: type(content='it's fine')", tars("type", "type", text="it's fine")),
    (
        "Thought: more\nAction: scroll(start_box='(500,500)', direction='down')",
        tars("scroll", "scroll", point=(500, 500), direction="down"),
    ),
    ("Thought: loading\nAction: wait()", tars("wait", "wait")),
    (
        "Thought: done\nAction: finished(content='The file is saved.')",
        tars("finish", "finished", text="The file is saved."),
    ),
    ("Thought: I need the password\nAction: call_user()", tars("call_user", "call_user")),
    ("Thought: phone\nAction: open_app(app_name='Settings')", tars("open_app", "open_app", app="Settings")),
    ("Thought: home\nAction: press_home()", tars("home", "press_home")),
    ("Thought: back\nAction: press_back()", tars("back", "press_back")),
    (
        "Thought: hold it\nAction: long_press(start_box='(400,800)')",
        tars("long_press", "long_press", point=(400, 800)),
    ),
    (  # UI-TARS-1.5 with thinking
        "<think>The orientation menu is at the top.</think>\nThought: Open it.\nAction: click(point='<point>200 300</point>')",
        tars("click", "click", point=(200, 300)),
    ),
]


@pytest.mark.parametrize(
    ("reply", "expected"), GLM_MOBILE, ids=[e.name + "-" + str(i) for i, (_, e) in enumerate(GLM_MOBILE)]
)
def test_glm_mobile_replies(reply, expected):
    assert parse_action(reply, "glm-mobile") == expected
    assert parse_action(reply) == expected  # detected


@pytest.mark.parametrize(
    ("reply", "expected"), GLM_PC, ids=[e.name + "-" + str(i) for i, (_, e) in enumerate(GLM_PC)]
)
def test_glm_pc_replies(reply, expected):
    assert parse_action(reply, "glm-pc") == expected
    assert parse_action(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"), GLM_WEB, ids=[e.name + "-" + str(i) for i, (_, e) in enumerate(GLM_WEB)]
)
def test_glm_web_set_of_marks_replies(reply, expected):
    assert parse_action(reply, "glm-web") == expected
    assert parse_action(reply) == expected


@pytest.mark.parametrize(("reply", "expected"), GLM_WEB_POINT, ids=[e.name for _, e in GLM_WEB_POINT])
def test_glm_web_point_replies(reply, expected):
    assert parse_action(reply, "glm-web-point") == expected
    assert parse_action(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"), UI_TARS, ids=[e.name + "-" + str(i) for i, (_, e) in enumerate(UI_TARS)]
)
def test_ui_tars_replies(reply, expected):
    assert parse_action(reply, "ui-tars") == expected
    assert parse_action(reply) == expected


def test_ui_tars_15_declares_resized_pixels():
    action = parse_action("Thought: x\nAction: click(start_box='(966,546)')", "ui-tars-1.5")
    assert (action.kind, action.space, action.point) == ("click", "resized", (966, 546))


def test_raw_and_arguments_keep_what_was_written():
    action = parse_action(pc_45v("key(keys='Ctrl + C')"))
    assert action.raw == "key(keys='Ctrl + C')"
    assert action.arguments == {"keys": "Ctrl + C"}
    written = parse_action(
        mobile_41v('{"action_type": "click", "box_2d": [[1,2,3,4]], "element_type": "button"}')
    )
    assert written.arguments == {"action_type": "click", "box_2d": [[1, 2, 3, 4]], "element_type": "button"}


# --- where the action is found ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # a server's reasoning parser left the visible text in the reasoning (GLM-V #206): no </think>
        (
            f"<think>The OK button confirms. I will click it. {BEGIN}left_click(start_box='[512,300]'){END}",
            pc("click", "left_click", point=(512, 300)),
        ),
        # the box markers were stripped (skip_special_tokens left on): the text after Action:
        (
            '<think>x</think>\nMemory: none\nReason: open it\nAction: {"action_type": "open_app", "app_name": "Clock"}',
            mobile("open_app", "open_app", app="Clock"),
        ),
        (
            "Thought: The first result.\nAction: Click [7]\nMemory_Updated: {}",
            som("click", "Click", label=7),
        ),
        # a desktop reply without a box: the first call in the text (the official fallback)
        (
            "<think>copy it</think>I will copy the cell. key(keys='ctrl+c')\nMemory:\n[]",
            pc("key", "key", keys=("ctrl", "c")),
        ),
        # just the action text
        ('{"action_type": "wait"}', mobile("wait", "wait")),
    ],
    ids=["reasoning-only", "mobile-no-box", "web-no-box", "pc-no-box", "bare-action"],
)
def test_the_action_is_found_wherever_the_reply_put_it(reply, expected):
    assert parse_action(reply) == expected


@pytest.mark.parametrize(
    ("action_text", "boxed", "dialect"),
    [
        ('{"action_type": "click", "box_2d": [[1,2,3,4]]}', True, "glm-mobile"),
        ("left_click(start_box='[512,300]')", True, "glm-pc"),
        ("type(content='hello')", True, "glm-pc"),  # shared name, inside a GLM box
        ("type(content='hello')", False, "ui-tars"),  # shared name, no GLM box
        ("scroll(start_box='[1,2]', direction='up')", False, "glm-pc"),  # GLM's [x,y] point
        ("scroll(start_box='(1,2)', direction='up')", True, "ui-tars"),  # UI-TARS's (x,y) point
        ("WAIT()", True, "glm-pc"),
        ("wait()", False, "ui-tars"),
        ("finished(content='ok')", False, "ui-tars"),
        ("click(point='<point>200 300</point>')", False, "ui-tars"),
        ("Click [5]", True, "glm-web"),
        ("Scroll [WINDOW]; [down]", True, "glm-web"),
        ("Key; [Return]", True, "glm-web"),
        ("GoBack", True, "glm-web"),
        ("ANSWER; <content>42</content>", True, "glm-web"),
        ("CLICK(point=(214, 100))", True, "glm-web-point"),
        ("ANSWER(content='42')", True, "glm-web-point"),
    ],
)
def test_detect_dialect(action_text, boxed, dialect):
    assert detect_dialect(action_text, boxed=boxed) == dialect


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "dialect", "problem"),
    [
        ("", None, "no action text"),
        ("<think>I am not sure what to do.</think>", None, "no known action dialect"),
        (mobile_41v('{"action_type": "wait"}') + f"{BEGIN}Click [3]{END}", None, "2 boxed actions"),
        (mobile_41v('{"action_type": "click", "box_2d": [[1,2,3,4]]'), "glm-mobile", "not a JSON object"),
        (mobile_41v('{"action_type": "click"}'), None, "click needs a box_2d"),
        (mobile_41v('{"action_type": "click", "box_2d": [[718,580,503,702]]}'), None, "box_2d must be"),
        (mobile_41v('{"action_type": "fly", "box_2d": [[1,2,3,4]]}'), None, "'fly' is not one of"),
        (mobile_41v('{"action_type": "status", "goal_status": "done"}'), None, "goal_status"),
        (mobile_41v("__import__('os').system('echo pwned')"), "glm-mobile", "not a JSON object"),
        (pc_41v("left_click()"), None, "left_click needs start_box"),
        (pc_41v("left_click(start_box='[512,300')"), "glm-pc", "quotes and brackets closed"),
        (pc_45v("open_file(path='/tmp')"), "glm-pc", "'open_file' is not a desktop action"),
        (pc_45v("scroll(start_box='[1,2]', direction='sideways')"), None, "scroll direction"),
        (web_41v("I would click the first result"), "glm-web", "no Click / Type"),
        (web_45v("SCROLL_DOWN(point=(1, 2), distance=fast)"), None, "distance 'fast' is not a number"),
        (
            "Thought: x\nAction: click(start_box='(1,2)')\n\nclick(start_box='(3,4)')",
            "ui-tars",
            "several actions",
        ),
        ("Thought: x\nAction: click()", "ui-tars", "click needs a valid start_box"),
        ("Thought: x\nAction: teleport(start_box='(1,2)')", "ui-tars", "not a UI-TARS action"),
        ("Thought: x\nAction: click(start_box=__import__('os'))", "ui-tars", "not one call"),
    ],
)
def test_a_reply_without_one_complete_action_raises_naming_the_text(reply, dialect, problem):
    with pytest.raises(ActionParseError) as caught:
        parse_action(reply, dialect)
    error = caught.value
    assert isinstance(error, OutputError)
    assert problem in str(error)
    assert repr(error.text)[1:40] in str(error)  # the message shows the text itself
    assert error.text in reply


def test_an_unknown_dialect_is_a_config_error():
    with pytest.raises(ConfigError, match="glm-mobile"):
        parse_action("Click [5]", "glm-watch")
    with pytest.raises(ConfigError, match="Unknown action dialect"):
        read_action("Click [5]", "android")


def test_a_long_text_is_shortened_in_the_message():
    reply = "Thought: " + "x" * 2000
    with pytest.raises(ActionParseError) as caught:
        parse_action(reply)
    assert len(str(caught.value)) < 600
    assert caught.value.text in reply and len(caught.value.text) > 2000  # kept whole on the error


@pytest.mark.parametrize(
    ("text", "dialect", "expected"),
    [
        ("left_click()", "glm-pc", pc("click", "left_click")),
        ("open_file(path='/tmp')", "glm-pc", pc("unknown", "open_file")),
        ('{"action_type": "click", "box_2d": [[1,2,3]]}', "glm-mobile", mobile("click", "click")),
        ('{"action_type": "fly"}', "glm-mobile", mobile("unknown", "fly")),
        (
            "SCROLL_UP(point=(1, 2), distance=fast)",
            "glm-web-point",
            Action("scroll", name="SCROLL_UP", dialect="glm-web-point", point=(1, 2), direction="up"),
        ),
    ],
)
def test_read_action_not_strict_keeps_what_parsed(text, dialect, expected):
    assert read_action(text, dialect, strict=False) == expected
    with pytest.raises(ActionParseError):
        read_action(text, dialect)


# --- coordinates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "size", "point", "box", "end_point"),
    [
        (pc("click", "left_click", point=(500, 500)), (1920, 1080), (960.0, 540.0), None, None),
        (pc("click", "left_click", point=(0, 999)), (1000, 2000), (0.0, 1998.0), None, None),
        (
            pc("click", "left_click", point=(1000, 1200)),
            (1920, 1080),
            (1920.0, 1080.0),
            None,
            None,
        ),  # clipped
        (
            mobile("click", "click", box=(100, 200, 300, 400)),
            (1080, 2400),
            None,
            (108.0, 480.0, 324.0, 960.0),
            None,
        ),
        (
            pc("drag", "left_drag", point=(100, 100), end_point=(250, 750)),
            (800, 600),
            (80.0, 60.0),
            None,
            (200.0, 450.0),
        ),
        # UI-TARS-1.5: 1920×1080 is resized to 1932×1092, whose pixels its coordinates are in
        (
            Action("click", name="click", dialect="ui-tars-1.5", space="resized", point=(966, 546)),
            (1920, 1080),
            (960.0, 540.0),
            None,
            None,
        ),
    ],
)
def test_to_pixels(action, size, point, box, end_point):
    converted = action.to_pixels(*size)
    assert converted.space == "pixels"
    for got, want in ((converted.point, point), (converted.box, box), (converted.end_point, end_point)):
        assert got == (None if want is None else pytest.approx(want))
    assert action.space != "pixels"  # a copy: the original keeps its space
    assert (
        dataclasses.replace(
            converted, space=action.space, point=action.point, box=action.box, end_point=action.end_point
        )
        == action
    )


def test_to_pixels_of_pixels_and_of_labels():
    in_pixels = pc("click", "left_click", point=(500, 500)).to_pixels(1920, 1080)
    assert in_pixels.to_pixels(640, 480) is in_pixels
    label = som("click", "Click", label=5)
    assert label.to_pixels(1280, 800) == dataclasses.replace(label, space="pixels")


def test_target_is_the_point_or_the_centre_of_the_box():
    assert mobile("click", "click", box=(100, 200, 300, 400)).target == (200, 300)
    assert pc("click", "left_click", point=(5, 6)).target == (5, 6)
    assert som("click", "Click", label=5).target is None
    tapped = parse_action(mobile_41v('{"action_type": "click", "box_2d": [[503,580,718,702]]}'))
    assert tapped.to_pixels(1080, 2400).target == pytest.approx((610.5 * 1.08, 641 * 2.4))


@pytest.mark.parametrize(
    ("size", "resized"),
    [
        ((1920, 1080), (1932, 1092)),
        ((224, 224), (280, 280)),  # raised to the 100·28² minimum area
        ((1080, 2400), (1092, 2408)),
        ((7680, 4320), (4760, 2688)),  # lowered under the 16384·28² maximum area (β ≈ 1.607)
    ],
)
def test_qwen_resized_size_matches_ui_tars(size, resized):
    assert qwen_resized_size(*size) == resized


# --- the Action type ----------------------------------------------------------------------------------------


def test_actions_are_frozen_and_compare_by_what_they_do():
    a = read_action("key(keys='ctrl+c')", "glm-pc")
    b = read_action("key(keys='ctrl + c')", "glm-pc")
    assert a == b and hash(a) == hash(b)  # raw and arguments do not take part
    assert a.raw != b.raw
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.kind = "type"  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.arguments["keys"] = "alt+f4"  # type: ignore[index]


def test_action_rejects_a_kind_or_space_outside_the_vocabulary():
    with pytest.raises(ValueError, match="kind"):
        Action("teleport")
    with pytest.raises(ValueError, match="space"):
        Action("click", space="inches")


def test_every_dialect_produces_only_documented_kinds():
    parsed = [parse_action(reply) for reply, _ in GLM_MOBILE + GLM_PC + GLM_WEB + GLM_WEB_POINT + UI_TARS]
    assert {action.kind for action in parsed} <= KINDS
    assert {action.dialect for action in parsed} <= set(DIALECTS)


# --- real outputs, named after their source ------------------------------------------------------------------

_CAMELLIA_REASON = (
    'I have selected the image of the Camellia within the PictureThis app. The current screen is asking to "Choose '
    "related organ\". The image shows a flower, so I need to select 'flower' to help the app identify the plant. "
    "Clicking on the 'flower' option with the associated image will provide the necessary information for the app to "
    "proceed with the identification."
)

REAL_OUTPUTS = {
    "GLM-V glmv_reward/tests/cogagent/test_android_world_verifier.py (ground truth)": (
        f"Memory: None\nReason: {_CAMELLIA_REASON}\n"
        'Action: <|begin_of_box|>{"action_type": "click", "box_2d": [[503,580,718,702]]}<|end_of_box|>',
        None,
        Action("click", name="click", dialect="glm-mobile", box=(503, 580, 718, 702)),
    ),
    "GLM-V glmv_reward/tests/cogagent/test_android_world_verifier.py (keys swapped)": (
        f"Memory: None\nReason: {_CAMELLIA_REASON}\n"
        'Action: <|begin_of_box|>{"box_2d": [[503,580,718,702]], "action_type": "click"}<|end_of_box|>',
        None,
        Action("click", name="click", dialect="glm-mobile", box=(503, 580, 718, 702)),
    ),
    "GLM-V examples/gui-agent/glm-45v/agent.md (history step, Python spelling, no box)": (
        "Memory: None\nReason: The user needs to access the Broccoli app to manage recipes. Since the app is not "
        "visible on the current home screen, the first step is to open the Broccoli app to proceed with the task of "
        "deleting duplicate recipes.\nAction: {'action_type': 'open_app', 'app_name': 'Broccoli'}",
        None,
        Action("open_app", name="open_app", dialect="glm-mobile", app="Broccoli"),
    ),
    "GLM-V glmv_reward/tests/cogagent/test_osworld_verifier.py (drag)": (
        "<think>test</think>Action: <|begin_of_box|>left_drag(start_box='[100, 100]', end_box='[300, 300]')"
        "<|end_of_box|>",
        None,
        Action("drag", name="left_drag", dialect="glm-pc", point=(100, 100), end_point=(300, 300)),
    ),
    "GLM-V glmv_reward/tests/cogagent/test_osworld_verifier.py (click with element_info)": (
        "<think>test</think>Action: <|begin_of_box|>left_click(start_box='[500, 500]', element_info='123456')"
        "<|end_of_box|>",
        None,
        Action("click", name="left_click", dialect="glm-pc", point=(500, 500), element="123456"),
    ),
    "GLM-V glmv_reward/tests/cogagent/test_webvoyager_verifier.py (point grammar)": (
        "<think></think><answer><|begin_of_box|>CLICK(point=(214, 100), box=[[198,92,229,107]], "
        "element_info='Dinners')<|end_of_box|></answer>",
        None,
        Action(
            "click",
            name="CLICK",
            dialect="glm-web-point",
            point=(214, 100),
            box=(198, 92, 229, 107),
            element="Dinners",
        ),
    ),
    "GLM-V glmv_reward/tests/cogagent/test_webvoyager_verifier.py (answer)": (
        "<think></think><answer><|begin_of_box|>ANSWER(content='Dinners')<|end_of_box|></answer>",
        None,
        Action("answer", name="ANSWER", dialect="glm-web-point", text="Dinners"),
    ),
    "UI-TARS data/training_example.json (UI-TARS-1 box tokens)": (
        "Action: click(start_box='<|box_start|>(495,30)<|box_end|>')",
        "ui-tars",
        Action("click", name="click", dialect="ui-tars", point=(495, 30)),
    ),
    "UI-TARS README.md": (
        "Thought: Click the button\nAction: click(start_box='(100,200)')",
        "ui-tars",
        Action("click", name="click", dialect="ui-tars", point=(100, 200)),
    ),
    "UI-TARS codes/tests/action_parser_test.py (point tag)": (
        "Thought: test\nAction: click(point='<point>200 300</point>')",
        "ui-tars",
        Action("click", name="click", dialect="ui-tars", point=(200, 300)),
    ),
    "UI-TARS README_coordinates.md (UI-TARS-1.5, resized pixels)": (
        "Thought: xxx\nAction: click(start_box='(197,525)')",
        "ui-tars-1.5",
        Action("click", name="click", dialect="ui-tars-1.5", space="resized", point=(197, 525)),
    ),
}


@pytest.mark.parametrize(
    ("reply", "dialect", "expected"), list(REAL_OUTPUTS.values()), ids=list(REAL_OUTPUTS)
)
def test_real_agent_outputs(reply, dialect, expected):
    assert parse_action(reply, dialect) == expected


def test_ui_tars_15_readme_example_is_scaled_from_the_resized_image():
    # README_coordinates.md's formula: x / resized_width · width on a 1920×1080 screenshot the model saw resized to
    # 1932×1092 (197 / 1932 · 1920 = 195.8, 525 / 1092 · 1080 = 519.2)
    action = parse_action(
        REAL_OUTPUTS["UI-TARS README_coordinates.md (UI-TARS-1.5, resized pixels)"][0], "ui-tars-1.5"
    )
    x, y = action.to_pixels(1920, 1080).point
    assert qwen_resized_size(1920, 1080) == (1932, 1092)
    assert (x, y) == pytest.approx((197 / 1932 * 1920, 525 / 1092 * 1080))


def test_recorded_actions_read_back_equal():
    for reply, dialect, _ in REAL_OUTPUTS.values():
        action = parse_action(reply, dialect)
        again = action_from_dict(json.loads(json.dumps(action_to_dict(action))))
        assert again == action and again.raw == action.raw and again.dialect == action.dialect
