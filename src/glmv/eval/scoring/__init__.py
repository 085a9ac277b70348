"""Scorers of the benchmarks GLM-V reports, one public function per rule, usable without the runner.

Text answers (:mod:`.text`): :func:`anls` (DocVQA / InfoVQA), :func:`relaxed_accuracy` (ChartQA),
:func:`vqa_accuracy` (TextVQA / VQAv2), :func:`ocrbench_match` (OCRBench). Choices (:mod:`.choice`):
:func:`extract_choice` (MMMU's rules, deterministic) and :func:`mmmu_open_match`. Geometry (:mod:`.geometry`):
:func:`box_iou` and :func:`point_in_box`, each argument with its coordinate space named. Math (:mod:`.math`):
:func:`math_equal` through the reward system's math verifier. Where published implementations disagree, each
docstring says which one is followed and why.
"""

from glmv.eval.scoring.choice import extract_choice, mmmu_open_match
from glmv.eval.scoring.geometry import CoordinateSpace, box_iou, point_in_box, to_pixels, xywh_to_xyxy
from glmv.eval.scoring.math import math_equal
from glmv.eval.scoring.text import anls, normalize_vqa_answer, ocrbench_match, relaxed_accuracy, vqa_accuracy

__all__ = [
    "CoordinateSpace",
    "anls",
    "box_iou",
    "extract_choice",
    "math_equal",
    "mmmu_open_match",
    "normalize_vqa_answer",
    "ocrbench_match",
    "point_in_box",
    "relaxed_accuracy",
    "to_pixels",
    "vqa_accuracy",
    "xywh_to_xyxy",
]
