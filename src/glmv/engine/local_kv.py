"""The KV cache of the rows that decode together: one left-padded transformers ``DynamicCache`` and its mask.

Decision: **left-padded batched KV with an attention mask** rather than one cache per row. A decode step is then
one forward over ``[rows, 1]`` tokens, the model's own attention (SDPA or flash) reads one ``[rows, heads, T,
head_dim]`` tensor per layer, and nothing in transformers needs patching. The price is paid only when the batch
changes, never per step:

- :meth:`BatchKV.join` adds a prefilled row (a batch-1 cache, repeated for ``n`` choices): the shorter side is
  left-padded with zeros to the longer length and the two are concatenated along the batch (the mask marks the
  padding 0);
- :meth:`BatchKV.keep` drops the rows that finished or were cancelled (their slots are free at once) and cuts the
  leading columns that are padding in every remaining row, so a long row that left does not keep its length;
- while no row is padded there is no mask at all (see :class:`BatchKV`).

Positions are not read from the cache: each row carries its own next M-RoPE position (its length plus its rope
delta), so padding never shifts a row's rotary angles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["BatchKV"]


class BatchKV:
    """The decode batch's cache (``cache``, a ``DynamicCache``) and its ``[rows, T]`` attention :attr:`mask`.

    While no row is padded (one row, or rows of one length) no mask is kept at all and a decode step passes none,
    so the model takes its plain causal path, as ``generate`` does for a single row.
    """

    def __init__(self) -> None:
        self.cache: Any = None
        self.rows = 0
        self.length = 0
        self._mask: torch.Tensor | None = None  # None: no padding anywhere

    @property
    def mask(self) -> torch.Tensor:
        """``[rows, length]``: 1 where a row has a token, 0 on its left padding."""
        if self._mask is not None:
            return self._mask
        device = self.cache.layers[0].keys.device
        return torch.ones(self.rows, self.length, dtype=torch.long, device=device)

    def join(self, cache: Any, length: int, copies: int = 1) -> None:
        """Add a batch-1 ``cache`` of ``length`` tokens as ``copies`` new rows at the end of the batch."""
        if copies > 1:
            cache.batch_repeat_interleave(copies)
        if self.cache is None:
            self.cache, self.rows, self.length = cache, copies, length
            return
        if self._mask is not None or length != self.length:
            width = max(self.length, length)
            ones = torch.ones(copies, length, dtype=torch.long, device=cache.layers[0].keys.device)
            self._mask = torch.cat([_left_pad(self.mask, width, dim=1), _left_pad(ones, width, dim=1)])
        width = max(self.length, length)
        for mine, theirs in zip(self.cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([_left_pad(mine.keys, width), _left_pad(theirs.keys, width)])
            mine.values = torch.cat([_left_pad(mine.values, width), _left_pad(theirs.values, width)])
        self.rows += copies
        self.length = width

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (indices, in order); the batch is empty when none is left."""
        if len(rows) == self.rows:
            return
        if not rows:
            self.clear()
            return
        index = torch.tensor(rows, device=self.cache.layers[0].keys.device)
        start = 0
        if self._mask is not None:
            mask = self._mask[index]
            start = int(mask.any(0).nonzero()[0])
            mask = mask[:, start:]
            self._mask = None if bool(mask.all()) else mask
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, start:]
            layer.values = layer.values[index, :, start:]
        self.rows = len(rows)
        self.length -= start

    def clear(self) -> None:
        """Empty the batch."""
        self.cache, self._mask, self.rows, self.length = None, None, 0, 0

    def row(self, index: int) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Row ``index``'s own tokens, padding cut: how many, and a copy of its keys and values per layer."""
        start = 0 if self._mask is None else int(self._mask[index].nonzero()[0])
        layers = [
            (
                layer.keys[index : index + 1, :, start:].clone(),
                layer.values[index : index + 1, :, start:].clone(),
            )
            for layer in self.cache.layers
        ]
        return self.length - start, layers

    def grow(self) -> torch.Tensor | None:
        """The attention mask for a decode step (one more visible column per row); None while nothing is padded."""
        self.length += 1
        if self._mask is None:
            return None
        ones = torch.ones(self.rows, 1, dtype=self._mask.dtype, device=self._mask.device)
        self._mask = torch.cat([self._mask, ones], dim=1)
        return self._mask


def _left_pad(tensor: torch.Tensor, width: int, dim: int = 2) -> torch.Tensor:
    """``tensor`` with zeros before its entries along ``dim`` (the sequence) up to ``width``."""
    missing = width - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)
