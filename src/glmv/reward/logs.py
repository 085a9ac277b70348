"""The JSONL reward logs, written as the official glmv_reward writes them.

Under ``<dir>/<datasource>/`` each item is appended to ``rollout_reward_pass@k.jsonl`` when any reward of its
group is above 0.75 (else ``rollout_reward_not_pass@k.jsonl``), and to ``rollout_reward_correct.jsonl`` when its
own reward is above 0 (else ``rollout_reward_incorrect.jsonl``), with the official record keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_reward_logs"]


def write_reward_logs(
    directory: str | Path,
    datasource: str,
    *,
    prompts: Sequence[Any],
    image_files: Sequence[Any],
    answers: Sequence[Any],
    gt_answers: Sequence[Any],
    rewards: Sequence[float],
    answer_lengths: Sequence[Any],
    uuids: Sequence[Any],
    current_iteration: int = 0,
) -> Path:
    """Append one group's records; returns the datasource folder."""
    folder = Path(directory) / datasource
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(rewards)
    status = "pass@k" if any(r > 0.75 for r in rewards) else "not_pass@k"
    rows = list(zip(prompts, image_files, answers, gt_answers, rewards, answer_lengths, uuids, strict=True))
    with open(folder / f"rollout_reward_{status}.jsonl", "a", encoding="utf-8") as f:
        for prompt, image_file, answer, gt_answer, reward, length, uuid in rows:
            record = {
                "current_iteration": current_iteration,
                "prompt": prompt,
                "image_file": image_file,
                "answer": answer,
                "gt_answer": gt_answer,
                "reward": reward,
                "answer_token_length": length,
                "reward_sum_of_this_prompt": total,
                "uuid": uuid,
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    for prompt, image_file, answer, gt_answer, reward, length, uuid in rows:
        name = "correct" if reward > 0 else "incorrect"
        record = {
            "current_iteration": current_iteration,
            "prompt": prompt,
            "image_file": image_file,
            "answer": answer,
            "answer_token_length": length,
            "gt_answer": gt_answer,
            "reward": reward,
            "reward_sum_of_this_prompt": total,
            "uuid": uuid,
        }
        with open(folder / f"rollout_reward_{name}.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder
