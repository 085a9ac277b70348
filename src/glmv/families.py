"""Model families: everything that differs between GLM-4.1V, GLM-4.5V and GLM-4.6V lives here.

A :class:`Family` answers the questions the rest of glmv asks about a model: does it always think, does its
answer come in ``<answer>`` tags, can it call tools, which token strings stop generation, how its video
timestamps read, how it samples video frames, its sampling defaults, its context length, whether it is a
mixture of experts, what a thinking-off prompt ends with and which vLLM / SGLang parsers read its output.

:func:`get_family` takes a family name a user typed (``glm-4.6v-flash``); :func:`detect_family` works from a
hub id, a checkpoint folder, a ``config.json`` dict or a transformers config object. No other module looks at
model names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from glmv.errors import FamilyError

__all__ = [
    "FAMILIES",
    "MEDIA_TOKENS",
    "Family",
    "SamplingDefaults",
    "detect_family",
    "family_names",
    "get_family",
]


@dataclass(frozen=True)
class SamplingDefaults:
    """The official sampling settings of a family (checkpoint ``generation_config``)."""

    temperature: float = 0.8
    top_p: float = 0.6
    top_k: int = 2
    repetition_penalty: float = 1.1
    max_tokens: int = 8192


@dataclass(frozen=True)
class Family:
    """What glmv knows about one GLM-V model family.

    Token ids are never stored here: only token *strings*; ids come from the tokenizer of the loaded model.
    ``vocabulary`` names the tokenizer generation: ``glm4`` (GLM-4-0414, with ``<answer>`` tokens) or ``glm45``
    (GLM-4.5, without them). ``parameters_b`` is the total parameter count in billions (vision tower included).
    """

    name: str
    title: str
    hub_ids: tuple[str, ...]
    model_type: str
    model_class: str
    processor_class: str
    template: str
    thinking: Literal["always", "switchable", "never"]
    answer_tags: bool
    tool_calls: bool
    multimodal_tool_results: bool
    stop_tokens: tuple[str, ...]
    video_sampler: Literal["glm4v", "glm46v"]
    context_length: int
    vocabulary: Literal["glm4", "glm45"]
    parameters_b: float
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    tool_call_shape: Literal["glm45", "glm47"] = "glm45"

    @property
    def thinks_by_default(self) -> bool:
        return self.thinking != "never"

    @property
    def can_switch_thinking(self) -> bool:
        return self.thinking == "switchable"

    def video_timestamp(self, seconds: float) -> str:
        """The text the processor writes after each pair of video frames."""
        if self.video_sampler == "glm46v":
            return f"{seconds:.1f} seconds"
        return str(int(seconds))

    def thinking_enabled(self, requested: bool | None) -> bool:
        """Whether a request with ``enable_thinking=requested`` will think on this family."""
        if self.thinking == "always":
            return True
        if self.thinking == "never":
            return False
        return True if requested is None else requested

    @property
    def thinking_end(self) -> tuple[str, ...]:
        """The token strings forced to close reasoning when a budget runs out."""
        return ("</think>", "<answer>") if self.answer_tags else ("</think>",)

    @property
    def closed_thinking(self) -> str:
        """The pre-closed think block a prompt ends with when thinking is off: ``<think></think>`` (then
        ``<answer>`` on families with answer tags). The GLM-4.5V / 4.6V templates write it themselves; glmv
        appends it for GLM-4.1V-Thinking, whose template cannot switch thinking off."""
        return "<think>" + "".join(self.thinking_end)

    @property
    def moe(self) -> bool:
        """Whether the language model is a mixture of experts (GLM-4.5V, GLM-4.6V) rather than dense."""
        return self.model_type == "glm4v_moe"

    @property
    def bf16_bytes(self) -> int:
        """The size of the weights in bfloat16 (two bytes a parameter), vision tower included."""
        return int(self.parameters_b * 1e9 * 2)

    @property
    def reasoning_parser(self) -> str | None:
        """The vLLM / SGLang ``--reasoning-parser`` for this family (``glm45``), or None if it never thinks."""
        return "glm45" if self.thinks_by_default else None

    @property
    def tool_call_parser(self) -> str | None:
        """The vLLM / SGLang ``--tool-call-parser`` (``glm45`` / ``glm47``), or None if it calls no tools."""
        return self.tool_call_shape if self.tool_calls else None

    def __str__(self) -> str:
        return self.name


_STOP_COMMON = ("<|endoftext|>", "<|user|>", "<|observation|>")

MEDIA_TOKENS = (
    "<|image|>",
    "<|video|>",
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
)
"""The special tokens the processor pairs with media, the same in every family: the prompt's placeholders for
image and video features. They mean nothing in user text or in a reply."""

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="glm-4.1v-thinking",
            title="GLM-4.1V-9B-Thinking",
            hub_ids=("zai-org/GLM-4.1V-9B-Thinking", "THUDM/GLM-4.1V-9B-Thinking"),
            model_type="glm4v",
            model_class="Glm4vForConditionalGeneration",
            processor_class="Glm4vProcessor",
            template="glm-4.1v-thinking.jinja",
            thinking="always",
            answer_tags=True,
            tool_calls=False,
            multimodal_tool_results=False,
            stop_tokens=(*_STOP_COMMON, "</answer>"),
            video_sampler="glm4v",
            context_length=65536,
            vocabulary="glm4",
            parameters_b=10.3,
        ),
        Family(
            name="glm-4.1v-base",
            title="GLM-4.1V-9B-Base",
            hub_ids=("zai-org/GLM-4.1V-9B-Base", "THUDM/GLM-4.1V-9B-Base"),
            model_type="glm4v",
            model_class="Glm4vForConditionalGeneration",
            processor_class="Glm4vProcessor",
            template="glm-4.1v-thinking.jinja",
            thinking="never",
            answer_tags=False,
            tool_calls=False,
            multimodal_tool_results=False,
            stop_tokens=_STOP_COMMON,
            video_sampler="glm4v",
            context_length=65536,
            vocabulary="glm4",
            parameters_b=10.3,
        ),
        Family(
            name="glm-4.5v",
            title="GLM-4.5V",
            hub_ids=("zai-org/GLM-4.5V", "zai-org/GLM-4.5V-FP8"),
            model_type="glm4v_moe",
            model_class="Glm4vMoeForConditionalGeneration",
            processor_class="Glm4vProcessor",
            template="glm-4.5v.jinja",
            thinking="switchable",
            answer_tags=False,
            tool_calls=True,
            multimodal_tool_results=False,
            stop_tokens=_STOP_COMMON,
            video_sampler="glm4v",
            context_length=65536,
            vocabulary="glm45",
            parameters_b=108.0,
        ),
        Family(
            name="glm-4.6v",
            title="GLM-4.6V",
            hub_ids=("zai-org/GLM-4.6V", "zai-org/GLM-4.6V-FP8"),
            model_type="glm4v_moe",
            model_class="Glm4vMoeForConditionalGeneration",
            processor_class="Glm46VProcessor",
            template="glm-4.6v.jinja",
            thinking="switchable",
            answer_tags=False,
            tool_calls=True,
            multimodal_tool_results=True,
            stop_tokens=_STOP_COMMON,
            video_sampler="glm46v",
            context_length=131072,
            vocabulary="glm45",
            parameters_b=108.0,
        ),
        Family(
            name="glm-4.6v-flash",
            title="GLM-4.6V-Flash",
            hub_ids=("zai-org/GLM-4.6V-Flash",),
            model_type="glm4v",
            model_class="Glm4vForConditionalGeneration",
            processor_class="Glm46VProcessor",
            template="glm-4.6v.jinja",
            thinking="switchable",
            answer_tags=False,
            tool_calls=True,
            multimodal_tool_results=True,
            stop_tokens=_STOP_COMMON,
            video_sampler="glm46v",
            context_length=131072,
            vocabulary="glm45",
            parameters_b=10.3,
        ),
    )
}

# Names people type for the same thing: hosted-API model names, titles, FP8 variants.
_ALIASES = {
    "glm-4.1v": "glm-4.1v-thinking",
    "glm-4.1v-9b-thinking": "glm-4.1v-thinking",
    "glm-4.1v-thinking-flash": "glm-4.1v-thinking",
    "glm-4.1v-thinking-flashx": "glm-4.1v-thinking",
    "glm-4.1v-9b-base": "glm-4.1v-base",
    "glm-4.5v-fp8": "glm-4.5v",
    "glm-4.6v-fp8": "glm-4.6v",
    "glm-4.6v-flashx": "glm-4.6v-flash",
}


def family_names() -> list[str]:
    """The family names a user may type, in release order."""
    return list(FAMILIES)


def get_family(name: str | Family) -> Family:
    """The family called ``name`` (``glm-4.5v``, ``GLM-4.6V-Flash``, ``glm-4.6v-fp8``, …)."""
    if isinstance(name, Family):
        return name
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key in FAMILIES:
        return FAMILIES[key]
    raise FamilyError(f"Unknown GLM-V family {name!r}. Choose one of: {', '.join(FAMILIES)}.")


# A hub id or folder name → family. Ordered: the more specific pattern first.
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), family)
    for pattern, family in (
        (r"glm-?4\.6v-?flash", "glm-4.6v-flash"),
        (r"glm-?4\.6v", "glm-4.6v"),
        (r"glm-?4\.5v", "glm-4.5v"),
        (r"glm-?4\.1v.*base", "glm-4.1v-base"),
        (r"glm-?4\.1v", "glm-4.1v-thinking"),
    )
)


def _family_from_name(name: str) -> Family | None:
    stem = name.rstrip("/").split("/")[-1] if "/" in name else name
    for candidate in (stem, name):
        for pattern, family in _NAME_PATTERNS:
            if pattern.search(candidate):
                return FAMILIES[family]
    return None


def _config_dict(config: Any) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return dict(config)
    if hasattr(config, "to_dict"):
        return config.to_dict()
    return dict(vars(config))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise FamilyError(f"Cannot read {path}: {exc}") from exc


def _processor_class(folder: Path) -> str | None:
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        value = _read_json(folder / name).get("processor_class")
        if value:
            return value
    return None


def _has_answer_tokens(folder: Path) -> bool | None:
    """Whether the checkpoint's vocabulary holds ``<answer>`` (the GLM-4.1V vocabulary does); None if unknown."""
    tokenizer = folder / "tokenizer.json"
    if not tokenizer.exists():
        return None
    added = _read_json(tokenizer).get("added_tokens", [])
    return any(token.get("content") == "<answer>" for token in added)


