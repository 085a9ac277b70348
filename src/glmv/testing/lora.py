"""A LoRA smoke fine-tune on a tiny checkpoint: proof that a converted dataset trains.

:func:`lora_smoke` takes :class:`TrainingRow` s — the prompt exactly as the chat template renders it (one
``<|image|>`` per image, ending in the generation prompt), the trained reply text (its stop token included) and
the images — and trains LoRA adapters (peft) on the checkpoint with the recipe of :mod:`glmv.testing.teach`: the
processor expands the image placeholders and builds ``pixel_values`` / ``image_grid_thw`` / ``mm_token_type_ids``,
labels are ``-100`` on the prompt, rows are right-padded into one batch, AdamW at a constant learning rate, until
every reply token is the top prediction by ``margin`` logits (or ``max_steps``).
Afterwards each prompt is replayed with greedy ``generate``; the :class:`LoraResult` holds the loss of every
step and the replies generated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LoraResult", "TrainingRow", "lora_smoke"]


@dataclass(frozen=True)
class TrainingRow:
    """One training sample: rendered ``prompt``, trained ``reply`` (stop token included), ``images`` (paths or PIL)."""

    prompt: str
    reply: str
    images: tuple[Any, ...] = ()


@dataclass
class LoraResult:
    """The loss of every optimiser step, the replies greedy decoding gives afterwards, and the seconds taken."""

    losses: list[float] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    margin: float = float("-inf")
    seconds: float = 0.0


def _inputs(processor: Any, row: TrainingRow) -> dict[str, Any]:
    from PIL import Image

    images = [
        image if isinstance(image, Image.Image) else Image.open(image).convert("RGB") for image in row.images
    ]
    inputs = processor(
        text=[row.prompt], images=images or None, return_tensors="pt", return_mm_token_type_ids=True
    )
    inputs.pop("token_type_ids", None)
    return dict(inputs)


def _batch(processor: Any, rows: list[TrainingRow]) -> tuple[dict[str, Any], Any]:
    import torch

    tokenizer = processor.tokenizer
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    encoded = []
    for row in rows:
        inputs = _inputs(processor, row)
        reply = torch.tensor(tokenizer(row.reply, add_special_tokens=False)["input_ids"], dtype=torch.long)
        encoded.append((inputs["input_ids"][0], reply, inputs))
    length = max(len(p) + len(r) for p, r, _ in encoded)

    def padded(parts: list[Any], fill: int) -> Any:
        ids = torch.cat(parts)
        return torch.cat([ids, torch.full((length - len(ids),), fill, dtype=ids.dtype)])

    batch: dict[str, Any] = {
        "input_ids": torch.stack([padded([p, r], pad) for p, r, _ in encoded]),
        "attention_mask": torch.stack(
            [padded([torch.ones(len(p) + len(r), dtype=torch.long)], 0) for p, r, _ in encoded]
        ),
        "mm_token_type_ids": torch.stack(
            [padded([i["mm_token_type_ids"][0], torch.zeros_like(r)], 0) for _, r, i in encoded]
        ),
    }
    labels = torch.stack([padded([torch.full_like(p, -100), r], -100) for p, r, _ in encoded])
    for key in ("pixel_values", "image_grid_thw"):
        tensors = [i[key] for _, _, i in encoded if key in i]
        if tensors:
            batch[key] = torch.cat(tensors)
    return batch, labels[:, 1:]


def lora_smoke(
    checkpoint: str | Path,
    rows: list[TrainingRow],
    *,
    max_steps: int = 200,
    learning_rate: float = 1e-2,
    rank: int = 16,
    margin: float = 1.0,
    seed: int = 0,
) -> LoraResult:
    """Train LoRA adapters on ``checkpoint`` with ``rows`` and replay every prompt (see the module docstring)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(checkpoint, local_files_only=True)
    base = AutoModelForImageTextToText.from_pretrained(checkpoint, local_files_only=True)
    config = LoraConfig(
        r=rank,
        lora_alpha=rank,
        lora_dropout=0.0,
        target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_up_proj|down_proj)",
    )
    model = get_peft_model(base, config)
    batch, labels = _batch(processor, rows)
    mask = labels != -100
    safe = labels.clamp(min=0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    result = LoraResult()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        model.train()
        for _step in range(max_steps):
            logits = model(**batch).logits[:, :-1].float()
            loss = torch.nn.functional.cross_entropy(logits[mask], labels[mask])
            with torch.no_grad():
                target = logits.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
                rival = logits.scatter(-1, safe.unsqueeze(-1), float("-inf")).max(-1).values
                result.margin = (target - rival)[mask].min().item()
            result.losses.append(loss.item())
            if result.margin >= margin:
                break
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        model.eval()
        tokenizer = processor.tokenizer
        with torch.no_grad():
            for row in rows:
                inputs = _inputs(processor, row)
                budget = len(tokenizer(row.reply, add_special_tokens=False)["input_ids"]) + 2
                out = model.generate(**inputs, do_sample=False, max_new_tokens=budget)
                new = out[0, inputs["input_ids"].shape[1] :]
                result.replies.append(tokenizer.decode(new, skip_special_tokens=False))
    finally:
        torch.set_num_threads(threads)
    result.seconds = time.perf_counter() - start
    return result
