"""Rule-based rewards for GUI-agent actions: AndroidWorld (mobile), OSWorld (desktop) and WebVoyager (web).

Each datasource has an ``*_extract(response, question=None)`` and a
``*_judge(extracted, ground_truth, question=None, image_file=None)``, the pair the official glmv_reward
file-based verifiers (``scripts/gui_agent/{AndroidWorld,OSWorld,WebVoyager}.py``) define. The ground truth is
a model-style response too and goes through the same ``*_extract`` before it reaches ``*_judge``.

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

import ast
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from rapidfuzz.distance import LCSseq, Levenshtein

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

_FIRST_BOX_2D = re.compile(r"\[\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]\]")
_JSON_CONSTANTS = {"true": True, "false": False, "null": None}
_JSON_WORDS = {"True": "true", "False": "false", "None": "null"}
# a double-quoted string (kept), a single-quoted string (group 1) or a Python constant (group 2)
_PYTHON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'((?:[^\'\\]|\\.)*)\'|\b(True|False|None)\b', re.DOTALL)
_ESCAPE_OR_QUOTE = re.compile(r'\\.|"', re.DOTALL)
_MAX_LITERAL_CHARS = 20_000


class _JsonConstants(ast.NodeTransformer):
    """Turns the names ``true`` / ``false`` / ``null`` into constants so ``ast.literal_eval`` accepts them."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in _JSON_CONSTANTS:
            return ast.copy_location(ast.Constant(_JSON_CONSTANTS[node.id]), node)
        return node


def _strip_leading_zeros(match: re.Match[str]) -> str:
    return "[[" + ",".join(str(int(group)) for group in match.groups()) + "]]"


def _json_escape(match: re.Match[str]) -> str:
    token = match[0]
    return '\\"' if token == '"' else "'" if token == "\\'" else token


def _python_token_as_json(match: re.Match[str]) -> str:
    if match[2] is not None:
        return _JSON_WORDS[match[2]]
    if match[1] is None:
        return match[0]
    return '"' + _ESCAPE_OR_QUOTE.sub(_json_escape, match[1]) + '"'


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a Python literal")


