"""Tiny random-weight GLM-V checkpoints with each family's real architecture, written to a folder.

``tiny_checkpoint(family, path)`` writes ``config.json`` (``glm4v`` for GLM-4.1V and GLM-4.6V-Flash,
``glm4v_moe`` for GLM-4.5V and GLM-4.6V), ``generation_config.json`` (the family's stop tokens and sampling
defaults), ``model.safetensors`` (float32), the tiny tokenizer (:mod:`glmv.testing.tokenizer`), the family's
reference ``chat_template.jinja`` (shipped in ``glmv/templates``) and ``processor_config.json``
(``Glm4vProcessor``, or ``Glm46VProcessor`` for GLM-4.6V). The folder loads with ``HF_HUB_OFFLINE=1`` through
``AutoProcessor`` and ``AutoModelForImageTextToText``, and :func:`glmv.families.detect_family` names its family.

Sizes (``size="small"``, the default): text hidden 128, 2 layers, 4 heads (head_dim 32), 2 KV heads,
``partial_rotary_factor`` 0.5 and ``mrope_section`` [2, 3, 3]; MoE families 4 routed experts, top-2, 1 shared,
width 64, layer 0 dense; vision depth 2, hidden 32, 2 heads, ``out_hidden_size`` 128, merger width 192, patch 14,
temporal patch 2, merge 2, ``image_size`` 56. About 0.4 M parameters. ``size="bench"`` keeps the architecture but
uses hidden 512, 8 layers, 8 heads (head_dim 64), MLP 1536 and an embedding padded to 32768 rows: about 50 M
parameters, for engine benchmarks (random weights; do not teach it).

The processors keep pictures small: ``size = {"shortest_edge": 1568, "longest_edge": 100352}`` (as T·H·W with
T = 2 for a still image: at most 64 LM tokens, i.e. about 224×224 pixels, per image); the video processor caps a
whole clip at 28·28·2·256 pixels.

``teach=True`` trains the model on :data:`glmv.testing.TAUGHT_CONVERSATIONS` first (:mod:`glmv.testing.teach`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from glmv.errors import ConfigError
from glmv.families import Family, get_family

__all__ = ["SIZES", "TinySize", "build_tiny", "tiny_checkpoint"]


@dataclass(frozen=True)
class TinySize:
    """The widths of a tiny checkpoint (text and vision towers)."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 256
    n_routed_experts: int = 4
    num_experts_per_tok: int = 2
    moe_intermediate_size: int = 64
    vision_depth: int = 2
    vision_hidden_size: int = 32
    vision_heads: int = 2
    merger_size: int = 192
    vocab_pad_to: int = 64

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mrope_section(self) -> list[int]:
        """Splits ``head_dim * 0.5 / 2`` rotary frequencies over (t, h, w) in the real 8:12:12 proportion."""
        total = self.head_dim // 4
        t = total // 4
        h = (total - t) // 2
        return [t, h, total - t - h]


SIZES: dict[str, TinySize] = {
    "small": TinySize(),
    "bench": TinySize(
        hidden_size=512,
        num_layers=8,
        num_heads=8,
        intermediate_size=1536,
        moe_intermediate_size=384,
        vision_hidden_size=64,
        merger_size=512,
        vocab_pad_to=32768,
    ),
}

# Pixel caps of the tiny processors (T·H·W; T = 2 for a still image).
IMAGE_SIZE = {"shortest_edge": 28 * 28 * 2, "longest_edge": 28 * 28 * 2 * 64}
VIDEO_SIZE = {"shortest_edge": 28 * 28 * 2, "longest_edge": 28 * 28 * 2 * 256}


