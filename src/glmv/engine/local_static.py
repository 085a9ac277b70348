"""The static KV cache of the GPU path: preallocated per layer, written in place, one compiled decode step.

:class:`StaticKV` is :class:`~glmv.engine.local_kv.BatchKV` with its tensors allocated once: per layer one
``[max_rows, kv heads, capacity, head_dim]`` keys tensor and one values tensor (a transformers ``StaticCache``),
and one ``[max_rows, capacity]`` attention mask. The layout is the same left-padded batch: every row's tokens end
at the same column :attr:`StaticKV.length`, a decode step writes column ``length`` of every row in place, and the
mask marks each row's padding 0. What changes the batch copies into the tensors, never reallocates them:

- :meth:`StaticKV.join` copies a prefilled row's batch-1 ``DynamicCache`` into the next free slot (a row longer
  than the batch first shifts the others right);
- :meth:`StaticKV.keep` gathers the rows that stay into the first slots and shifts them left past the columns
  that are padding in all of them.

A decode step runs over a **bucket** of rows (1, 2, 4, 8 … up to ``max_rows``, :func:`buckets`): the active rows
and, above them, idle slots fed a dummy token whose logits are dropped (each sees its own new column, so its
attention is never empty). Each bucket is a fixed set of views into the same tensors, so with ``compile=True``
the step — ``model.forward`` under ``torch.compile``, with CUDA graphs (``mode="reduce-overhead"``) on CUDA — is
compiled once per bucket, not once per batch size. The attention spans a **window** of the first columns, the
smallest of 256, 512, 1024 … capacity (:func:`windows`) that holds every row, not the whole capacity: with a mask,
transformers repeats the KV heads up to the query heads before SDPA, so a full-capacity span would read
``heads / kv heads`` times the whole cache every step. One graph per (bucket, window) pair is compiled as the
batch reaches it, never one per length.

:func:`open_kv` picks the engine's cache (static on one GPU or with ``compile``, else the dynamic one) and the line
the engine prints at load: what it reserves and how many tokens that holds (bytes per token from the config,
:func:`kv_bytes_per_token`), or for the dynamic cache how many tokens the free memory holds (:func:`free_memory`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import torch

from glmv.errors import EngineError

__all__ = [
    "StaticKV",
    "buckets",
    "free_memory",
    "kv_bytes_per_token",
    "kv_shape",
    "layer_devices",
    "open_kv",
    "windows",
]


def kv_shape(config: Any) -> tuple[int, int, int]:
    """``(layers, kv heads, head_dim)`` of a model config's text tower."""
    text = config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    return text.num_hidden_layers, heads, head_dim


def kv_bytes_per_token(config: Any, dtype: torch.dtype) -> int:
    """Bytes one token takes in the KV cache: 2 (keys, values) × layers × kv heads × head_dim × dtype size."""
    layers, heads, head_dim = kv_shape(config)
    return 2 * layers * heads * head_dim * torch.empty((), dtype=dtype).element_size()


def free_memory(devices: Sequence[torch.device]) -> int:
    """Bytes free on ``devices`` together: each GPU's free memory, or the host's available memory for CPU."""
    total = 0
    for device in dict.fromkeys(torch.device(d) for d in devices):
        if device.type == "cuda":
            total += torch.cuda.mem_get_info(device)[0]
        else:
            total += _host_available()
    return total


def _host_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def buckets(max_rows: int) -> tuple[int, ...]:
    """The batch sizes a decode step runs at: powers of two below ``max_rows``, then ``max_rows``."""
    sizes = []
    size = 1
    while size < max_rows:
        sizes.append(size)
        size *= 2
    return (*sizes, max_rows)


def windows(capacity: int, smallest: int = 256) -> tuple[int, ...]:
    """The attention spans a decode step runs at: ``smallest`` doubled while below ``capacity``, then it."""
    spans = []
    span = smallest
    while span < capacity:
        spans.append(span)
        span *= 2
    return (*spans, capacity)


def layer_devices(model: Any) -> list[torch.device]:
    """The device of each text layer (they differ when ``device_map="auto"`` spreads the model over GPUs)."""
    layers = model.model.language_model.layers
    return [next(layer.parameters()).device for layer in layers]


class StaticKV:
    """The decode batch's cache in preallocated tensors, ``max_rows`` slots of ``capacity`` tokens each.

    ``compile=True`` runs the decode step under ``torch.compile`` (inductor, with CUDA graphs on CUDA); a string
    names the ``torch.compile`` backend instead (``"eager"``, ``"aot_eager"``: dynamo's capture without
    inductor). The interface is :class:`~glmv.engine.local_kv.BatchKV`'s plus :meth:`decode`.
    """

    def __init__(
        self,
        model: Any,
        max_rows: int,
        capacity: int,
        *,
        compile: bool | str = False,
    ) -> None:
        from transformers import StaticCache

        self.max_rows = max(1, max_rows)
        self.capacity = capacity
        self.rows = 0
        self.length = 0
        self.buckets = buckets(self.max_rows)
        self.windows = windows(capacity)
        _, heads, head_dim = kv_shape(model.config)
        self._cache = StaticCache(config=model.config, max_cache_len=capacity)
        devices = layer_devices(model)
        for layer, device in zip(self._cache.layers, devices, strict=True):
            probe = torch.zeros(self.max_rows, heads, 0, head_dim, dtype=model.dtype, device=device)
            layer.lazy_initialization(probe, probe)
        self.device = devices[0]
        self._mask = torch.zeros(self.max_rows, capacity, dtype=torch.bool, device=self.device)
        self._config = model.config
        self._views: dict[tuple[int, int], tuple[Any, torch.Tensor]] = {}  # made as the batch reaches them
        if compile:
            # One graph per (bucket, window), for every engine in the process: past dynamo's default limit (8)
            # it would silently fall back to the uncompiled step.
            limit = torch._dynamo.config.recompile_limit
            torch._dynamo.config.recompile_limit = max(limit, 4 * len(self.buckets) * len(self.windows))
        self._forward = _compiled(model, compile) if compile else model.forward

    @property
    def reserved(self) -> int:
        """Bytes the keys and values tensors take."""
        return sum(
            layer.keys.numel() * layer.keys.element_size()
            + layer.values.numel() * layer.values.element_size()
            for layer in self._cache.layers
        )

    @property
    def mask(self) -> torch.Tensor:
        """``[rows, length]``: 1 where a row has a token, 0 on its left padding."""
        return self._mask[: self.rows, : self.length].long()

    def join(self, cache: Any, length: int, copies: int = 1) -> None:
        """Copy a batch-1 ``cache`` of ``length`` tokens into ``copies`` free slots (the new last rows)."""
        if self.rows + copies > self.max_rows:
            raise EngineError(
                f"The static KV cache holds {self.max_rows} rows and {self.rows} are decoding, so a request "
                f"with {copies} choices does not fit; lower n or raise max_batch_size."
            )
        width = max(self.length, length)
        if width > self.capacity:
            raise EngineError(
                f"The static KV cache holds {self.capacity:,} tokens per row, fewer than the {width:,} this "
                "batch needs; raise kv_cache_len or lower max_model_len."
            )
        if width > self.length and self.rows:
            self._shift(torch.arange(self.rows, device=self.device), 0, self.length, width - self.length)
        new = slice(self.rows, self.rows + copies)
        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys[new, :, width - length : width] = theirs.keys
            mine.values[new, :, width - length : width] = theirs.values
        self._mask[new] = False
        self._mask[new, width - length : width] = True
        self.rows += copies
        self._set_length(width)

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (indices, in order) in the first slots; the batch is empty when none is left."""
        if list(rows) == list(range(self.rows)):
            return
        if not rows:
            self.clear()
            return
        index = torch.tensor(rows, device=self.device)
        start = int(self._mask[index, : self.length].any(0).nonzero()[0])
        self._shift(index, start, self.length, -start)
        self.rows = len(rows)
        self._set_length(self.length - start)

    def clear(self) -> None:
        """Empty the batch (the tensors stay allocated)."""
        self.rows = 0
        self._mask.zero_()
        self._set_length(0)

    def row(self, index: int) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Row ``index``'s own tokens, padding cut: how many, and a copy of its keys and values per layer."""
        start = int(self._mask[index, : self.length].nonzero()[0])
        layers = [
            (
                layer.keys[index : index + 1, :, start : self.length].clone(),
                layer.values[index : index + 1, :, start : self.length].clone(),
            )
            for layer in self._cache.layers
        ]
        return self.length - start, layers

    def decode(self, tokens: Sequence[int], positions: Sequence[int]) -> torch.Tensor:
        """One token for every row: feed ``tokens`` at ``positions``; the ``[rows, vocab]`` logits."""
        if self.length >= self.capacity:
            raise EngineError(
                f"The static KV cache holds {self.capacity:,} tokens per row and this batch has used them all; "
                "raise kv_cache_len or lower max_model_len."
            )
        size = next(size for size in self.buckets if size >= self.rows)
        window = next(span for span in self.windows if span > self.length)
        cache, mask = self._view(size, window)
        idle = size - self.rows
        ids = torch.tensor([*tokens, *[tokens[-1]] * idle], device=self.device).view(-1, 1)
        where = torch.tensor([*positions, *[positions[-1]] * idle], device=self.device)
        self._mask[:size, self.length] = True
        out = self._forward(
            input_ids=ids,
            position_ids=where.view(1, -1, 1).expand(3, -1, -1),
            attention_mask=mask,
            cache=cache,
            use_cache=True,
        )
        self.length += 1
        return out.logits[: self.rows, -1].clone()  # a CUDA graph's output is overwritten by its next replay

    def _view(self, size: int, window: int) -> tuple[Any, torch.Tensor]:
        """A cache over the first ``size`` slots of the shared tensors (and their shared lengths) whose attention
        spans the first ``window`` columns, and the mask of those slots and columns; made once, then reused."""
        if (size, window) not in self._views:
            from transformers import StaticCache

            view = StaticCache(config=self._config, max_cache_len=self.capacity)
            layers = []
            for shared in self._cache.layers:
                mine = _window_layer()(self.capacity)
                mine.__dict__.update(shared.__dict__)
                mine.batch_size, mine.window = size, window
                mine.keys, mine.values = _static(shared.keys[:size]), _static(shared.values[:size])
                layers.append(mine)
            view.layers = layers
            self._views[size, window] = view, _static(self._mask[:size, :window])
        return self._views[size, window]

    def _shift(self, rows: torch.Tensor, start: int, end: int, by: int) -> None:
        """Move columns ``start:end`` of ``rows`` by ``by`` (right when positive) into the first slots, in order;
        the columns left behind are masked out."""
        count = len(rows)
        target = slice(start + by, end + by)
        for layer in self._cache.layers:
            layer.keys[:count, :, target] = layer.keys[rows, :, start:end].clone()
            layer.values[:count, :, target] = layer.values[rows, :, start:end].clone()
        moved = self._mask[rows, start:end].clone()
        self._mask[:count] = False
        self._mask[:count, target] = moved

    def _set_length(self, length: int) -> None:
        self.length = length
        for layer in self._cache.layers:
            layer.cumulative_length.fill_(length)


