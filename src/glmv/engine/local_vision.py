"""The vision cache: encoder outputs keyed by the content of the preprocessed pixels.

The same image in a new conversation, a regenerated reply, the next turn of a chat or an eval's repeated image
skips the vision tower: :func:`image_keys` hashes each image's rows of the processor's ``pixel_values`` with its
grid (on the caller's thread, while the request is prepared), and :meth:`VisionCache.features` runs the tower only
on the images it has not seen, in one call, then returns every image's features in prompt order. Video frames
arrive folded into the image stream (one image per temporal step), so repeated clips are cached the same way.

Entries are kept least recently used first out under ``budget`` bytes (0 turns the cache off). Each image is
encoded on its own grid, exactly as the tower does inside a batch (its attention never crosses images), so the
tower can run in chunks of at most ``chunk_patches`` patches — many images or a long video never hold the
activations of all their patches at once, and give the same features.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["VisionCache", "image_keys"]


def image_keys(pixel_values: torch.Tensor, grid: torch.Tensor) -> list[str]:
    """One content hash per image of a processor row: its pixel rows and its ``(t, h, w)`` grid."""
    keys = []
    for rows, thw in zip(torch.split(pixel_values, grid.prod(-1).tolist()), grid, strict=True):
        digest = hashlib.blake2b(digest_size=16)
        digest.update(thw.numpy().tobytes())
        digest.update(str(rows.dtype).encode())
        digest.update(rows.contiguous().numpy().tobytes())
        keys.append(digest.hexdigest())
    return keys


class VisionCache:
    """Vision-tower outputs of recent images, least recently used out beyond ``budget`` bytes; the tower runs
    on at most ``chunk_patches`` patches per call (an image larger than that alone)."""

    def __init__(self, budget: int, chunk_patches: int = 32768) -> None:
        self.budget = max(0, budget)
        self.chunk_patches = max(1, chunk_patches)
        self.used = 0
        self.encoded = 0  # images run through the vision tower
        self.hits = 0  # images served from the cache
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.used = 0

    def features(
        self, model: Any, pixel_values: torch.Tensor, grid: torch.Tensor, keys: Sequence[str]
    ) -> torch.Tensor:
        """``[image tokens, hidden]`` features of every image of one row, in order (``keys`` from :func:`image_keys`;
        none: the cache is off, every image is encoded)."""
        if not keys:
            return torch.cat(self._encode(model, pixel_values, grid, list(range(len(grid)))))
        missing = [index for index, key in enumerate(keys) if key not in self._entries]
        fresh = dict(zip(missing, self._encode(model, pixel_values, grid, missing), strict=True))
        self.hits += len(keys) - len(missing)
        parts = []
        for index, key in enumerate(keys):
            if index in fresh:
                parts.append(fresh[index])
                self._store(key, fresh[index])
            else:
                self._entries.move_to_end(key)
                parts.append(self._entries[key])
        return torch.cat(parts)

    def _encode(
        self, model: Any, pixel_values: torch.Tensor, grid: torch.Tensor, images: list[int]
    ) -> list[torch.Tensor]:
        """The tower's features of ``images`` (indices into the row's images), in calls of at most
        :attr:`chunk_patches` patches, so many images (a long video, a document's pages) never meet in one."""
        rows = torch.split(pixel_values, grid.prod(-1).tolist())
        features: list[torch.Tensor] = []
        for chunk in _chunks([rows[index].shape[0] for index in images], self.chunk_patches):
            chosen = [images[number] for number in chunk]
            wanted = torch.cat([rows[index] for index in chosen]).to(model.device)
            out = model.model.get_image_features(wanted, grid[chosen].to(model.device)).pooler_output
            features.extend(out)
        self.encoded += len(images)
        return features

    def _store(self, key: str, features: torch.Tensor) -> None:
        size = features.numel() * features.element_size()
        if size > self.budget or key in self._entries:
            return
        self._entries[key] = features
        self.used += size
        while self.used > self.budget:
            _, old = self._entries.popitem(last=False)
            self.used -= old.numel() * old.element_size()


def _chunks(sizes: Sequence[int], limit: int) -> list[list[int]]:
    """Consecutive positions of ``sizes`` grouped so each group's total stays within ``limit`` (a size above
    it makes a group of its own)."""
    groups: list[list[int]] = []
    total = limit + 1
    for position, size in enumerate(sizes):
        if total + size > limit:
            groups.append([])
            total = 0
        groups[-1].append(position)
        total += size
    return groups
