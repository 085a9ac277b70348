"""Every built-in verifier on real GLM-format replies, in both the GLM-4.1V form (<answer> tags) and the
GLM-4.5V/4.6V form (no answer tags). No judge is configured here: these are the rule paths."""

from __future__ import annotations

import json
import textwrap

import pytest

from glmv.errors import ConfigError
from glmv.reward import get_verifier

V41 = "<think>{t}</think><answer><|begin_of_box|>{a}<|end_of_box|></answer>"
V45 = "<think>{t}</think><|begin_of_box|>{a}<|end_of_box|>"


def both(answer: str, thought: str = "Working it out step by step.") -> list[str]:
    return [V41.format(t=thought, a=answer), V45.format(t=thought, a=answer)]


def score(verifier, response: str, truth: str, question: str = "") -> float:
    extracted = verifier.extract_answer(response, question=question)
    gt = verifier.extract_answer(truth, question=question)
    return verifier.judge(extracted, gt, question=question, image_file="img.png")


# --- extraction ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (V41.format(t="15 + 27 = 42", a="42"), "42"),
        (V45.format(t="15 + 27 = 42", a="42"), "42"),
        ("<think>\nI need to add.\n</think>\n<answer>\n<|begin_of_box|>42<|end_of_box|>\n</answer>", "42"),
        (
            "<think>x</think><answer>It is <|begin_of_box|>7<|end_of_box|> or <|begin_of_box|>8<|end_of_box|></answer>",
            None,
        ),
        ("<think>x</think><answer>7</answer>", None),  # strict: a box is required
        ("The answer is <|begin_of_box|>42<|end_of_box|>", None),  # no think block
        ("<think>a <answer>b</answer></think><answer><|begin_of_box|>1<|end_of_box|></answer>", None),
        ("<think>x</think><answer>\\boxed{\\frac{1}{2}}</answer>", "\\frac{1}{2}"),  # direct extraction only
    ],
)
def test_math_family_extraction(response, expected):
    assert get_verifier("math").extract_answer(response) == expected


def test_non_strict_extraction_uses_the_whole_answer():
    verifier = get_verifier("math", strict_boxed_extraction=False)
    assert verifier.extract_answer("<think>x</think><answer> 7 </answer>") == "7"
    assert verifier.extract_answer("<think>x</think> 7") == "7"


# --- math ---------------------------------------------------------------------------------------------------

MATH_CASES = [
    ("42", "42", 1.0),
    ("0.5", "\\frac{1}{2}", 1.0),
    ("\\dfrac{3}{4}", "0.75", 1.0),
    ("\\{2, -2\\}", "\\{-2, 2\\}", 1.0),
    ("(1, 2]", "(1,2]", 1.0),
    ("x^2+2x+1", "(x+1)^2", 1.0),
    ("50\\%", "0.5", 1.0),
    ("3\\text{ cm}", "3", 1.0),
    ("\\sqrt{2}", "\\sqrt{2}", 1.0),
    ("41", "42", 0.0),
    ("\\frac{1}{3}", "0.33", 0.0),
    ("\\{1, 2\\}", "\\{1, 2, 3\\}", 0.0),
    ("x^2", "2x", 0.0),
]


@pytest.mark.parametrize(("answer", "truth", "expected"), MATH_CASES)
def test_math(answer, truth, expected):
    verifier = get_verifier("math")
    for response in both(answer):
        assert score(verifier, response, V41.format(t="", a=truth)) == expected


def test_math_numeric_tolerance_really_applies():
    loose = get_verifier("math", sympy_tolerance=1e-2)
    strict = get_verifier("math", sympy_tolerance=1e-9)
    assert loose.judge("3.14", "3.1416") == 1.0
    assert strict.judge("3.14", "3.1416") == 0.0
    assert loose.evaluate("3.14", "3.1416").reason.startswith("numbers equal within tolerance")


def test_math_rejects_known_math_verify_false_positive_on_tiny_numbers():
    # math-verify rounds to 6 decimals; the tolerance rule does not.
    assert get_verifier("math", sympy_tolerance=1e-6).judge("0.0000001", "0.0000002") == 0.0


# --- physics / chemistry ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        ("5 m/s", "5 m/s", 1.0),
        ("5.0\\,\\text{m/s}", "5 m/s", 1.0),
        ("5 cm", "5 m", 0.0),  # different units, no judge: rule cannot accept
        ("9.8", "9.80", 1.0),
        ("mass", "mass", 1.0),
        ("velocity increases", "speed goes up", 0.0),
    ],
)
def test_physics(answer, truth, expected):
    verifier = get_verifier("physics")
    for response in both(answer):
        assert score(verifier, response, V41.format(t="", a=truth)) == expected