@cache
def _window_layer() -> type:
    """The class of :class:`StaticKV`'s view layers (made on first use: transformers is imported lazily)."""
    from transformers.cache_utils import StaticLayer

    class WindowLayer(StaticLayer):
        """A static layer written in place whose attention reads only its first :attr:`window` columns."""

        window: int

        def update(self, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
            keys, values = super().update(*args, **kwargs)
            return keys[:, :, : self.window], values[:, :, : self.window]

        def get_mask_sizes(self, *args: Any, **kwargs: Any) -> tuple[int, int]:
            return self.window, 0

    return WindowLayer


def _static(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` marked as living at a fixed address, so a CUDA graph reads it in place instead of copying it."""
    torch._dynamo.mark_static_address(tensor)
    return tensor


def _compiled(model: Any, backend: bool | str) -> Callable[..., Any]:
    """``model.forward`` under ``torch.compile``: inductor with CUDA graphs on CUDA, or the named ``backend``."""
    if isinstance(backend, str):
        return torch.compile(model.forward, backend=backend, dynamic=False)
    mode = "reduce-overhead" if model.device.type == "cuda" else None
    return torch.compile(model.forward, mode=mode, dynamic=False)


def open_kv(
    model: Any,
    kind: str | None,
    max_rows: int,
    capacity: int | None,
    context: int,
    *,
    compile: bool | str = False,
) -> tuple[StaticKV | None, str]:
    """The batch cache an engine decodes into, and the line it prints about it at load.

    ``kind`` is ``"static"``, ``"dynamic"`` or None (static when ``compile`` is asked for or the model sits on
    one GPU, else dynamic; None comes back for dynamic, the loop makes its own). A static cache holds
    ``capacity`` tokens per row, by default the ``context`` or as many as half the free device memory holds. A
    model loaded with flash-attention 2 is switched to SDPA for the static cache (see the comment below).
    """
    from glmv.errors import ModelLoadError

    devices = layer_devices(model)
    single_gpu = len(set(devices)) == 1 and devices[0].type == "cuda"
    if kind not in (None, "static", "dynamic"):
        raise ModelLoadError(f"Unknown KV cache {kind!r}; use static, dynamic or leave it out.")
    if compile and kind == "dynamic":
        raise ModelLoadError("compile=True needs the static KV cache; drop kv_cache='dynamic' or compile.")
    if compile and len(set(devices)) > 1:
        raise ModelLoadError("compile=True needs the model on one device; pick one GPU with --device cuda:N.")
    static = kind == "static" or (kind is None and (compile or single_gpu))
    per_token = kv_bytes_per_token(model.config, model.dtype)
    free = free_memory(devices)
    if not static:
        return None, (
            f"KV cache: dynamic, {_size(per_token)} per token; the {_size(free)} free hold about "
            f"{free // per_token:,} tokens."
        )
    if capacity is None:
        capacity = min(context, free // 2 // (per_token * max(1, max_rows)))
    if capacity < 1:
        raise ModelLoadError(
            f"The free memory ({_size(free)}) holds no static KV cache for {max_rows} rows; lower "
            "max_batch_size or set kv_cache_len."
        )
    if model.config._attn_implementation == "flash_attention_2":
        # flash-attention unpads the mask of the whole capacity with data-dependent shapes (no CUDA graph, a
        # graph break per layer); SDPA takes the mask as it is and picks its fused kernels itself.
        model.set_attn_implementation("sdpa")
    kv = StaticKV(model, max_rows, capacity, compile=compile)
    mode = ", decode step compiled" if compile else ""
    return kv, (
        f"KV cache: static{mode}, {kv.max_rows} rows × {capacity:,} tokens = {_size(kv.reserved)} reserved "
        f"({_size(per_token)} per token, {kv.max_rows * capacity:,} tokens)."
    )


def _size(count: int) -> str:
    """Bytes for people: 640 B, 40.0 KiB, 1.5 GiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
