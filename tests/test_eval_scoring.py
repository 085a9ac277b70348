"""The public scorers of glmv.eval.scoring against the reference implementations' own behaviour.

Each table row is named after the rule it comes from (the DocVQA ANLS definition, ChartQA's relaxed accuracy,
the VQA / EvalAI normalisation, OCRBench's eval.py, MMMU's answer extraction, VLMEvalKit's grounding rules) and
includes the traps EVAL.md §1-§2 lists.
"""

from __future__ import annotations

import pytest

from glmv.errors import ConfigError
from glmv.eval.scoring import (
    anls,
    box_iou,
    extract_choice,
    math_equal,
    mmmu_open_match,
    normalize_vqa_answer,
    ocrbench_match,
    point_in_box,
    relaxed_accuracy,
    vqa_accuracy,
    xywh_to_xyxy,
)

ANLS_CASES = [
    ("docvqa-exact", "hello world", ["hello world"], 1.0),
    ("docvqa-case-and-spaces-normalised", "  Hello   WORLD ", ["hello world"], 1.0),
    ("docvqa-one-edit-of-four", "abcx", ["abcd"], 0.75),
    ("docvqa-best-of-several-answers", "abcx", ["zzzz", "abcd"], 0.75),
    ("docvqa-value-at-exactly-tau-is-kept", "abcxyz", ["abcdef"], 0.5),
    ("docvqa-below-tau-is-zero", "abxyzw", ["abcdef"], 0.0),
    ("docvqa-denominator-is-normalised-length", "a b", ["a   b"], 1.0),
    ("docvqa-both-empty", "", [""], 1.0),
    ("docvqa-empty-prediction", "", ["abc"], 0.0),
]


@pytest.mark.parametrize(
    ("name", "prediction", "answers", "expected"), ANLS_CASES, ids=[c[0] for c in ANLS_CASES]
)
def test_anls_follows_the_docvqa_definition(name, prediction, answers, expected):
    assert anls(prediction, answers) == pytest.approx(expected)


def test_anls_threshold_is_a_parameter():
    assert anls("abxyzw", ["abcdef"], threshold=0.7) == pytest.approx(1 / 3)


RELAXED_CASES = [
    ("chartqa-exact-number", "42", "42", 1.0),
    ("chartqa-within-5-percent-of-the-gold", "10.4", "10", 1.0),
    ("chartqa-exactly-5-percent-is-correct", "10.5", "10", 1.0),
    ("chartqa-just-over-5-percent", "10.51", "10", 0.0),
    ("chartqa-tolerance-measured-against-gold-not-prediction", "9.5", "10", 1.0),
    ("chartqa-tolerance-against-gold-asymmetric", "100", "95.1", 0.0),
    ("chartqa-percent-sign-divides-by-100", "5%", "0.05", 1.0),
    ("chartqa-gold-zero-falls-back-to-string-match", "0.0", "0", 0.0),
    ("chartqa-gold-zero-same-string", "0", "0", 1.0),
    ("chartqa-text-case-insensitive", "Yes", "yes", 1.0),
    ("chartqa-text-differs", "no", "yes", 0.0),
    ("chartqa-not-stripped-by-the-scorer", " 42", "42", 1.0),
]


@pytest.mark.parametrize(
    ("name", "prediction", "answer", "expected"), RELAXED_CASES, ids=[c[0] for c in RELAXED_CASES]
)
def test_relaxed_accuracy_follows_chartqa(name, prediction, answer, expected):
    assert relaxed_accuracy(prediction, answer) == expected


VQA_NORMALISATION = [
    ("evalai-lower-case", "Red", "red"),
    ("evalai-articles-dropped", "the red car", "red car"),
    ("evalai-number-words", "Two", "2"),
    ("evalai-contractions-restored", "dont", "don't"),
    ("evalai-comma-in-number-dropped", "1,000", "1000"),
    ("evalai-trailing-period", "cat.", "cat"),
    ("evalai-decimal-point-kept", "3.5", "3.5"),
    ("evalai-question-mark-dropped", "why?", "why"),
    ("evalai-hyphen-becomes-space", "t-shirt", "t shirt"),
]


@pytest.mark.parametrize(("name", "raw", "normal"), VQA_NORMALISATION, ids=[c[0] for c in VQA_NORMALISATION])
def test_vqa_normalisation_is_the_evalai_processor(name, raw, normal):
    assert normalize_vqa_answer(raw) == normal


