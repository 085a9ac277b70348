"""The model calls of the hot path: a prompt made ready, a prefill chunk, a decode step (gpt-fast's three verbs).

They mirror what transformers' GLM-V models do inside ``generate`` (``Glm4vModel.forward``,
``compute_3d_position_ids``; the MoE and GLM-4.6V classes inherit the same code):

- :func:`ready_prompt` embeds the prompt's tokens, runs the model's own vision tower on its images (videos arrive
  folded into one image per temporal step, see ``glmv.engine.local``; images seen before come from the
  :class:`~glmv.engine.local_vision.VisionCache`) and scatters the features onto the ``<|image|>`` tokens, and computes the 3-D M-RoPE positions with the model's ``get_rope_index``; the row's rope
  delta (the highest position + 1 − the prompt length) places every later token;
  a prefix held by the :class:`~glmv.engine.local_prefix.PrefixCache` goes straight into the row's cache;
- :func:`prefill` runs the next chunk of those embeddings through the model into the row's own batch-1
  ``DynamicCache`` (the last chunk returns the last position's logits), so a long prompt goes in pieces between
  decode steps and an image may straddle two pieces;
- :func:`decode_step` feeds every decoding row its latest token at its own position, over the left-padded
  batch cache of :class:`~glmv.engine.local_kv.BatchKV` (or the preallocated
  :class:`~glmv.engine.local_static.StaticKV` of the GPU path), and returns ``[rows, vocab]`` logits.

Positions are always passed explicitly, so the model's shared ``rope_deltas`` attribute is never read or written:
rows with different images decode side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from glmv.engine.local_kv import BatchKV
from glmv.engine.local_prefix import PrefixCache
from glmv.engine.local_static import StaticKV
from glmv.engine.local_vision import VisionCache

__all__ = ["Prompt", "decode_step", "prefill", "ready_prompt"]


@dataclass(eq=False)
class Prompt:
    """One prompt being prefilled: its embeddings, M-RoPE positions, rope delta, cache and how far it got."""

    ids: list[int]
    embeds: torch.Tensor  # [1, length, hidden]
    positions: torch.Tensor  # [3, 1, length]
    delta: int
    cache: Any
    keys: tuple[str, ...] = ()  # content hashes of its images
    done: int = 0

    @property
    def length(self) -> int:
        return len(self.ids)

    @property
    def left(self) -> int:
        return self.length - self.done


def ready_prompt(
    model: Any,
    inputs: Mapping[str, torch.Tensor],
    vision: VisionCache,
    keys: Sequence[str] = (),
    prefixes: PrefixCache | None = None,
) -> Prompt:
    """Embeddings (vision features in place) and M-RoPE positions of one processor row (batch 1); ``keys``
    name its images in the vision cache (:func:`~glmv.engine.local_vision.image_keys`). A prefix found in
    ``prefixes`` is put in the row's cache and counts as prefilled."""
    from transformers import DynamicCache

    device = model.device
    ids = inputs["input_ids"].to(device)
    embeds = model.get_input_embeddings()(ids)
    if "pixel_values" in inputs:
        grid = inputs["image_grid_thw"]
        features = vision.features(model, inputs["pixel_values"], grid, keys)
        features = features.to(embeds.device, embeds.dtype)
        grid = grid.to(device)
        where = (ids == model.config.image_token_id).unsqueeze(-1).to(embeds.device)
        embeds = embeds.masked_scatter(where, features)
        positions, delta = model.model.get_rope_index(
            ids, inputs["mm_token_type_ids"].to(device), image_grid_thw=grid
        )
        delta = int(delta.item())
    else:
        positions = torch.arange(ids.shape[1], device=device).view(1, 1, -1).expand(3, 1, -1)
        delta = 0
    cache = DynamicCache(config=model.config.get_text_config())
    prompt = Prompt(ids[0].tolist(), embeds, positions, delta, cache, keys=tuple(keys))
    if prefixes is not None:
        prompt.done, layers = prefixes.lookup(prompt.ids, prompt.keys)
        for number, (k, v) in enumerate(layers):
            cache.update(k, v, number)
    return prompt


def prefill(model: Any, prompt: Prompt, size: int) -> torch.Tensor | None:
    """Run the next ``size`` prompt tokens; the ``[vocab]`` logits of the last one once the prompt is all in."""
    start, end = prompt.done, min(prompt.done + size, prompt.length)
    out = model(
        inputs_embeds=prompt.embeds[:, start:end],
        position_ids=prompt.positions[:, :, start:end],
        attention_mask=torch.ones(1, end, dtype=torch.long, device=prompt.embeds.device),
        cache=prompt.cache,
        use_cache=True,
        logits_to_keep=1,
    )
    prompt.done = end
    if end < prompt.length:
        return None
    prompt.embeds = prompt.positions = None  # no longer needed; the cache holds the prompt now
    return out.logits[0, -1]


def decode_step(
    model: Any, kv: BatchKV | StaticKV, tokens: Sequence[int], positions: Sequence[int]
) -> torch.Tensor:
    """One token for every row of ``kv``: feed ``tokens`` at ``positions``; the ``[rows, vocab]`` logits.
    A :class:`~glmv.engine.local_static.StaticKV` runs its own (bucketed, maybe compiled) step."""
    if isinstance(kv, StaticKV):
        return kv.decode(tokens, positions)
    device = kv.cache.layers[0].keys.device
    ids = torch.tensor(tokens, device=device).view(-1, 1)
    where = torch.tensor(positions, device=device).view(1, -1, 1).expand(3, -1, -1)
    out = model(input_ids=ids, position_ids=where, attention_mask=kv.grow(), cache=kv.cache, use_cache=True)
    return out.logits[:, -1]
