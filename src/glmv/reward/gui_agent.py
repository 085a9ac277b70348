"""Rule-based rewards for GUI-agent actions: AndroidWorld (mobile), OSWorld (desktop) and WebVoyager (web).

Each datasource has an ``*_extract(response, question=None)`` and a
``*_judge(extracted, ground_truth, question=None, image_file=None)``, the pair the official glmv_reward
file-based verifiers (``scripts/gui_agent/{AndroidWorld,OSWorld,WebVoyager}.py``) define. The ground truth is
a model-style response too and goes through the same ``*_extract`` before it reaches ``*_judge``.

The action grammars live in :mod:`glmv.actions`, shared with the GUI agent: ``*_extract`` reads the box
with :func:`glmv.actions.read_action` (not strict, so what was written is kept for the official rules) and
returns the official dict (AndroidWorld, OSWorld) or text (WebVoyager); ``*_judge`` turns both sides into
typed :class:`~glmv.actions.Action` objects and scores them with :func:`score_android_world`,
:func:`score_osworld` or :func:`score_webvoyager`, which the agent can call on its own parsed actions.

Contract:

- ``*_extract`` never raises. It returns ``None`` unless the response holds exactly one
  ``<|begin_of_box|>…<|end_of_box|>`` span (found by :func:`glmv.output.boxes.extract_boxed`) with a
  parsable action in it.
- ``*_judge`` returns a float in [0, 1]; a missing or unusable prediction scores 0.0. It raises
  :class:`ValueError` only when the **ground truth** is malformed (``None``, an unknown action, a box outside
  0–999, a required parameter missing, …): that is bad data, which the reward pipeline must count apart from
  wrong answers.

The formulas are those of REWARD.md §8 (coordinates in thousandths, 0–999):

- AndroidWorld: key sets must be identical; per key equal → 1, ``text`` → :func:`lcs_ratio`, ``box_2d`` →
  :func:`box_iou` of the single ``[[x1, y1, x2, y2]]`` box (4 ints in 0–999, x1 ≤ x2, y1 ≤ y2, else 0), any
  other differing key → 0; the reward is the product.
- OSWorld: action types must match exactly; clicks score :func:`click_similarity` (note the documented jump
  from 0.8 to 0.6 at a distance of 20), drags the geometric mean of start and end, scrolls
  ``coord × direction × step`` (a missing predicted step counts as 5), typing :func:`text_similarity`, keys a
  case-insensitive match; ``WAIT()`` / ``DONE()`` / ``FAIL()`` / ``finished()`` score 1.
- WebVoyager: the "new" grammar (``CLICK(point=(x, y), …)``, ``TYPE``, ``KEY_PRESS``, ``SCROLL_DOWN`` /
  ``SCROLL_UP``, ``ANSWER(content='…')``) is tried before the set-of-marks grammar the GLM web prompts use
  (``Click [n]``, ``Type [n]; [text]``, ``Key; [name]``, ``Scroll [n|WINDOW]; [up|down]``, ``Wait``,
  ``GoBack``, ``Google``, ``Bing``, ``ANSWER; <content>…</content>``), with the 0.05 / 0.95 partial credits.

Where the official scripts misbehave this module does what they meant:

- exactly one box is required (the pipeline's one-box rule); the official scripts took the first box;
- AndroidWorld's Python-literal fallback is ``ast.literal_eval`` (with ``true`` / ``false`` / ``null``), not
  ``eval``; a ``box_2d`` must hold exactly one box;
- OSWorld reads ``\\'`` inside ``content='…'`` as an escaped quote (the official regex stopped at it, so two
  texts sharing a prefix up to an apostrophe scored 1.0), and parses ``keys`` for ``hotkey`` as well as ``key``;
- a malformed ground truth raises ValueError whatever the prediction (the official scripts asserted, divided by
  zero on a scroll step of 0, or scored every prediction 0);
- WebVoyager gives the 0.05 "same element" credit only when both clicks name an ``element_info``, scores two
  scrolls without a distance as equal distances, and scores 0 when the two sides use different grammars.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from rapidfuzz.distance import LCSseq, Levenshtein

from glmv.actions import Action, ActionParseError, read_action
from glmv.actions.desktop import desktop_kind
from glmv.actions.mobile import mobile_action
from glmv.actions.web import match_web_action
from glmv.output.boxes import extract_boxed

__all__ = [
    "android_world_extract",
    "android_world_judge",
    "box_iou",
    "click_similarity",
    "has_excessive_repetition",
    "lcs_ratio",
    "osworld_extract",
    "osworld_judge",
    "score_android_world",
    "score_osworld",
    "score_webvoyager",
    "text_similarity",
    "webvoyager_extract",
    "webvoyager_judge",
]


# --- building blocks ----------------------------------------------------------------------------------------


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes ``[x1, y1, x2, y2]``; 0.0 when the union has no area."""
    inter_w = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
    inter_h = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def click_similarity(pred: Sequence[float], gt: Sequence[float], tolerance: float = 20.0) -> float:
    """OSWorld's score of a point against the target point, in thousandths.

    With ``d`` the Euclidean distance: ``1 − 0.2·d/tolerance`` while ``d ≤ tolerance`` (so 1.0 down to 0.8),
    then ``max(0, 1 − d/50)`` — a deliberate jump from 0.8 to 0.6 at ``d = 20``, and 0 from ``d = 50``.
    """
    distance = ((pred[0] - gt[0]) ** 2 + (pred[1] - gt[1]) ** 2) ** 0.5
    if distance <= tolerance:
        return 1.0 - (distance / tolerance) * 0.2
    return max(0.0, 1.0 - distance / 50)


