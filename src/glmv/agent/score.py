"""Scoring a recorded run with the reward system's GUI verifiers: :func:`score_trajectory`.

The platform picks the verifier (mobile → ``AndroidWorld``, desktop → ``OSWorld``, web → ``WebVoyager``, REWARD.md
§8), run through :class:`glmv.reward.RewardSystem` exactly as in training. Each step's response is written again by
:func:`glmv.output.render_reply` in the verifiers' format (``<think>`` first, exactly one box): the recorded
reasoning and visible text, or the action as written put in one box when the reply had none. Ground truths come
from a file: JSONL of ``{"step": N, "gt_answer": …}`` (``ground_truth`` / ``action`` are accepted too), JSONL of
plain strings (one per step, in order), or a JSON list of either. A ground truth without box markers is taken as
the action itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv.agent.record import load_trajectory
from glmv.errors import ConfigError
from glmv.output import parse_reply, render_reply
from glmv.output.boxes import BOX_BEGIN, BOX_END, count_box_markers

__all__ = ["VERIFIER_OF_PLATFORM", "StepScore", "read_ground_truths", "score_trajectory"]

VERIFIER_OF_PLATFORM = {"mobile": "AndroidWorld", "desktop": "OSWorld", "web": "WebVoyager"}


@dataclass(frozen=True)
class StepScore:
    """One step's reward in [0, 1] and the verifier's reason."""

    step: int
    reward: float
    reason: str
    error: str | None = None


def _truth_of(item: Any, number: int) -> tuple[int, str]:
    if isinstance(item, str):
        return number, item
    if isinstance(item, dict):
        truth = item.get("gt_answer", item.get("ground_truth", item.get("action")))
        step = item.get("step", number)
        if isinstance(truth, str) and isinstance(step, int):
            return step, truth
    raise ConfigError(
        f"Ground truth {number} is neither a string nor {{'step': N, 'gt_answer': TEXT}}: {item!r:.120}"
    )


def read_ground_truths(path: str | Path) -> dict[int, str]:
    """Step number → ground-truth text, from a JSONL or JSON file (see the module docstring)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{file} does not exist; --gt takes a JSONL or JSON file of ground truths.")
    text = file.read_text(encoding="utf-8")
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            items = [items]
    except ValueError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise ConfigError(f"{file} is neither JSON nor JSONL: {exc}") from exc
    return dict(_truth_of(item, number) for number, item in enumerate(items, 1))


def _boxed(text: str) -> str:
    return text if count_box_markers(text) != (0, 0) else f"{BOX_BEGIN}{text}{BOX_END}"


def _response(step: dict[str, Any], family: str) -> str:
    """The step's reply in the verifiers' format: its reasoning in ``<think>`` (empty when the model did not
    think) and its visible text with the one box (the action as written put in one when the reply had none)."""
    content = parse_reply(step.get("raw") or "", keep_box_markers=True, fence_html=False).content
    if count_box_markers(content) != (1, 1):
        content = _boxed((step.get("action") or {}).get("raw") or content)
    return render_reply(reasoning=step.get("reasoning") or "", content=content, family=family, thinking=True)


def score_trajectory(folder: str | Path, ground_truths: str | Path | dict[int, str]) -> list[StepScore]:
    """The reward of each recorded step that has a ground truth, in step order."""
    from glmv.reward import RewardSystem

    trajectory = load_trajectory(folder)
    truths = ground_truths if isinstance(ground_truths, dict) else read_ground_truths(ground_truths)
    platform = trajectory.header.get("platform")
    if platform not in VERIFIER_OF_PLATFORM:
        raise ConfigError(f"The record's platform {platform!r} has no GUI verifier.")
    source = VERIFIER_OF_PLATFORM[platform]
    family = trajectory.header.get("family") or "glm-4.6v"
    config = {
        "answer_format": "auto",
        "datasource_reward_config_mapping": {source: "gui"},
        "reward_configs": {"gui": {"verifier_type": source}},
    }
    steps = [step for step in trajectory.steps if step.get("step") in truths]
    items = [
        {"answer": _response(step, family), "gt_answer": _boxed(truths[step["step"]]), "datasource": source}
        for step in steps
    ]
    system = RewardSystem(config)
    try:
        results = system.score(items) if items else []
    finally:
        system.close()
    return [
        StepScore(step["step"], float(result.reward), str(result.reason), result.error)
        for step, result in zip(steps, results, strict=True)
    ]