def tiny_checkpoint(
    family: str | Family,
    path: str | os.PathLike[str],
    teach: bool = False,
    size: Literal["small", "bench"] | TinySize = "small",
    seed: int = 0,
) -> Path:
    """Write a tiny random-weight checkpoint of ``family`` into ``path`` (created) and return the folder.

    ``teach=True`` first trains it to reply to :data:`~glmv.testing.TAUGHT_CONVERSATIONS` exactly (a few seconds
    on a CPU). ``size`` is ``"small"`` (default, ~0.4 M parameters), ``"bench"`` (~50 M) or a :class:`TinySize`.
    """
    fam = get_family(family)
    shape = _size(size)
    if teach and shape != SIZES["small"]:
        raise ConfigError("Only the small tiny checkpoint can be taught; drop size= or teach=True.")
    model, processor = build_tiny(fam, shape, seed=seed)
    if teach:
        from glmv.testing.teach import teach_model

        teach_model(model, processor, fam, seed=seed)
    folder = Path(path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    _name_config(folder, fam)
    return folder


def _name_config(folder: Path, family: Family) -> None:
    """Record a hub-like name in ``config.json``: detect_family tells GLM-4.1V-Base from -Thinking by name."""
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["_name_or_path"] = f"tiny-random/{family.hub_ids[0].split('/')[-1]}"
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _size(size: str | TinySize) -> TinySize:
    if isinstance(size, TinySize):
        return size
    if size not in SIZES:
        raise ConfigError(f"Unknown tiny checkpoint size {size!r}; choose one of {', '.join(SIZES)}.")
    return SIZES[size]


def reference_template(family: Family) -> str:
    """The family's reference chat template text, shipped in ``glmv/templates``."""
    return resources.files("glmv.templates").joinpath(family.template).read_text(encoding="utf-8")


def build_tiny(family: Family, size: TinySize, seed: int = 0) -> tuple[Any, Any]:
    """A random-weight model and its processor for ``family`` (in memory, float32)."""
    import torch

    from glmv.testing.conversations import taught_conversations
    from glmv.testing.tokenizer import build_tokenizer

    template = reference_template(family)
    texts = [template]
    for conv in taught_conversations(family):
        texts.extend(_texts(conv.messages))
        texts.append(conv.reply)
        texts.extend(json.dumps(tool, ensure_ascii=False) for tool in conv.tools)
    tokenizer, vocab_size = build_tokenizer(
        texts, answer_tags=family.vocabulary == "glm4", pad_to=size.vocab_pad_to
    )
    config = _config(family, size, tokenizer, vocab_size)
    processor = _processor(family, tokenizer, template)

    torch.manual_seed(seed)
    model = _model_class(family)(config).to(torch.float32).eval()
    model.generation_config = _generation_config(family, tokenizer)
    return model, processor


def _texts(messages: tuple[dict[str, Any], ...]) -> list[str]:
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(part["text"] for part in content if part.get("type") == "text")
    return out


def _config(family: Family, size: TinySize, tokenizer: Any, vocab_size: int) -> Any:
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in tokenizer.all_special_tokens}
    rope = {
        "rope_type": "default",
        "rope_theta": 10000.0,
        "partial_rotary_factor": 0.5,
        "mrope_section": size.mrope_section,
    }
    text: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": size.hidden_size,
        "intermediate_size": size.intermediate_size,
        "num_hidden_layers": size.num_layers,
        "num_attention_heads": size.num_heads,
        "num_key_value_heads": size.num_kv_heads,
        "max_position_embeddings": family.context_length,
        "rms_norm_eps": 1e-5,
        "rope_parameters": rope,
        "partial_rotary_factor": 0.5,
        "pad_token_id": ids["<|endoftext|>"],
    }
    moe = family.moe
    if moe:
        text.update(
            n_routed_experts=size.n_routed_experts,
            num_experts_per_tok=size.num_experts_per_tok,
            n_shared_experts=1,
            moe_intermediate_size=size.moe_intermediate_size,
            first_k_dense_replace=1,
            norm_topk_prob=True,
            n_group=1,
            topk_group=1,
            attention_bias=True,
            eos_token_id=[ids[token] for token in family.stop_tokens],
        )
    vision = {
        "depth": size.vision_depth,
        "hidden_size": size.vision_hidden_size,
        "num_heads": size.vision_heads,
        "out_hidden_size": size.hidden_size,
        "intermediate_size": size.merger_size,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "spatial_merge_size": 2,
        "image_size": 56,
    }
    if moe:
        from transformers import Glm4vMoeConfig as Config
    else:
        from transformers import Glm4vConfig as Config
    config = Config(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image|>"],
        video_token_id=ids["<|video|>"],
        image_start_token_id=ids["<|begin_of_image|>"],
        image_end_token_id=ids["<|end_of_image|>"],
        video_start_token_id=ids["<|begin_of_video|>"],
        video_end_token_id=ids["<|end_of_video|>"],
        tie_word_embeddings=False,
    )
    return config


def _model_class(family: Family) -> Any:
    import transformers

    return getattr(transformers, family.model_class)


def _processor(family: Family, tokenizer: Any, template: str) -> Any:
    import transformers

    if family.processor_class == "Glm46VProcessor":
        image_cls, video_cls = transformers.Glm46VImageProcessor, transformers.Glm46VVideoProcessor
    else:
        image_cls, video_cls = transformers.Glm4vImageProcessor, transformers.Glm4vVideoProcessor
    processor_cls = getattr(transformers, family.processor_class)
    return processor_cls(
        image_processor=image_cls(size=dict(IMAGE_SIZE)),
        tokenizer=tokenizer,
        video_processor=video_cls(size=dict(VIDEO_SIZE)),
        chat_template=template,
    )


def _generation_config(family: Family, tokenizer: Any) -> Any:
    from transformers import GenerationConfig

    sampling = family.sampling
    return GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids(token) for token in family.stop_tokens],
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        do_sample=True,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        repetition_penalty=sampling.repetition_penalty,
    )
