"""Counting the tokens of rendered training text: through the family's tokenizer when a checkpoint (or tokenizer)
folder holding its ``tokenizer.json`` is given, else an estimate that says it is one.

Media tokens are never estimated: each ``<|image|>`` / ``<|video|>`` placeholder of the rendered text is counted
as the tokens :mod:`glmv.finetune.media` measured for its medium (one per 28 x 28 pixels, :func:`glmv.media.image_tokens`)
within the pixel limits of the checkpoint's processor configs (``processor_config.json``, or
``preprocessor_config.json`` / ``video_preprocessor_config.json``)
(:class:`PixelLimits`; the GLM processors' defaults without a checkpoint), so only the text goes through the
tokenizer or the estimate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from glmv.errors import ConfigError, require
from glmv.media.resize import IMAGE_MAX_PIXELS, MIN_PIXELS, VIDEO_MAX_PIXELS

__all__ = ["CHARS_PER_TOKEN", "SPECIAL_TOKENS", "PixelLimits", "TokenCounter"]


@dataclass(frozen=True)
class PixelLimits:
    """The processor's ``size`` bounds (``T x H x W`` pixels; a still image counts two frames)."""

    min_pixels: int = MIN_PIXELS
    max_pixels: int = IMAGE_MAX_PIXELS
    video_min_pixels: int = MIN_PIXELS
    video_max_pixels: int = VIDEO_MAX_PIXELS

    @classmethod
    def from_checkpoint(cls, folder: Path) -> PixelLimits:
        """The limits a checkpoint's processor configs set (the defaults where they set none)."""

        def read(name: str) -> dict:
            try:
                config = json.loads((folder / name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            return config if isinstance(config, dict) else {}

        def size(name: str, nested: str) -> dict[str, int]:
            # transformers 5 nests both processors in processor_config.json; older saves write one file each
            value = read(name).get("size") or read("processor_config.json").get(nested, {}).get("size") or {}
            return value if isinstance(value, dict) else {}

        image = size("preprocessor_config.json", "image_processor")
        video = size("video_preprocessor_config.json", "video_processor")
        return cls(
            image.get("shortest_edge", MIN_PIXELS),
            image.get("longest_edge", IMAGE_MAX_PIXELS),
            video.get("shortest_edge", MIN_PIXELS),
            video.get("longest_edge", VIDEO_MAX_PIXELS),
        )


CHARS_PER_TOKEN = 4.0
"""The estimate's characters per text token (English prose with the GLM-4.5 vocabulary; CJK text is denser)."""

SPECIAL_TOKENS = (
    "[gMASK]",
    "<sop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
    "<|image|>",
    "<|video|>",
    "<|begin_of_box|>",
    "<|end_of_box|>",
    "<|endoftext|>",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<arg_key>",
    "</arg_key>",
    "<arg_value>",
    "</arg_value>",
    "/nothink",
)
"""Strings the estimate counts as one token each (FORMATS.md §3)."""


class TokenCounter:
    """Counts tokens: ``TokenCounter(folder)`` through ``folder/tokenizer.json`` with the folder's pixel limits,
    ``TokenCounter()`` by estimate (:data:`CHARS_PER_TOKEN` characters a token, each special token one) with the
    processors' default limits; :attr:`estimated` says which."""

    def __init__(self, tokenizer: str | Path | None = None) -> None:
        self._tokenizer = None
        self.source = "estimate"
        self.limits = PixelLimits()
        if tokenizer is not None:
            path = Path(tokenizer).expanduser()
            if path.is_dir():
                self.limits = PixelLimits.from_checkpoint(path)
            file = path / "tokenizer.json" if path.is_dir() else path
            if not file.is_file():
                raise ConfigError(
                    f"No tokenizer.json at {path}. Pass a checkpoint or tokenizer folder (or leave the tokenizer "
                    "out to estimate lengths)."
                )
            require("tokenizers", extra="local", purpose="counting tokens with a checkpoint's tokenizer")
            from tokenizers import Tokenizer

            try:
                self._tokenizer = Tokenizer.from_file(str(file))
            except Exception as exc:  # the tokenizers library raises its own Exception subclass
                raise ConfigError(f"Cannot read the tokenizer {file}: {exc}") from exc
            self.source = str(file)

    @property
    def estimated(self) -> bool:
        return self._tokenizer is None

    def count(self, text: str) -> int:
        """The number of tokens of ``text`` (special tokens included, no BOS added)."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        specials = 0
        rest = len(text)
        for token in SPECIAL_TOKENS:
            found = text.count(token)
            if found:
                specials += found
                rest -= found * len(token)
        return specials + math.ceil(rest / CHARS_PER_TOKEN)