def test_physics_words_do_not_count_as_units():
    from glmv.reward.text import PHYSICS_UNITS, find_units

    assert find_units("The ball moves faster as mass increases", PHYSICS_UNITS) == []
    assert find_units("a = 9.8 m/s^2", PHYSICS_UNITS) == ["m/s^2"]


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        ("0.1 mol/L", "0.1 mol/L", 1.0),
        ("0.10 mol/L", "0.1 mol/L", 1.0),
        ("2 g", "2 kg", 0.0),
        ("H_2O", "H_2O", 1.0),
    ],
)
def test_chemistry(answer, truth, expected):
    verifier = get_verifier("chemistry")
    for response in both(answer):
        assert score(verifier, response, V41.format(t="", a=truth)) == expected


def test_no_llm_call_when_fallback_disabled_even_with_units():
    verifier = get_verifier(
        "physics",
        enable_llm_judge_fallback=False,
        llm_judge_url="http://127.0.0.1:9/v1",
        llm_judge_prompt_template="{question}{predict}{label}",
    )
    assert verifier.llm_judge is None
    assert verifier.judge("5 cm", "0.05 m") == 0.0


# --- biology / geography / liberal arts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "answer", "truth", "expected"),
    [
        ("biology", "bBAa", "AaBb", 1.0),
        ("biology", "AABb", "AaBb", 0.0),
        ("geography", "beijing", "Beijing", 1.0),
        ("geography", "Asia, Europe", "Europe；Asia", 1.0),
        ("geography", "Asia", "Europe", 0.0),
        ("liberal_arts", " Renaissance ", "Renaissance", 1.0),
        ("liberal_arts", "Baroque", "Renaissance", 0.0),
    ],
)
def test_text_subjects(kind, answer, truth, expected):
    verifier = get_verifier(kind)
    for response in both(answer):
        assert score(verifier, response, V41.format(t="", a=truth)) == expected


# --- vqa / ocr / counting / chart / mmsi / multi_image ------------------------------------------------------


def test_vqa():
    verifier = get_verifier("vqa")
    for response in both("Stop"):
        assert score(verifier, response, V41.format(t="", a="Stop")) == 1.0
        assert score(verifier, response, V41.format(t="", a="Go")) == 0.0


@pytest.mark.parametrize(
    ("answer", "truth", "ignore_case", "expected"),
    [
        ("Hello World", "hello world", False, 0.8),
        ("Hello World", "hello world", True, 1.0),
        ("abcd", "abce", False, 0.75),
        ("Hello  World", "Hello World", False, 1.0),
        ("xyz", "abc", False, 0.0),
    ],
)
def test_ocr_similarity_is_a_continuous_reward(answer, truth, ignore_case, expected):
    verifier = get_verifier("ocr", ignore_case=ignore_case, enable_llm_judge_fallback=False)
    for response in both(answer):
        assert score(verifier, response, V41.format(t="", a=truth)) == pytest.approx(expected)


def test_ocr_bounds():
    verifier = get_verifier("ocr", edit_distance_upper_bound=0.7, edit_distance_lower_bound=0.3)
    assert verifier.judge("abcd", "abce") == 1.0
    assert verifier.judge("abcd", "wxye") == 0.0


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [("7", "7", 1.0), ("7.0", "7", 1.0), ("1000", "1000.", 1.0), ("12", "21", 0.0), ("seven", "7", 0.0)],
)
def test_counting_accepts_answer_tags(answer, truth, expected):
    verifier = get_verifier("counting")
    for response in both(answer, "I count the apples one by one."):
        assert score(verifier, response, V41.format(t="", a=truth)) == expected


CHART_REGEX = "^<think>(.*?)</think>(?P<answer>.*)$"


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        ("12.2", "12", 1.0),  # within 2.5e-2
        ("13", "12", 0.0),
        ("2019", "2020", 0.0),  # years compare exactly
        ("2020", "2020", 1.0),
        ("45%", "0.45", 1.0),
        ("1,250", "1250", 1.0),
    ],
)
def test_chart(answer, truth, expected):
    verifier = get_verifier("chart", answer_extraction_regex=CHART_REGEX, sympy_tolerance=2.5e-2)
    for response in both(answer):
        assert score(verifier, response, V41.format(t="", a=truth)) == expected


def test_chart_requires_its_regex():
    with pytest.raises(ConfigError, match="answer_extraction_regex"):
        get_verifier("chart")


@pytest.mark.parametrize(
    ("answer", "truth", "tolerance", "expected"),
    [
        ("90°", "90", 1e-5, 1.0),
        ("25%", "0.25", 1e-5, 1.0),
        ("1.5", "1", 0.9, 1.0),
        ("3", "1", 0.9, 0.0),
        ("x > 3", "3 < x", 1e-5, 1.0),
    ],
)
def test_mmsi(answer, truth, tolerance, expected):
    verifier = get_verifier("mmsi", sympy_tolerance=tolerance)
    for response in both(answer):
        assert score(verifier, response, V41.format(t="", a=truth)) == expected


def test_multi_image():
    verifier = get_verifier("multi_image")
    for response in both("\\frac{1}{2}"):
        assert score(verifier, response, V41.format(t="", a="0.5")) == 1.0
        assert score(verifier, response, V41.format(t="", a="B")) == 0.0


# --- language mix / geoquest / general / long_doc -----------------------------------------------------------


