"""The prefix cache: the KV state of finished requests, reused by new requests that start the same way.

When a row leaves the batch its keys and values (prompt and reply, as far as they were fed) are kept under its
token ids and the content hashes of its images (:func:`~glmv.engine.local_vision.image_keys`), least recently used
out beyond ``budget`` bytes. A new prompt takes the entry it shares the longest prefix with — the next turn of a
conversation, the same system prompt, the same document — and prefills only what follows. A prefix counts only as
far as its images are the same images: the ``<|image|>`` ids of two pictures are the same tokens, so the match is
cut at the first image whose hash differs. At least the prompt's last token is always prefilled (it gives the
first logits). M-RoPE positions depend only on what comes before a token, so a shared prefix has the same
positions in both prompts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["PrefixCache"]


@dataclass(eq=False)
class _Entry:
    ids: list[int]
    keys: tuple[str, ...]
    layers: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: [1, heads, len(ids), head_dim] keys, values

    @property
    def size(self) -> int:
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in self.layers)


class PrefixCache:
    """Finished rows' KV by their tokens and images; ``image_token`` is the checkpoint's ``<|image|>`` id."""

    def __init__(self, budget: int, image_token: int) -> None:
        self.budget = max(0, budget)
        self.image_token = image_token
        self.used = 0
        self.reused_tokens = 0  # prompt tokens taken from the cache instead of prefilled
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.used = 0

    def store(
        self, ids: Sequence[int], keys: Sequence[str], layers: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> None:
        """Keep one row's KV (``layers`` already cut to ``len(ids)`` tokens, owned by the cache from now on)."""
        entry = _Entry(list(ids), tuple(keys), layers)
        if not ids or entry.size > self.budget:
            return
        for key, old in list(self._entries.items()):  # an entry the new one extends adds nothing
            if old.keys == entry.keys[: len(old.keys)] and entry.ids[: len(old.ids)] == old.ids:
                self._drop(key)
        self._entries[id(entry)] = entry
        self.used += entry.size
        while self.used > self.budget:
            self._drop(next(iter(self._entries)))

    def lookup(
        self, ids: Sequence[int], keys: Sequence[str]
    ) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The longest reusable prefix of a prompt: its length and per-layer KV (``0, []`` when there is none)."""
        image = self.image_token
        starts = [i for i, t in enumerate(ids) if t == image and (i == 0 or ids[i - 1] != image)]
        best, best_key = 0, None
        for key, entry in self._entries.items():
            length = min(_shared(entry.ids, ids), len(ids) - 1)
            for number, start in enumerate(starts):  # cut at the first image that is another picture
                if start >= length:
                    break
                if number >= len(entry.keys) or number >= len(keys) or entry.keys[number] != keys[number]:
                    length = start
                    break
            if length > best:
                best, best_key = length, key
        if best_key is None:
            return 0, []
        self._entries.move_to_end(best_key)
        self.reused_tokens += best
        return best, [(k[:, :, :best], v[:, :, :best]) for k, v in self._entries[best_key].layers]

    def _drop(self, key: int) -> None:
        self.used -= self._entries.pop(key).size


def _shared(one: Sequence[int], other: Sequence[int]) -> int:
    """How many leading ids two sequences have in common."""
    for position, (mine, theirs) in enumerate(zip(one, other, strict=False)):
        if mine != theirs:
            return position
    return min(len(one), len(other))