def lcs_ratio(a: str, b: str) -> float:
    """Length of the longest common subsequence over the longer length; 1.0 for equal strings."""
    if a == b:
        return 1.0
    return LCSseq.normalized_similarity(a, b)


def has_excessive_repetition(text: str, threshold: float = 0.7) -> bool:
    """True for a text of ≥ 10 characters where one character, or one 2/3/4-gram, covers > ``threshold`` of it.

    Coverage of an n-gram is its (overlapping) count × n / length. N-gram counts that provably cannot reach
    the threshold are not built: an n-gram of two or more distinct characters occurs at most as often as the
    second most frequent character, one of a single repeated character at most (most frequent − n + 1)
    times, and an n-gram at most as often as the most frequent (n−1)-gram.
    """
    length = len(text)
    if length < 10:
        return False
    counts = sorted(Counter(text).values(), reverse=True)
    most = counts[0]
    if most / length > threshold:
        return True
    second = counts[1] if len(counts) > 1 else 0
    bound = most  # an upper bound on the count of any n-gram of the current size
    for size in (2, 3, 4):
        bound = min(bound, max(second, most - size + 1))
        if bound * size / length <= threshold:
            continue  # no n-gram of this size can reach the threshold
        bound = max(Counter(zip(*(text[i:] for i in range(size)), strict=False)).values())
        if bound * size / length > threshold:
            return True
    return False


def _bigrams(text: str) -> set[tuple[str, str]]:
    return set(pairwise(text))


def text_similarity(pred: str, gt: str) -> float:
    """OSWorld's score of typed text, on stripped lower-cased strings (0.0 when either is empty).

    ``(0.6·(1 − Levenshtein/max_len) + 0.4·Jaccard(character bigrams))`` × a length penalty (the min/max
    length ratio when it is below 0.3) × a repetition penalty (0.3 when either text
    :func:`has_excessive_repetition`), clipped to [0, 1].
    """
    a, b = pred.strip().lower(), gt.strip().lower()
    if not a or not b:
        return 0.0
    ratio = min(len(a), len(b)) / max(len(a), len(b))
    length_penalty = ratio if ratio < 0.3 else 1.0
    repetition_penalty = 0.3 if has_excessive_repetition(a) or has_excessive_repetition(b) else 1.0
    edit = Levenshtein.normalized_similarity(a, b)
    grams_a, grams_b = _bigrams(a), _bigrams(b)
    union = len(grams_a | grams_b)
    jaccard = len(grams_a & grams_b) / union if union else 1.0
    score = (0.6 * edit + 0.4 * jaccard) * length_penalty * repetition_penalty
    return min(1.0, max(0.0, score))


