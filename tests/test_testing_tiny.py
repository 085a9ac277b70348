"""Tiny GLM-V checkpoints: real architectures that load offline, and taught ones that reply in GLM format."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import pytest

from glmv.families import FAMILIES, detect_family, get_family
from glmv.testing import TAUGHT_CONVERSATIONS, TAUGHT_IMAGES, taught_conversations, taught_image

ALL = list(FAMILIES)
TAUGHT = ["glm-4.1v-thinking", "glm-4.5v", "glm-4.6v-flash", "glm-4.6v"]

# family → (model class, processor class, <answer> in vocabulary)
EXPECTED = {
    "glm-4.1v-thinking": ("Glm4vForConditionalGeneration", "Glm4vProcessor", True),
    "glm-4.1v-base": ("Glm4vForConditionalGeneration", "Glm4vProcessor", True),
    "glm-4.5v": ("Glm4vMoeForConditionalGeneration", "Glm4vProcessor", False),
    "glm-4.6v": ("Glm4vMoeForConditionalGeneration", "Glm46VProcessor", False),
    "glm-4.6v-flash": ("Glm4vForConditionalGeneration", "Glm46VProcessor", False),
}


def _load(folder: Path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(folder, local_files_only=True).eval()
    return processor, model


@pytest.mark.parametrize("family", ALL)
def test_loads_offline_with_the_real_classes(tiny_checkpoints, family):
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    processor, model = _load(tiny_checkpoints(family, taught=False))
    model_class, processor_class, answer_tags = EXPECTED[family]
    assert type(model).__name__ == model_class
    assert type(processor).__name__ == processor_class
    assert model.config.model_type == get_family(family).model_type
    text = model.config.text_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads) == (128, 2, 4)
    assert text.rope_parameters["partial_rotary_factor"] == 0.5
    assert sum(text.rope_parameters["mrope_section"]) == 32 * 0.5 / 2
    tokenizer = processor.tokenizer
    vocab = tokenizer.get_vocab()
    assert ("<answer>" in vocab) is answer_tags
    for name in ("image_token_id", "video_token_id", "image_start_token_id", "video_end_token_id"):
        assert getattr(model.config, name) < text.vocab_size
    assert model.config.image_token_id == tokenizer.convert_tokens_to_ids("<|image|>")
    assert model.config.video_start_token_id == tokenizer.convert_tokens_to_ids("<|begin_of_video|>")
    assert tokenizer.eos_token == tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.padding_side == "left"
    assert text.vocab_size % 64 == 0 and text.vocab_size >= len(tokenizer)
    stops = [tokenizer.convert_tokens_to_ids(t) for t in get_family(family).stop_tokens]
    assert model.generation_config.eos_token_id == stops
    if "Moe" in model_class:
        assert (text.n_routed_experts, text.num_experts_per_tok, text.first_k_dense_replace) == (4, 2, 1)


@pytest.mark.parametrize("family", ALL)
def test_detect_family_without_a_telling_folder_name(tiny_checkpoints, tmp_path, family):
    folder = tiny_checkpoints(family, taught=False)
    neutral = tmp_path / "model"
    neutral.mkdir()
    for name in ("config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(folder / name, neutral / name)
    assert detect_family(neutral).name == family
    assert detect_family(folder).name == family


@pytest.mark.parametrize("family", ALL)
def test_template_renders_thinking_as_the_family_requires(tiny_checkpoints, family):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_checkpoints(family, taught=False), local_files_only=True)
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": taught_image("red")}, {"type": "text", "text": "Hi"}],
        }
    ]
    on = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    off = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False, enable_thinking=False
    )
    assert on == "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|end_of_image|>Hi<|assistant|>\n"
    if get_family(family).can_switch_thinking:
        assert (
            off
            == "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|end_of_image|>Hi/nothink<|assistant|>\n<think></think>\n"
        )
    else:
        assert off == on


@pytest.mark.parametrize("family", ALL)
def test_image_and_text_generate(tiny_checkpoints, family):
    import torch

    processor, model = _load(tiny_checkpoints(family, taught=False))
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": taught_image("blue")},
                {"type": "text", "text": "What is it?"},
            ],
        }
    ]
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image|>")
    assert int((inputs["input_ids"] == image_id).sum()) == 84 * 56 // 784  # one token per 28×28 pixels
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=6, min_new_tokens=6)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 6


def _write_video(path: Path, colours, size=56, fps=4) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for colour in colours:
            frame = np.full((size, size, 3), colour, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize(
    ("family", "timestamps"),
    [("glm-4.1v-thinking", ["0", "1"]), ("glm-4.6v-flash", ["0.0 seconds", "1.5 seconds"])],
)
def test_video_generate_from_a_real_file(tiny_checkpoints, tmp_path, family, timestamps):
    import av
    import numpy as np
    import torch
    from transformers.video_utils import VideoMetadata

    video = tmp_path / "clip.mp4"
    _write_video(video, [(200, 30, 30)] * 4 + [(30, 30, 200)] * 4)  # 8 frames at 4 fps: 2 s
    with av.open(str(video)) as container:  # decoded with PyAV, as glmv does (no torchcodec here)
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    assert frames.shape == (8, 56, 56, 3)
    processor, model = _load(tiny_checkpoints(family, taught=False))
    messages = [
        {
            "role": "user",
            "content": [{"type": "video", "video": "clip"}, {"type": "text", "text": "What happens?"}],
        }
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    metadata = VideoMetadata(total_num_frames=8, fps=4.0, duration=2.0, frames_indices=list(range(8)))
    inputs = processor(text=[text], videos=[frames], video_metadata=[metadata], return_tensors="pt")
    inputs.pop("token_type_ids", None)
    prompt = processor.tokenizer.decode(inputs["input_ids"][0])
    for stamp in timestamps:
        assert stamp in prompt
    assert "pixel_values_videos" in inputs and int((inputs["mm_token_type_ids"] == 2).sum()) > 0
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=4, min_new_tokens=4)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 4


@pytest.mark.slow
@pytest.mark.parametrize("family", TAUGHT)
def test_taught_checkpoint_replays_every_reply_exactly(tiny_checkpoints, family):
    from glmv.testing.teach import check_taught

    assert check_taught(tiny_checkpoints(family)) == []


@pytest.mark.parametrize("family", ALL)
def test_taught_set_covers_the_family_formats(tiny_checkpoints, family):
    from transformers import AutoProcessor

    fam = get_family(family)
    convs = {conv.name: conv for conv in taught_conversations(family)}
    assert TAUGHT_CONVERSATIONS[family] == tuple(convs.values())
    assert {"plain", "grounding", "image", "two-images", "multi-turn", "long-reasoning"} <= set(convs)
    assert "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>" in convs["grounding"].reply
    processor = AutoProcessor.from_pretrained(tiny_checkpoints(family, taught=False), local_files_only=True)
    tokenizer = processor.tokenizer

    def render(conv):
        return processor.apply_chat_template(
            conv.processor_messages(),
            add_generation_prompt=True,
            tokenize=False,
            **conv.chat_template_kwargs(),
        )

    if fam.thinks_by_default:
        reasoning = convs["long-reasoning"].reply.split("</think>")[0]
        assert 30 <= len(tokenizer(reasoning, add_special_tokens=False)["input_ids"]) <= 60
    if fam.answer_tags:
        assert all(c.stop == "</answer>" and "<answer>" in c.reply for c in convs.values())
    if fam.can_switch_thinking:
        off = convs["thinking-off"]
        assert "<think>" not in off.reply
        assert render(off).endswith("/nothink<|assistant|>\n<think></think>\n")
        assert "<|assistant|>\n<think></think>\n2 + 2 = 4.<|user|>" in render(convs["multi-turn"])
    if fam.tool_calls:
        paris, rome = convs["tool-call-paris"], convs["tool-call-rome"]
        assert paris.stop == rome.stop == "<|observation|>"
        assert (
            "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>"
            in paris.reply
        )
        assert "# Tools" in render(paris) and '"get_weather"' in render(paris)
        assert "<|observation|>\n<tool_response>\nsunny, 21C\n</tool_response>" in render(
            convs["tool-result"]
        )
    else:
        assert not any(c.tools for c in convs.values())


@pytest.mark.parametrize("name", sorted(TAUGHT_IMAGES))
def test_taught_image_data_uris_decode_to_the_same_pixels(name):
    from PIL import Image

    from glmv.testing import image_data_uri

    uri = image_data_uri(name)
    assert uri.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")
    assert decoded.size == TAUGHT_IMAGES[name][:2] and decoded.size[0] % 28 == decoded.size[1] % 28 == 0
    assert decoded.tobytes() == taught_image(name).tobytes()


def test_bench_size_has_about_fifty_million_parameters():
    from glmv.testing.checkpoint import SIZES, build_tiny

    model, _ = build_tiny(get_family("glm-4.6v-flash"), SIZES["bench"])
    count = sum(p.numel() for p in model.parameters())
    assert 40e6 < count < 65e6
    assert model.config.text_config.hidden_size == 512


def test_cli_writes_a_taught_checkpoint(tmp_path):
    from typer.testing import CliRunner

    from glmv.cli import app

    result = CliRunner().invoke(
        app, ["tiny-checkpoint", "glm-4.1v-thinking", str(tmp_path / "ckpt"), "--teach"]
    )
    assert result.exit_code == 0, result.output
    assert "model.safetensors" in result.output and "chat_template.jinja" in result.output
    assert "greedy replies verified" in result.output
    assert detect_family(tmp_path / "ckpt").name == "glm-4.1v-thinking"


def test_cli_rejects_an_unknown_family(tmp_path):
    from typer.testing import CliRunner

    from glmv.cli import app

    result = CliRunner().invoke(app, ["tiny-checkpoint", "glm-9v", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert not (tmp_path / "x").exists()