def _family_from_config(
    config: Mapping[str, Any],
    processor_class: str | None = None,
    answer_tokens: bool | None = None,
    name_hint: str | None = None,
) -> Family:
    model_type = config.get("model_type")
    text = config.get("text_config") or {}
    if not isinstance(text, Mapping):
        text = _config_dict(text)
    text_type = text.get("model_type", "")
    context = text.get("max_position_embeddings") or config.get("max_position_embeddings")
    if model_type not in ("glm4v", "glm4v_moe", "glm46v"):
        raise FamilyError(
            f"This is not a GLM-V model: its config has model_type {model_type!r}, "
            "expected glm4v, glm4v_moe or glm46v."
        )
    moe = model_type == "glm4v_moe" or text_type == "glm4v_moe_text"
    new_processor = processor_class == "Glm46VProcessor" or model_type == "glm46v"
    if moe:
        if new_processor or (processor_class is None and context and context > 65536):
            return FAMILIES["glm-4.6v"]
        return FAMILIES["glm-4.5v"]
    if new_processor or (processor_class is None and answer_tokens is False):
        return FAMILIES["glm-4.6v-flash"]
    if processor_class is None and answer_tokens is None and context and context > 65536:
        return FAMILIES["glm-4.6v-flash"]
    hinted = _family_from_name(name_hint) if name_hint else None
    if hinted is not None and hinted.model_type == "glm4v" and hinted.processor_class == "Glm4vProcessor":
        return hinted
    return FAMILIES["glm-4.1v-thinking"]