def _single_box(response: object) -> str | None:
    """The stripped content of the one box in ``response``; None for no box, several boxes or a non-string."""
    if not isinstance(response, str):
        return None
    boxes = extract_boxed(response)
    if len(boxes) != 1:
        return None
    return boxes[0].strip()


# --- AndroidWorld -------------------------------------------------------------------------------------------


def android_world_extract(response: str, question: str | None = None) -> dict | None:
    """The mobile action dict in the response's box, e.g. ``{"action_type": "click", "box_2d": [[…]]}``.

    The box is read by :mod:`glmv.actions` (dialect ``glm-mobile``, not strict: every key is kept as
    written): leading zeros in the first ``[[a, b, c, d]]`` are dropped, then the text is read as JSON or,
    failing that, as a Python literal (``true`` / ``false`` / ``null`` allowed). None unless that gives a
    dict.
    """
    content = _single_box(response)
    if content is None:
        return None
    try:
        return dict(read_action(content, "glm-mobile", strict=False).arguments)
    except ActionParseError:
        return None


def _valid_box_2d(value: object) -> list[int] | None:
    """The box of a ``[[x1, y1, x2, y2]]`` value: 4 ints in 0–999 with x1 ≤ x2 and y1 ≤ y2, else None."""
    if not isinstance(value, (list, tuple)) or len(value) != 1:
        return None
    box = value[0]
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        return None
    if any(type(v) is not int or not 0 <= v <= 999 for v in box):
        return None
    if box[0] > box[2] or box[1] > box[3]:
        return None
    return list(box)


def _check_android_world_gt(gt: Action) -> None:
    written = gt.arguments
    if "action_type" not in written:
        raise ValueError(
            f"AndroidWorld ground truth must be the action dict android_world_extract() returns, with an "
            f"'action_type'; got {dict(written)!r}. Fix the data row."
        )
    if "box_2d" in written and _valid_box_2d(written["box_2d"]) is None:
        raise ValueError(
            f"AndroidWorld ground truth box_2d must be [[x1, y1, x2, y2]] with ints in 0-999, x1 <= x2 and "
            f"y1 <= y2; got {written['box_2d']!r}. Fix the data row."
        )
    if "text" in written and gt.text is None:
        raise ValueError(
            f"AndroidWorld ground truth text must be a string; got {written['text']!r}. Fix the data row."
        )


def score_android_world(pred: Action | None, gt: Action) -> float:
    """The AndroidWorld score of a predicted mobile action against the ground-truth one.

    Scored on the parameters as written (:attr:`Action.arguments`, as the official verifier does): 0.0
    unless the key sets are identical; per key equal → 1, ``text`` → :func:`lcs_ratio`, ``box_2d`` → IoU
    (4 ints in 0–999, x1 ≤ x2, y1 ≤ y2, else 0), any other difference → 0; the product. Raises ValueError
    for a malformed ground truth.
    """
    _check_android_world_gt(gt)
    if pred is None or pred.arguments.keys() != gt.arguments.keys():
        return 0.0
    reward = 1.0
    for key, gt_value in gt.arguments.items():
        value = pred.arguments[key]
        if value == gt_value:
            continue
        if key == "text":
            reward *= lcs_ratio(pred.text, gt_value) if pred.text is not None else 0.0
        elif key == "box_2d":
            box = _valid_box_2d(value)
            reward *= box_iou(box, gt_value[0]) if box is not None else 0.0
        else:
            return 0.0
        if reward == 0.0:
            return 0.0
    return reward


def android_world_judge(
    extracted: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
) -> float:
    """Product over the ground truth's keys of the per-key scores; 0.0 unless the key sets are identical.

    Both dicts become typed actions (:func:`glmv.actions.mobile.mobile_action`) scored by
    :func:`score_android_world`. Raises ValueError for a malformed ground truth (not an action dict, or an
    invalid ``box_2d`` / ``text``).
    """
    if not isinstance(ground_truth, dict):
        raise ValueError(
            f"AndroidWorld ground truth must be the action dict android_world_extract() returns, with an "
            f"'action_type'; got {ground_truth!r}. Fix the data row."
        )
    gt = mobile_action(ground_truth, strict=False)
    pred = mobile_action(extracted, strict=False) if isinstance(extracted, dict) else None
    return score_android_world(pred, gt)