def test_language_mix():
    verifier = get_verifier("language_mix")
    chinese = "这是一个很长的中文段落" * 6
    english = " ".join(["word"] * 210)
    assert verifier.judge(verifier.extract_answer(f"{chinese}\n\n{english}"), None) == 0.0
    assert verifier.judge(verifier.extract_answer(f"{chinese}\n\n{chinese}"), None) == 1.0
    assert verifier.judge(verifier.extract_answer(f"{english} {chinese}"), None) == 1.0  # one paragraph


def test_geoquest_extraction_and_placeholders():
    template = "{place_name} {address} {predict}"
    verifier = get_verifier(
        "geoquest", llm_api_key="k", llm_judge_url="http://127.0.0.1:9/v1", llm_judge_prompt_template=template
    )
    assert verifier.extract_answer(V41.format(t="看建筑风格", a="北京的颐和园")) == "北京的颐和园"
    truth = {"place_name": "Summer Palace", "address": "Beijing"}
    assert verifier.extract_answer(json.dumps(truth)) == truth
    with pytest.raises(ConfigError, match="place_name"):
        get_verifier(
            "geoquest", llm_api_key="k", llm_judge_url="u", llm_judge_prompt_template="{question}{predict}"
        )


def test_general_strips_answer_tags_and_box_tokens():
    verifier = get_verifier(
        "general",
        llm_api_key="k",
        llm_judge_url="http://127.0.0.1:9/v1",
        llm_judge_prompt_template="{question}{predict}{label}",
        answer_extraction_regex=CHART_REGEX,
    )
    assert verifier.extract_answer(V41.format(t="x", a="Paris")) == "Paris"
    assert verifier.judge("Paris", "Paris") == 1.0


def test_long_doc_has_a_verifier():
    verifier = get_verifier(
        "long_doc", llm_api_key=["k"], llm_judge_url=["http://127.0.0.1:9/v1"], llm_model=["m"]
    )
    assert verifier.extract_answer(V45.format(t="Reading page 3.", a="1997")) == "1997"
    assert verifier.judge("1997", "1997") == 1.0


# --- GUI agents and file_based ------------------------------------------------------------------------------


def test_gui_agent_types_use_the_builtin_formulas():
    android = get_verifier(
        "AndroidWorld",
        extract_answer_file_path="scripts/gui_agent/AndroidWorld.py",
        judge_func_path="scripts/gui_agent/AndroidWorld.py",
    )
    click = '{"action_type": "click", "box_2d": [[100, 200, 180, 260]]}'
    assert score(android, V41.format(t="Tap it.", a=click), V41.format(t="", a=click)) == 1.0
    osworld = get_verifier("OSWorld")
    assert score(
        osworld,
        V45.format(t="OK.", a="left_click(start_box='[500, 300]')"),
        V41.format(t="", a="left_click(start_box='[500, 300]')"),
    ) == pytest.approx(1.0)
    web = get_verifier("WebVoyager")
    assert score(web, V41.format(t="x", a="Click [5]"), V41.format(t="", a="Click [5]")) == 1.0
    assert score(web, V41.format(t="x", a="Click [5]"), V41.format(t="", a="Click [6]")) == 0.0


def test_file_based_loads_user_functions(tmp_path):
    module = tmp_path / "my_reward.py"
    module.write_text(
        textwrap.dedent("""
        def extract(response, question):
            return response.rsplit("ANSWER:", 1)[-1].strip()

        def judge(extracted, ground_truth, question, image_file):
            return 1.0 if extracted.lower() == ground_truth.lower() and image_file == "img.png" else 0.0
    """)
    )
    verifier = get_verifier(
        "file_based",
        extract_answer_file_path=str(module),
        extract_answer_func_name="extract",
        judge_func_path=str(module),
        judge_func_name="judge",
    )
    assert score(verifier, "thinking... ANSWER: Yes", "ANSWER: yes") == 1.0
    with pytest.raises(ConfigError, match="judge_func_path"):
        get_verifier(
            "file_based",
            extract_answer_file_path=str(module),
            extract_answer_func_name="extract",
            judge_func_path=str(tmp_path / "nope.py"),
        )


def test_every_verifier_accepts_the_image_keyword():
    from glmv.reward import available_verifiers

    options = {
        "chart": {"answer_extraction_regex": CHART_REGEX},
        "general": {
            "llm_api_key": "k",
            "llm_judge_url": "u",
            "llm_judge_prompt_template": "{predict}{label}",
        },
        "geoquest": {
            "llm_api_key": "k",
            "llm_judge_url": "u",
            "llm_judge_prompt_template": "{predict}{place_name}{address}",
        },
        "long_doc": {"llm_api_key": "k", "llm_judge_url": "u", "llm_model": "m"},
        "file_based": None,
    }
    for kind in available_verifiers():
        if options.get(kind, {}) is None:
            continue
        verifier = get_verifier(kind, **options.get(kind, {}))
        verifier.judge(None, None, question="q", image_file="img.png")  # must not raise TypeError