def detect_family(model: str | Path | Mapping[str, Any] | Any) -> Family:
    """The family of a model given as a hub id, a checkpoint folder, a config dict or a config object.

    Raises :class:`~glmv.errors.FamilyError` with the reason when the model is not GLM-V.
    """
    if isinstance(model, str) and model.lower().replace("_", "-") in {*FAMILIES, *_ALIASES}:
        return get_family(model)
    if isinstance(model, (str, Path)):
        path = Path(model).expanduser()
        if path.is_dir():
            config = _read_json(path / "config.json")
            if not config:
                raise FamilyError(f"{path} has no config.json; is it a model checkpoint folder?")
            return _family_from_config(
                config,
                processor_class=_processor_class(path),
                answer_tokens=_has_answer_tokens(path),
                name_hint=str(config.get("_name_or_path") or path.resolve().name),
            )
        family = _family_from_name(str(model))
        if family is None:
            raise FamilyError(
                f"Cannot tell the GLM-V family of {str(model)!r}: it is not a folder and its name matches none of "
                f"{', '.join(FAMILIES)}. Pass the family explicitly: family='glm-4.6v-flash' in Python, "
                "--family glm-4.6v-flash on the command line."
            )
        return family
    config = _config_dict(model)
    return _family_from_config(config, name_hint=config.get("_name_or_path") or config.get("name_or_path"))