# --- OSWorld ------------------------------------------------------------------------------------------------

_CLICKS = frozenset({"left_click", "left_double_click", "right_click", "middle_click", "hover"})
_KEYS = frozenset({"key", "hotkey"})
_NO_ARGUMENT = frozenset({"WAIT", "DONE", "FAIL"})


def _osworld_record(action: Action) -> dict[str, Any]:
    """The official extract's dict of a desktop action (only the parameters that parsed)."""
    record: dict[str, Any] = {"action_type": action.name}
    if action.element is not None:
        record["element_info"] = action.element
    if action.kind == "drag":
        if action.point is not None and action.end_point is not None:
            record["start_coordinates"] = list(action.point)
            record["end_coordinates"] = list(action.end_point)
    elif action.point is not None:
        record["coordinates"] = list(action.point)
    if action.direction is not None:
        record["direction"] = action.direction
    if action.steps is not None:
        record["step"] = action.steps
    if action.text is not None:
        record["content"] = action.text
    if "keys" in action.arguments:
        record["keys"] = action.arguments["keys"]
    return record


def osworld_extract(response: str, question: str | None = None) -> dict | None:
    """The desktop action in the response's box as a dict, e.g. ``{"action_type": "left_click",
    "coordinates": [512, 300], "element_info": "OK"}``.

    The box is read by :mod:`glmv.actions` (dialect ``glm-pc``, not strict): it must hold one line
    ``name(...)`` with balanced quotes and brackets, else None. Parameters that do not parse are left out
    (``left_click()`` gives just the type), so the judge scores them 0.
    """
    content = _single_box(response)
    if not content:
        return None
    try:
        return _osworld_record(read_action(content, "glm-pc", strict=False))
    except ActionParseError:
        return None


def _no_argument(action_type: str) -> bool:
    return action_type.upper() in _NO_ARGUMENT or action_type.lower() == "finished"


def _required_osworld_fields(action_type: str) -> tuple[str, ...] | None:
    """The fields an action of this type needs; None for a type OSWorld does not have."""
    if action_type in _CLICKS:
        return ("coordinates",)
    if action_type == "left_drag":
        return ("start_coordinates", "end_coordinates")
    if action_type == "scroll":
        return ("coordinates", "direction")
    if action_type == "type":
        return ("content",)
    if action_type in _KEYS:
        return ("keys",)
    if _no_argument(action_type):
        return ()
    return None


def _is_point(value: object) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )


def _osworld_problem(action: object) -> str | None:
    """What makes ``action`` unusable as an OSWorld action dict; None when it is usable."""
    if not isinstance(action, dict) or not isinstance(action.get("action_type"), str):
        return "it is not an action dict as osworld_extract() returns"
    action_type = action["action_type"]
    required = _required_osworld_fields(action_type)
    if required is None:
        return f"{action_type!r} is not an OSWorld action type"
    for field in required:
        value = action.get(field)
        if not (_is_point(value) if field.endswith("coordinates") else isinstance(value, str)):
            return f"{action_type} needs a valid {field} (did its arguments parse?)"
    if "step" in action and (type(action["step"]) is not int or action["step"] < 0):
        return "a scroll step must be a non-negative int"
    return None


def _osworld_action(record: dict[str, Any]) -> Action:
    """The typed action of a usable OSWorld dict (see :func:`_osworld_problem`): its needed fields only."""
    name = record["action_type"]
    fields: dict[str, Any] = {}
    if name in _CLICKS or name == "scroll":
        fields["point"] = tuple(record["coordinates"])
    if name == "left_drag":
        fields["point"] = tuple(record["start_coordinates"])
        fields["end_point"] = tuple(record["end_coordinates"])
    if name == "scroll":
        fields["direction"] = record["direction"]
        fields["steps"] = record.get("step")
    if name == "type":
        fields["text"] = record["content"]
    arguments = {"keys": record["keys"]} if name in _KEYS else {}
    return Action(kind=desktop_kind(name), name=name, dialect="glm-pc", arguments=arguments, **fields)


