"""Teaching a tiny checkpoint to answer the taught conversations exactly, in GLM format.

The recipe: render each prompt with the checkpoint's own processor (``apply_chat_template``, images as PIL), append
the reply tokens and the stop token, label only the reply (``-100`` on prompt and padding), right-pad the rows
(sorted by length) into one batch with ``pixel_values``, ``image_grid_thw`` and ``mm_token_type_ids`` (zeros over
reply and padding), and run AdamW at a constant learning rate of 1e-3 until, in the training step's own logits,
every reply token beats every other token by at least :data:`MARGIN` logits. Rows of similar length share a
batch (the tool-call prompts are several times longer than the rest); each step sums the gradients of all of
them. Teaching runs torch on one thread. That margin keeps greedy replies
exact after saving in float32 and reloading (and in bfloat16).

:func:`replay` runs greedy ``generate`` on one taught conversation and returns the text; :func:`check_taught`
replays all of them and lists the ones that differ.

Long prompts (an agent's few thousand tokens per step) are taught faster by :mod:`glmv.testing.teach_head`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv.errors import ModelLoadError
from glmv.families import Family, detect_family, get_family
from glmv.testing.conversations import TaughtConversation, taught_conversations

__all__ = ["MARGIN", "TeachResult", "check_taught", "replay", "teach_model"]

MARGIN = 2.0
LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class TeachResult:
    """How teaching went: optimiser steps, seconds, the last loss and the smallest reply-token margin."""

    steps: int
    seconds: float
    loss: float
    margin: float


def prompt_inputs(processor: Any, conv: TaughtConversation) -> dict[str, Any]:
    """The processor's tensors for the prompt of ``conv`` (with the generation prompt)."""
    inputs = processor.apply_chat_template(
        conv.processor_messages(),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        **conv.chat_template_kwargs(),
    )
    inputs.pop("token_type_ids", None)
    return dict(inputs)


def _rows(processor: Any, convs: tuple[TaughtConversation, ...]) -> list[tuple[Any, Any, dict[str, Any]]]:
    """(prompt ids, reply ids + stop id, processor tensors) per conversation, shortest first."""
    import torch

    tokenizer = processor.tokenizer
    rows = []
    for conv in convs:
        inputs = prompt_inputs(processor, conv)
        prompt = inputs["input_ids"][0]
        reply = tokenizer(conv.reply, add_special_tokens=False)["input_ids"]
        reply = torch.tensor([*reply, tokenizer.convert_tokens_to_ids(conv.stop)], dtype=prompt.dtype)
        rows.append((prompt, reply, inputs))
    rows.sort(key=lambda row: len(row[0]) + len(row[1]))
    return rows


def _groups(rows: list[Any], ratio: float = 1.5) -> list[list[Any]]:
    """Rows cut into runs of similar length, so short rows are not padded to the longest one."""
    groups: list[list[Any]] = []
    for row in rows:
        size = len(row[0]) + len(row[1])
        if groups and size <= ratio * (len(groups[-1][0][0]) + len(groups[-1][0][1])):
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _batch(rows: list[Any], pad: int) -> dict[str, Any]:
    """Right-padded tensors of ``rows``: labels only on the reply, ``mm_token_type_ids`` zero past the prompt."""
    import torch

    length = max(len(prompt) + len(reply) for prompt, reply, _ in rows)

    def padded(parts: list[Any], fill: int) -> Any:
        ids = torch.cat(parts)
        return torch.cat([ids, torch.full((length - len(ids),), fill, dtype=ids.dtype)])

    batch: dict[str, Any] = {
        "input_ids": torch.stack([padded([p, r], pad) for p, r, _ in rows]),
        "attention_mask": torch.stack(
            [padded([torch.ones(len(p) + len(r), dtype=torch.long)], 0) for p, r, _ in rows]
        ),
        "labels": torch.stack([padded([torch.full_like(p, -100), r], -100) for p, r, _ in rows]),
        "mm_token_type_ids": torch.stack(
            [padded([i["mm_token_type_ids"][0], torch.zeros_like(r)], 0) for p, r, i in rows]
        ),
    }
    for key in ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw"):
        tensors = [i[key] for _, _, i in rows if key in i]
        if tensors:
            batch[key] = torch.cat(tensors)
    return batch


def teach_model(
    model: Any,
    processor: Any,
    family: str | Family,
    seed: int = 0,
    max_steps: int = 1500,
    conversations: Sequence[TaughtConversation] | None = None,
) -> TeachResult:
    """Train ``model`` in place until greedy decoding reproduces every taught reply: ``conversations``, by
    default the family's :func:`~glmv.testing.taught_conversations`."""
    import torch

    fam = get_family(family)
    convs = taught_conversations(fam) if conversations is None else tuple(conversations)
    if not convs:
        raise ModelLoadError("There is nothing to teach: give at least one conversation.")
    torch.manual_seed(seed)
    pad = processor.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    batches = [_batch(group, pad) for group in _groups(_rows(processor, convs))]
    labels = [batch.pop("labels")[:, 1:] for batch in batches]
    count = sum(int((label != -100).sum()) for label in labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()
    threads = torch.get_num_threads()
    # The matrices are tiny: one thread is as fast on a quiet machine and many times faster on a busy one.
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        for step in range(max_steps):
            total, margin = 0.0, float("inf")
            for batch, label in zip(batches, labels, strict=True):
                mask = label != -100
                safe = label.clamp(min=0)
                logits = model(**batch).logits[:, :-1].float()
                loss = torch.nn.functional.cross_entropy(logits[mask], label[mask], reduction="sum") / count
                with torch.no_grad():
                    target = logits.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
                    rival = logits.scatter(-1, safe.unsqueeze(-1), float("-inf")).max(-1).values
                    margin = min(margin, (target - rival)[mask].min().item())
                loss.backward()
                total += loss.item()
            if margin >= MARGIN:
                return TeachResult(step, time.perf_counter() - start, total, margin)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    finally:
        torch.set_num_threads(threads)
        model.eval()
        model.zero_grad(set_to_none=True)
    raise ModelLoadError(
        f"The tiny {fam.name} model did not learn its taught replies in {max_steps} steps "
        f"(smallest margin {margin:.2f}, loss {total:.4f}); this is a bug in glmv.testing."
    )


def replay(model: Any, processor: Any, conv: TaughtConversation, max_new_tokens: int = 120) -> str:
    """Greedy generation on the taught prompt ``conv``: the raw text, special tokens and stop token included."""
    import torch

    inputs = prompt_inputs(processor, conv)
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens)
    new = out[0, inputs["input_ids"].shape[1] :]
    return processor.tokenizer.decode(new, skip_special_tokens=False)


def check_taught(path: str | Path) -> list[str]:
    """Load the checkpoint at ``path`` (offline) and replay every taught conversation of its family.

    Returns one line per conversation whose greedy reply differs from ``reply + stop``; empty when all match.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    family = detect_family(Path(path))
    processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True).eval()
    import torch

    wrong = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for conv in taught_conversations(family):
            got = replay(model, processor, conv)
            if got != conv.reply + conv.stop:
                wrong.append(f"{conv.name}: expected {conv.reply + conv.stop!r}, got {got!r}")
    finally:
        torch.set_num_threads(threads)
    return wrong