VQA_CASES = [
    ("vqa-all-ten-agree", "cat", ["cat"] * 10, 1.0),
    ("vqa-all-ten-agree-case-differs-still-normalised", "Two", ["two"] * 10, 1.0),
    ("vqa-three-match-is-0.9", "cat", ["cat"] * 3 + ["dog"] * 7, 0.9),
    ("vqa-two-match-is-0.6", "cat", ["cat"] * 2 + ["dog"] * 8, 0.6),
    ("vqa-one-match-is-0.3", "cat", ["cat"] + ["dog"] * 9, 0.3),
    ("vqa-four-match-is-1", "cat", ["cat"] * 4 + ["dog"] * 6, 1.0),
    ("vqa-no-match", "bird", ["cat"] * 10, 0.0),
    ("vqa-number-word-matches-digit", "2", ["two"] * 3 + ["x"] * 7, 0.9),
]


@pytest.mark.parametrize(
    ("name", "prediction", "answers", "expected"), VQA_CASES, ids=[c[0] for c in VQA_CASES]
)
def test_vqa_accuracy_leave_one_out(name, prediction, answers, expected):
    assert vqa_accuracy(prediction, answers) == pytest.approx(expected)


OCRBENCH_CASES = [
    (
        "ocrbench-substring-case-insensitive",
        "The sign says HELLO World.",
        ["hello world"],
        "Regular Text Recognition",
        1.0,
    ),
    ("ocrbench-any-answer", "it is 42", ["forty-two", "42"], "Scene Text-centric VQA", 1.0),
    ("ocrbench-missing", "it is 41", ["42"], "Doc-oriented VQA", 0.0),
    ("ocrbench-newline-is-space", "hello\nworld", ["hello world"], "Regular Text Recognition", 1.0),
    (
        "ocrbench-hme-spaces-removed",
        "x ^ { 2 } + 1",
        ["x^{2}+1"],
        "Handwritten Mathematical Expression Recognition",
        1.0,
    ),
    ("ocrbench-hme-keeps-case", "X^{2}", ["x^{2}"], "Handwritten Mathematical Expression Recognition", 0.0),
    ("ocrbench-full-width-folded", "ＡＢＣ１２３", ["abc123"], "Key Information Extraction", 1.0),
    ("ocrbench-gold-longer-than-prediction", "hello", ["hello world"], "Regular Text Recognition", 0.0),
]


@pytest.mark.parametrize(
    ("name", "prediction", "answers", "kind", "expected"), OCRBENCH_CASES, ids=[c[0] for c in OCRBENCH_CASES]
)
def test_ocrbench_match_follows_its_eval_script(name, prediction, answers, kind, expected):
    assert ocrbench_match(prediction, answers, kind) == expected


OPTIONS = ["cat", "dog", "bird", "fish"]
CHOICE_CASES = [
    ("mmmu-bracketed-letter", "The answer is (B).", "B"),
    ("mmmu-bare-letter", "B", "B"),
    ("mmmu-letter-with-period", "C.", "C"),
    ("mmmu-letter-then-space", "D is correct", "D"),
    ("mmmu-last-bracket-wins", "(A) looks close but (C) is right", "C"),
    ("mmmu-last-letter-wins", "A is wrong, so B is right", "B"),
    ("mmmu-bracket-beats-bare-letter", "A is tempting; the answer is (D)", "D"),
    ("mmmu-option-text-in-a-long-reply", "In the picture there is clearly a small dog sitting", "B"),
    ("mmmu-option-text-needs-more-than-five-words", "a dog", None),
    ("mmmu-nothing-parses-gives-none-not-random", "I cannot tell from this image.", None),
    ("glmv-letter-inside-a-word-is-not-a-choice", "the JOB is done", None),
    ("glmv-empty-reply", "", None),
]


@pytest.mark.parametrize(("name", "response", "expected"), CHOICE_CASES, ids=[c[0] for c in CHOICE_CASES])
def test_extract_choice_follows_mmmu_deterministically(name, response, expected):
    assert extract_choice(response, OPTIONS) == expected


def test_extract_choice_takes_a_mapping_and_only_its_letters():
    assert extract_choice("(E)", {"A": "x", "B": "y"}) is None
    assert extract_choice("(b)", {"a": "x", "b": "y"}) is None  # letters are upper case, as MMMU's are
    assert extract_choice("B", {"a": "x", "b": "y"}) == "B"