def _osworld_action_problem(action: Action) -> str | None:
    """What a typed desktop action lacks for OSWorld scoring; None when it is complete."""
    required = _required_osworld_fields(action.name)
    if required is None:
        return f"{action.name!r} is not an OSWorld action type"
    present = {
        "coordinates": action.point is not None,
        "start_coordinates": action.point is not None,
        "end_coordinates": action.end_point is not None,
        "direction": action.direction is not None,
        "content": action.text is not None,
        "keys": isinstance(action.arguments.get("keys"), str),
    }
    for field in required:
        if not present[field]:
            return f"{action.name} needs a valid {field} (did its arguments parse?)"
    if action.steps is not None and action.steps < 0:
        return "a scroll step must be a non-negative int"
    return None


def score_osworld(pred: Action | None, gt: Action) -> float:
    """The OSWorld score of a predicted desktop action against the ground-truth one (0.0 on a name mismatch).

    Clicks score :func:`click_similarity` of the points, drags the geometric mean of start and end, scrolls
    ``coord × direction × step`` (a missing predicted step counts as 5), typing :func:`text_similarity`,
    keys a case-insensitive match of what was written; ``WAIT`` / ``DONE`` / ``FAIL`` / ``finished`` 1.
    Raises ValueError for a ground truth that lacks what its action needs or has a scroll step of 0.
    """
    problem = _osworld_action_problem(gt)
    if problem is None and gt.steps == 0:
        problem = "a ground-truth scroll step must be positive"
    if problem is not None:
        raise ValueError(f"OSWorld ground truth is malformed: {problem}; got {gt!r}. Fix the data row.")
    if pred is None or _osworld_action_problem(pred) is not None:
        return 0.0
    return _score_complete_osworld(pred, gt)


def _score_complete_osworld(pred: Action, gt: Action) -> float:
    """:func:`score_osworld` of two actions known to be complete (the ground truth's step positive)."""
    if pred.name != gt.name:
        return 0.0
    action_type = gt.name
    if action_type in _CLICKS:
        return click_similarity(pred.point, gt.point)
    if action_type == "left_drag":
        start = click_similarity(pred.point, gt.point)
        end = click_similarity(pred.end_point, gt.end_point)
        return (start * end) ** 0.5
    if action_type == "scroll":
        if pred.direction != gt.direction:
            return 0.0
        step_sim = 1.0
        if gt.steps is not None:
            predicted = 5 if pred.steps is None else pred.steps
            step_sim = max(0.0, 1.0 - abs(predicted - gt.steps) / (gt.steps * 2))
        return click_similarity(pred.point, gt.point) * step_sim
    if action_type == "type":
        return text_similarity(pred.text, gt.text)
    if action_type in _KEYS:
        return 1.0 if pred.arguments["keys"].lower() == gt.arguments["keys"].lower() else 0.0
    return 1.0


def osworld_judge(
    extracted: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
) -> float:
    """The OSWorld score of a predicted desktop action against the ground truth (0.0 on a type mismatch).

    Both dicts become typed actions scored by :func:`score_osworld`. Raises ValueError for a malformed
    ground truth: not an action dict, an unknown action type, missing or unparsed arguments, a scroll step
    that is not a positive int.
    """
    problem = _osworld_problem(ground_truth)
    if problem is None and ground_truth.get("step", 1) == 0:
        problem = "a ground-truth scroll step must be positive"
    if problem is not None:
        raise ValueError(
            f"OSWorld ground truth is malformed: {problem}; got {ground_truth!r}. Fix the data row."
        )
    if _osworld_problem(extracted) is not None or extracted["action_type"] != ground_truth["action_type"]:
        return 0.0
    return _score_complete_osworld(_osworld_action(extracted), _osworld_action(ground_truth))


# --- WebVoyager ---------------------------------------------------------------------------------------------