def _python_literal(text: str) -> Any:
    """``text`` read as a Python literal, ``true`` / ``false`` / ``null`` allowed; None when it is not one.

    The common case (single-quoted strings, ``True`` / ``False`` / ``None``) is rewritten to JSON and read by
    ``json.loads``, ten times faster than ``ast``; anything JSON cannot hold goes through ``ast.literal_eval``.
    """
    if len(text) > _MAX_LITERAL_CHARS:
        return None
    try:
        if "\\/" in text:  # JSON reads \/ as /, Python keeps the backslash
            raise ValueError("not JSON-compatible")
        return json.loads(_PYTHON_TOKEN.sub(_python_token_as_json, text), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(_JsonConstants().visit(ast.parse(text, mode="eval")))
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return None


def android_world_extract(response: str, question: str | None = None) -> dict | None:
    """The mobile action dict in the response's box, e.g. ``{"action_type": "click", "box_2d": [[…]]}``.

    Leading zeros in the first ``[[a, b, c, d]]`` are dropped, then the text is read as JSON or, failing that,
    as a Python literal (``true`` / ``false`` / ``null`` allowed). None unless that gives a dict.
    """
    content = _single_box(response)
    if content is None:
        return None
    content = _FIRST_BOX_2D.sub(_strip_leading_zeros, content, count=1)
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        value = _python_literal(content)
    return value if isinstance(value, dict) else None


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


def _check_android_world_gt(gt: object) -> dict:
    if not isinstance(gt, dict) or "action_type" not in gt:
        raise ValueError(
            f"AndroidWorld ground truth must be the action dict android_world_extract() returns, with an "
            f"'action_type'; got {gt!r}. Fix the data row."
        )
    if "box_2d" in gt and _valid_box_2d(gt["box_2d"]) is None:
        raise ValueError(
            f"AndroidWorld ground truth box_2d must be [[x1, y1, x2, y2]] with ints in 0-999, x1 <= x2 and "
            f"y1 <= y2; got {gt['box_2d']!r}. Fix the data row."
        )
    if "text" in gt and not isinstance(gt["text"], str):
        raise ValueError(
            f"AndroidWorld ground truth text must be a string; got {gt['text']!r}. Fix the data row."
        )
    return gt


def android_world_judge(
    extracted: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
) -> float:
    """Product over the ground truth's keys of the per-key scores; 0.0 unless the key sets are identical.

    Raises ValueError for a malformed ground truth (not an action dict, or an invalid ``box_2d`` / ``text``).
    """
    gt = _check_android_world_gt(ground_truth)
    if not isinstance(extracted, dict) or extracted.keys() != gt.keys():
        return 0.0
    reward = 1.0
    for key, gt_value in gt.items():
        value = extracted[key]
        if value == gt_value:
            continue
        if key == "text":
            reward *= lcs_ratio(value, gt_value) if isinstance(value, str) else 0.0
        elif key == "box_2d":
            box = _valid_box_2d(value)
            reward *= box_iou(box, gt_value[0]) if box is not None else 0.0
        else:
            return 0.0
        if reward == 0.0:
            return 0.0
    return reward


# --- OSWorld ------------------------------------------------------------------------------------------------

_CLICKS = frozenset({"left_click", "left_double_click", "right_click", "middle_click", "hover"})
_KEYS = frozenset({"key", "hotkey"})
_NO_ARGUMENT = frozenset({"WAIT", "DONE", "FAIL"})
_OS_NAME = re.compile(r"(\w+)\(")
_OS_ELEMENT = re.compile(r"element_info='(.*?)'")
_OS_START = re.compile(r"start_box='\[(\d+),\s*(\d+)\]'")
_OS_END = re.compile(r"end_box='\[(\d+),\s*(\d+)\]'")
_OS_DIRECTION = re.compile(r"direction='(\w+)'")
_OS_STEP = re.compile(r"step=(\d+)")
_OS_CONTENT = re.compile(r"content='((?:\\.|[^'\\])*)'")
_OS_KEYS_ARG = re.compile(r"keys='(.*?)'")
_NOT_BRACKET = re.compile(r"[^\[\]]+")


def _properly_closed(text: str) -> bool:
    """Unescaped single quotes come in pairs and square brackets balance (the official gate)."""
    if (text.count("'") - text.count("\\'")) % 2:
        return False
    opens = text.count("[")
    if opens != text.count("]"):
        return False
    if opens <= 1:  # the common cases: no brackets, or one pair that must open before it closes
        return opens == 0 or text.index("[") < text.index("]")
    depth = 0
    for char in _NOT_BRACKET.sub("", text):
        depth += 1 if char == "[" else -1
        if depth < 0:
            return False
    return True


def _point(pattern: re.Pattern[str], params: str) -> list[int] | None:
    match = pattern.search(params)
    return [int(match[1]), int(match[2])] if match else None


def osworld_extract(response: str, question: str | None = None) -> dict | None:
    """The desktop action in the response's box as a dict, e.g. ``{"action_type": "left_click",
    "coordinates": [512, 300], "element_info": "OK"}``.

    The box must hold one line ``name(...)`` with balanced quotes and brackets, else None. Parameters that do
    not parse are left out (``left_click()`` gives just the type), so the judge scores them 0.
    """
    content = _single_box(response)
    if not content or "\n" in content or not _properly_closed(content):
        return None
    name = _OS_NAME.match(content)
    if name is None:
        return None
    action_type = name[1]
    params = content[name.end() : -1] if content.endswith(")") else ""
    result: dict[str, Any] = {"action_type": action_type}
    element = _OS_ELEMENT.search(params)
    if element:
        result["element_info"] = element[1]
    if action_type in _CLICKS:
        start = _point(_OS_START, params)
        if start:
            result["coordinates"] = start
    elif action_type == "left_drag":
        start, end = _point(_OS_START, params), _point(_OS_END, params)
        if start and end:
            result["start_coordinates"] = start
            result["end_coordinates"] = end
    elif action_type == "scroll":
        start, direction = _point(_OS_START, params), _OS_DIRECTION.search(params)
        if start and direction:
            result["coordinates"] = start
            result["direction"] = direction[1]
            step = _OS_STEP.search(params)
            if step:
                result["step"] = int(step[1])
    elif action_type == "type":
        typed = _OS_CONTENT.search(params)
        if typed:
            result["content"] = typed[1].replace("\\'", "'")
    elif action_type in _KEYS:
        keys = _OS_KEYS_ARG.search(params)
        if keys:
            result["keys"] = keys[1]
    return result


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


def osworld_judge(
    extracted: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
) -> float:
    """The OSWorld score of a predicted desktop action against the ground truth (0.0 on a type mismatch).

    Raises ValueError for a malformed ground truth: not an action dict, an unknown action type, missing or
    unparsed arguments, a scroll step that is not a positive int.
    """
    problem = _osworld_problem(ground_truth)
    if problem is None and ground_truth.get("step", 1) == 0:
        problem = "a ground-truth scroll step must be positive"
    if problem is not None:
        raise ValueError(
            f"OSWorld ground truth is malformed: {problem}; got {ground_truth!r}. Fix the data row."
        )
    gt = ground_truth
    action_type = gt["action_type"]
    if _osworld_problem(extracted) is not None or extracted["action_type"] != action_type:
        return 0.0
    if action_type in _CLICKS:
        return click_similarity(extracted["coordinates"], gt["coordinates"])
    if action_type == "left_drag":
        start = click_similarity(extracted["start_coordinates"], gt["start_coordinates"])
        end = click_similarity(extracted["end_coordinates"], gt["end_coordinates"])
        return (start * end) ** 0.5
    if action_type == "scroll":
        if extracted["direction"] != gt["direction"]:
            return 0.0
        step_sim = 1.0
        if "step" in gt:
            step_sim = max(0.0, 1.0 - abs(extracted.get("step", 5) - gt["step"]) / (gt["step"] * 2))
        return click_similarity(extracted["coordinates"], gt["coordinates"]) * step_sim
    if action_type == "type":
        return text_similarity(extracted["content"], gt["content"])
    if action_type in _KEYS:
        return 1.0 if extracted["keys"].lower() == gt["keys"].lower() else 0.0
    return 1.0


# --- WebVoyager ---------------------------------------------------------------------------------------------

_POINT = r"point=\((\d+),\s*(\d+)\)"
_BOX = r"(?:,\s*box=\[\[([^\]]+)\]\])?"
_ELEMENT = r"(?:,\s*element_info='([^']*)')?"
_WV_CLICK = re.compile(rf"CLICK\({_POINT}{_BOX}{_ELEMENT}\)")
_WV_TYPE = re.compile(rf"TYPE\({_POINT}(?:,\s*text='([^']*)')?{_BOX}{_ELEMENT}\)")
_WV_KEY = re.compile(r"KEY_PRESS\(key='([^']*)'\)")
_WV_SCROLL = re.compile(rf"SCROLL_(DOWN|UP)\({_POINT}{_BOX}(?:,\s*distance=([^,\)]+))?{_ELEMENT}\)")
_WV_ANSWER = re.compile(r"ANSWER\(content='([^']*)'\)")
_SOM_CLICK = re.compile(r"Click \[?(\d+)\]?")
_SOM_TYPE = re.compile(r"Type \[?(\d+)\]?[; ]+\[?(.[^\]]*)\]?", re.DOTALL)
_SOM_KEY = re.compile(r"Key[; ]+\[?(.[^\]]*)\]?", re.DOTALL)
_SOM_SCROLL = re.compile(r"Scroll \[?(\d+|WINDOW)\]?[; ]+\[?(up|down)\]?")
_SOM_BARE = (("wait", "Wait"), ("goback", "GoBack"), ("google", "Google"), ("bing", "Bing"))
_SOM_ANSWER = re.compile(r"ANSWER[; ]+<content>(.*?)</content>", re.DOTALL)

# (grammar, kind, fields): grammar "new" (points) or "som" (set-of-marks labels)
_WebAction = tuple[str, str, dict[str, Any]]


def _parse_new_web_action(text: str) -> _WebAction | None:
    if match := _WV_CLICK.search(text):
        return "new", "click", {"point": (int(match[1]), int(match[2])), "element_info": match[4]}
    if match := _WV_TYPE.search(text):
        fields = {"point": (int(match[1]), int(match[2])), "text": match[3] or "", "element_info": match[5]}
        return "new", "type", fields
    if match := _WV_KEY.search(text):
        return "new", "key", {"key": match[1]}
    if match := _WV_SCROLL.search(text):
        fields = {
            "point": (int(match[2]), int(match[3])),
            "direction": match[1].lower(),
            "distance": match[5],
        }
        return "new", "scroll", fields
    if match := _WV_ANSWER.search(text):
        return "new", "answer", {"content": match[1]}
    return None


def _parse_som_web_action(text: str) -> _WebAction | None:
    if match := _SOM_CLICK.search(text):
        return "som", "click", {"label": int(match[1])}
    if match := _SOM_TYPE.search(text):
        return "som", "type", {"label": int(match[1]), "text": match[2]}
    if match := _SOM_KEY.search(text):
        return "som", "key", {"key": match[1]}
    if match := _SOM_SCROLL.search(text):
        return "som", "scroll", {"label": match[1], "direction": match[2]}
    for kind, word in _SOM_BARE:
        if text.startswith(word):
            return "som", kind, {}
    if match := _SOM_ANSWER.search(text):
        return "som", "answer", {"content": match[1]}
    return None


def _parse_web_action(text: str) -> _WebAction | None:
    return _parse_new_web_action(text) or _parse_som_web_action(text)


def _distance(raw: str | None) -> float | None:
    """A scroll distance as a float; None when absent; raises ValueError when it is not a number."""
    return None if raw is None else float(raw)


def _check_webvoyager_gt(gt: object) -> _WebAction:
    action = _parse_web_action(gt) if isinstance(gt, str) else None
    if action is None:
        raise ValueError(
            f"WebVoyager ground truth must be the action text webvoyager_extract() returns, in the new "
            f"(CLICK(point=(x, y)), …) or set-of-marks (Click [n], …) grammar; got {gt!r}. Fix the data row."
        )
    if action[1] == "scroll" and action[0] == "new":
        try:
            distance = _distance(action[2]["distance"])
        except ValueError:
            distance = math.nan
        if distance is not None and not math.isfinite(distance):
            raise ValueError(
                f"WebVoyager ground truth scroll distance is not a number: {gt!r}. Fix the data row."
            )
    return action


def webvoyager_extract(response: str, question: str | None = None) -> str | None:
    """The stripped action text in the response's box, e.g. ``Click [5]``; None without exactly one box."""
    return _single_box(response)


def _score_new_web_action(kind: str, pred: dict[str, Any], gt: dict[str, Any]) -> float:
    if kind == "key":
        key, gt_key = pred["key"].lower(), gt["key"].lower()
        if key == gt_key:
            return 1.0
        return 0.05 if {key, gt_key} == {"return", "enter"} else 0.0
    if kind == "answer":
        return lcs_ratio(pred["content"], gt["content"])
    same_point = pred["point"] == gt["point"]
    if kind == "click":
        if same_point:
            return 1.0
        same_element = gt["element_info"] is not None and pred["element_info"] == gt["element_info"]
        return 0.05 if same_element else 0.0
    if kind == "type":
        text_sim = lcs_ratio(pred["text"], gt["text"])
        if same_point:
            return text_sim
        return text_sim * 0.95 if text_sim > 0.05 else 0.05
    # scroll
    if not same_point or pred["direction"] != gt["direction"]:
        return 0.0
    gt_distance = _distance(gt["distance"])
    try:
        distance = _distance(pred["distance"])
    except ValueError:
        return 0.0
    if distance == gt_distance:
        return 1.0
    if distance is None or gt_distance is None:
        return 0.0
    return max(0.0, 1.0 - abs(distance - gt_distance) / max(abs(distance), abs(gt_distance)))


def _score_som_web_action(kind: str, pred: dict[str, Any], gt: dict[str, Any]) -> float:
    if kind == "click":
        return 1.0 if pred["label"] == gt["label"] else 0.0
    if kind == "type":
        return lcs_ratio(pred["text"], gt["text"]) if pred["label"] == gt["label"] else 0.0
    if kind == "key":
        return 1.0 if pred["key"].lower() == gt["key"].lower() else 0.0
    if kind == "scroll":
        return 1.0 if pred["label"] == gt["label"] and pred["direction"] == gt["direction"] else 0.0
    if kind == "answer":
        return lcs_ratio(pred["content"], gt["content"])
    return 1.0


def webvoyager_judge(
    extracted: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
) -> float:
    """The WebVoyager score of a predicted web action against the ground truth (0.0 when the kinds differ).

    Raises ValueError for a malformed ground truth (not a string, no action of either grammar, a scroll
    distance that is not a number).
    """
    grammar, kind, gt = _check_webvoyager_gt(ground_truth)
    pred = _parse_web_action(extracted) if isinstance(extracted, str) else None
    if pred is None or pred[0] != grammar or pred[1] != kind:
        return 0.0
    if grammar == "new":
        return _score_new_web_action(kind, pred[2], gt)
    return _score_som_web_action(kind, pred[2], gt)