OPEN_CASES = [
    ("mmmu-open-number-with-comma", "The answer is 1,000.", ["1000"], True),
    ("mmmu-open-float-rounded-to-2dp", "so the result is 3.14159", ["3.14"], True),
    ("mmmu-open-string-substring", "Therefore the capital is paris", ["Paris"], True),
    ("mmmu-open-last-line-equals", "x + 1 = 5\nx = 4", ["4"], True),
    ("mmmu-open-wrong-number", "The answer is 12", ["13"], False),
]


@pytest.mark.parametrize(
    ("name", "response", "answers", "expected"), OPEN_CASES, ids=[c[0] for c in OPEN_CASES]
)
def test_mmmu_open_match(name, response, answers, expected):
    assert mmmu_open_match(response, answers) is expected


IOU_CASES = [
    (
        "refcoco-glm-thousandths-vs-pixels-same-box",
        [0, 0, 500, 500],
        "thousandths",
        [0, 0, 100, 50],
        "pixels",
        1.0,
    ),
    ("refcoco-half-overlap", [0, 0, 500, 1000], "thousandths", [0, 0, 200, 100], "pixels", 0.5),
    ("refcoco-disjoint", [0, 0, 100, 100], "thousandths", [150, 50, 200, 100], "pixels", 0.0),
    ("vlmevalkit-inverted-corners-swapped", [500, 500, 0, 0], "thousandths", [0, 0, 100, 50], "pixels", 1.0),
    ("fractions-vs-thousandths", [0, 0, 0.5, 0.5], "fractions", [0, 0, 500, 500], "thousandths", 1.0),
    ("glmv-thousandths-clipped-to-1000", [0, 0, 1200, 1000], "thousandths", [0, 0, 200, 100], "pixels", 1.0),
]


@pytest.mark.parametrize(
    ("name", "box", "space", "gold", "gold_space", "expected"), IOU_CASES, ids=[c[0] for c in IOU_CASES]
)
def test_box_iou_with_declared_spaces(name, box, space, gold, gold_space, expected):
    assert box_iou(box, gold, space=space, other_space=gold_space, image_size=(200, 100)) == pytest.approx(
        expected
    )


def test_thousandths_read_as_pixels_is_the_trap():
    gold = xywh_to_xyxy([20, 10, 80, 40])  # COCO x, y, w, h in pixels of a 200 x 100 image
    glm = [100, 100, 500, 500]  # the same box in GLM thousandths
    assert box_iou(
        glm, gold, space="thousandths", other_space="pixels", image_size=(200, 100)
    ) == pytest.approx(1.0)
    assert box_iou(glm, gold, space="pixels", other_space="pixels") < 0.5


POINT_CASES = [
    ("screenspot-glm-point-inside", [250, 500], [40, 40, 60, 60], True),
    ("screenspot-glm-point-outside", [100, 100], [40, 40, 60, 60], False),
    ("screenspot-edge-counts", [200, 400], [40, 40, 60, 60], True),
    ("screenspot-kits-divide-by-pixels-trap", [50, 50], [40, 40, 60, 60], False),
]


@pytest.mark.parametrize(("name", "point", "box", "expected"), POINT_CASES, ids=[c[0] for c in POINT_CASES])
def test_point_in_box_glm_thousandths_on_pixel_boxes(name, point, box, expected):
    assert (
        point_in_box(point, box, point_space="thousandths", box_space="pixels", image_size=(200, 100))
        is expected
    )


def test_a_space_conversion_without_an_image_size_is_refused():
    with pytest.raises(ConfigError, match="image size"):
        box_iou([0, 0, 1, 1], [0, 0, 1, 1], space="thousandths", other_space="pixels")
    with pytest.raises(ConfigError, match="coordinate space"):
        point_in_box([1, 1], [0, 0, 2, 2], point_space="percent", box_space="pixels")


MATH_CASES = [
    ("reward-fast-path-equal-numbers", "0.5", "0.50", True),
    ("reward-fast-path-fraction-text", "3/4", "0.75", True),
    ("reward-math-verify-latex-fraction", "\\frac{1}{2}", "0.5", True),
    ("reward-different-numbers", "3", "4", False),
    ("reward-empty-prediction", "", "4", False),
]


@pytest.mark.parametrize(
    ("name", "prediction", "answer", "expected"), MATH_CASES, ids=[c[0] for c in MATH_CASES]
)
def test_math_equal_goes_through_the_reward_system(name, prediction, answer, expected):
    assert math_equal(prediction, answer) is expected