def _unreadable_distance(action: Action) -> bool:
    """A point-grammar scroll whose written ``distance`` is not a number."""
    return action.distance is None and "distance" in action.arguments


def webvoyager_extract(response: str, question: str | None = None) -> str | None:
    """The stripped action text in the response's box, e.g. ``Click [5]``; None without exactly one box."""
    return _single_box(response)


def _score_point_action(pred: Action, gt: Action) -> float:
    kind = gt.kind
    if kind == "key":
        key, gt_key = pred.arguments["key"].lower(), gt.arguments["key"].lower()
        if key == gt_key:
            return 1.0
        return 0.05 if {key, gt_key} == {"return", "enter"} else 0.0
    if kind == "answer":
        return lcs_ratio(pred.text, gt.text)
    same_point = pred.point == gt.point
    if kind == "click":
        if same_point:
            return 1.0
        return 0.05 if gt.element is not None and pred.element == gt.element else 0.0
    if kind == "type":
        text_sim = lcs_ratio(pred.text, gt.text)
        if same_point:
            return text_sim
        return text_sim * 0.95 if text_sim > 0.05 else 0.05
    # scroll
    if not same_point or pred.direction != gt.direction or _unreadable_distance(pred):
        return 0.0
    distance, gt_distance = pred.distance, gt.distance
    if distance == gt_distance:
        return 1.0
    if distance is None or gt_distance is None:
        return 0.0
    return max(0.0, 1.0 - abs(distance - gt_distance) / max(abs(distance), abs(gt_distance)))


def _score_som_action(pred: Action, gt: Action) -> float:
    kind = gt.kind
    if kind == "click":
        return 1.0 if pred.label == gt.label else 0.0
    if kind == "type":
        return lcs_ratio(pred.text, gt.text) if pred.label == gt.label else 0.0
    if kind == "key":
        return 1.0 if pred.arguments["key"].lower() == gt.arguments["key"].lower() else 0.0
    if kind == "scroll":
        same_label = pred.arguments["label"] == gt.arguments["label"]
        return 1.0 if same_label and pred.direction == gt.direction else 0.0
    if kind == "answer":
        return lcs_ratio(pred.text, gt.text)
    return 1.0


def score_webvoyager(pred: Action | None, gt: Action) -> float:
    """The WebVoyager score of a predicted web action against the ground-truth one.

    0.0 unless both are the same action of the same grammar (dialect ``glm-web-point`` or ``glm-web``, same
    name); then the exact-match rules with their 0.05 / 0.95 partial credits. Raises ValueError for a
    ground truth that is no web action or whose scroll distance is not a number.
    """
    if gt.dialect not in ("glm-web-point", "glm-web"):
        raise ValueError(f"WebVoyager ground truth must be a web action; got {gt!r}. Fix the data row.")
    if _unreadable_distance(gt) or (gt.distance is not None and not math.isfinite(gt.distance)):
        raise ValueError(
            f"WebVoyager ground truth scroll distance is not a number: {gt.raw!r}. Fix the data row."
        )
    if pred is None or (pred.dialect, pred.name) != (gt.dialect, gt.name):
        return 0.0
    if gt.dialect == "glm-web-point":
        return _score_point_action(pred, gt)
    return _score_som_action(pred, gt)


def webvoyager_judge(
    extracted: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
) -> float:
    """The WebVoyager score of a predicted web action against the ground truth (0.0 when the kinds differ).

    Both texts are read by :mod:`glmv.actions` (the point grammar first, then set-of-marks) and scored by
    :func:`score_webvoyager`. Raises ValueError for a malformed ground truth (not a string, no action of
    either grammar, a scroll distance that is not a number).
    """
    gt = match_web_action(ground_truth) if isinstance(ground_truth, str) else None
    if gt is None:
        raise ValueError(
            f"WebVoyager ground truth must be the action text webvoyager_extract() returns, in the new "
            f"(CLICK(point=(x, y)), …) or set-of-marks (Click [n], …) grammar; got {ground_truth!r}. Fix the "
            f"data row."
        )
    pred = match_web_action(extracted) if isinstance(extracted, str) else None
    return score_webvoyager(pred, gt)
