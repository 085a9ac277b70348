"""Family detection from hub ids, checkpoint folders and configs, and what each family knows."""

from __future__ import annotations

import json

import pytest

from glmv.errors import FamilyError
from glmv.families import FAMILIES, detect_family, family_names, get_family

HUB_IDS = [
    ("zai-org/GLM-4.1V-9B-Thinking", "glm-4.1v-thinking"),
    ("THUDM/GLM-4.1V-9B-Thinking", "glm-4.1v-thinking"),
    ("zai-org/GLM-4.1V-9B-Base", "glm-4.1v-base"),
    ("zai-org/GLM-4.5V", "glm-4.5v"),
    ("zai-org/GLM-4.5V-FP8", "glm-4.5v"),
    ("zai-org/GLM-4.6V", "glm-4.6v"),
    ("zai-org/GLM-4.6V-FP8", "glm-4.6v"),
    ("zai-org/GLM-4.6V-Flash", "glm-4.6v-flash"),
    ("mlx-community/GLM-4.6V-Flash-4bit", "glm-4.6v-flash"),
    ("glm-4.5v", "glm-4.5v"),
    ("GLM-4.6V-FP8", "glm-4.6v"),
    ("glm-4.1v-thinking-flash", "glm-4.1v-thinking"),
]


@pytest.mark.parametrize(("model", "expected"), HUB_IDS)
def test_detect_from_hub_id(model, expected):
    assert detect_family(model).name == expected


@pytest.mark.parametrize("model", ["Qwen/Qwen2.5-VL-7B-Instruct", "meta-llama/Llama-3-8B", "zai-org/GLM-4.5"])
def test_non_glmv_hub_id_is_refused_with_a_reason(model):
    with pytest.raises(FamilyError, match="Cannot tell the GLM-V family") as info:
        detect_family(model)
    assert "family=" in str(info.value)


def _folder(tmp_path, name, config, processor=None, added_tokens=None):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if processor:
        (folder / "processor_config.json").write_text(json.dumps({"processor_class": processor}))
    if added_tokens is not None:
        tokens = [{"id": i, "content": t} for i, t in enumerate(added_tokens)]
        (folder / "tokenizer.json").write_text(json.dumps({"added_tokens": tokens}))
    return folder


GLM45_TOKENS = ["<|endoftext|>", "<think>", "</think>", "<|begin_of_box|>"]
GLM41_TOKENS = [*GLM45_TOKENS, "<answer>", "</answer>"]

FOLDERS = [
    # (folder name, config, processor class, vocabulary, family)
    ("ckpt-a", {"model_type": "glm4v"}, "Glm4vProcessor", GLM41_TOKENS, "glm-4.1v-thinking"),
    ("GLM-4.1V-9B-Base", {"model_type": "glm4v"}, "Glm4vProcessor", GLM41_TOKENS, "glm-4.1v-base"),
    ("ckpt-b", {"model_type": "glm4v"}, "Glm46VProcessor", GLM45_TOKENS, "glm-4.6v-flash"),
    ("ckpt-c", {"model_type": "glm4v"}, None, GLM45_TOKENS, "glm-4.6v-flash"),
    ("ckpt-d", {"model_type": "glm4v_moe"}, "Glm4vProcessor", GLM45_TOKENS, "glm-4.5v"),
    ("ckpt-e", {"model_type": "glm4v_moe"}, "Glm46VProcessor", GLM45_TOKENS, "glm-4.6v"),
    (
        "ckpt-f",
        {"model_type": "glm46v", "text_config": {"model_type": "glm4v_moe_text"}},
        None,
        None,
        "glm-4.6v",
    ),
    (
        "ckpt-g",
        {"model_type": "glm46v", "text_config": {"model_type": "glm4v_text"}},
        None,
        None,
        "glm-4.6v-flash",
    ),
]


@pytest.mark.parametrize(("name", "config", "processor", "tokens", "expected"), FOLDERS)
def test_detect_from_checkpoint_folder(tmp_path, name, config, processor, tokens, expected):
    folder = _folder(tmp_path, name, config, processor, tokens)
    assert detect_family(folder).name == expected
    assert detect_family(str(folder)).name == expected


def test_detect_from_config_dict_and_object():
    class Config:
        def __init__(self):
            self.model_type = "glm4v_moe"
            self.text_config = {"model_type": "glm4v_moe_text", "max_position_embeddings": 131072}

    assert detect_family(Config()).name == "glm-4.6v"
    assert detect_family({"model_type": "glm4v_moe", "max_position_embeddings": 65536}).name == "glm-4.5v"


def test_folder_of_another_model_says_so(tmp_path):
    folder = _folder(tmp_path, "qwen", {"model_type": "qwen2_5_vl"})
    with pytest.raises(FamilyError, match="not a GLM-V model.*qwen2_5_vl"):
        detect_family(folder)


def test_folder_without_config_says_so(tmp_path):
    with pytest.raises(FamilyError, match="no config.json"):
        detect_family(tmp_path)


def test_get_family_names_and_aliases():
    assert family_names() == ["glm-4.1v-thinking", "glm-4.1v-base", "glm-4.5v", "glm-4.6v", "glm-4.6v-flash"]
    assert get_family("GLM-4.6V-Flash").name == "glm-4.6v-flash"
    assert get_family("glm_4.5v_fp8").name == "glm-4.5v"
    with pytest.raises(FamilyError, match="Choose one of: glm-4.1v-thinking"):
        get_family("glm-5v")


def test_family_traits_follow_the_reference():
    thinking41 = FAMILIES["glm-4.1v-thinking"]
    assert thinking41.thinking == "always" and thinking41.answer_tags and not thinking41.tool_calls
    assert thinking41.stop_tokens[-1] == "</answer>"
    assert thinking41.thinking_end == ("</think>", "<answer>")
    assert thinking41.thinking_enabled(False) is True
    assert thinking41.vocabulary == FAMILIES["glm-4.1v-base"].vocabulary == "glm4"
    for name in ("glm-4.5v", "glm-4.6v", "glm-4.6v-flash"):
        family = FAMILIES[name]
        assert family.can_switch_thinking and family.tool_calls and not family.answer_tags
        assert family.stop_tokens == ("<|endoftext|>", "<|user|>", "<|observation|>")
        assert family.thinking_end == ("</think>",)
        assert family.vocabulary == "glm45"
        assert family.thinking_enabled(None) is True and family.thinking_enabled(False) is False
    assert FAMILIES["glm-4.6v"].context_length == 131072
    assert FAMILIES["glm-4.5v"].context_length == 65536
    assert FAMILIES["glm-4.6v"].multimodal_tool_results and not FAMILIES["glm-4.5v"].multimodal_tool_results


@pytest.mark.parametrize(
    ("family", "seconds", "text"),
    [
        ("glm-4.1v-thinking", 0.0, "0"),
        ("glm-4.5v", 1.5, "1"),
        ("glm-4.6v", 0.5, "0.5 seconds"),
        ("glm-4.6v-flash", 12.0, "12.0 seconds"),
    ],
)
def test_video_timestamp_text(family, seconds, text):
    assert get_family(family).video_timestamp(seconds) == text


@pytest.mark.parametrize(
    ("family", "moe", "reasoning_parser", "tool_call_parser"),
    [
        ("glm-4.1v-thinking", False, "glm45", None),
        ("glm-4.1v-base", False, None, None),  # does not think: nothing for a reasoning parser to split
        ("glm-4.5v", True, "glm45", "glm45"),
        ("glm-4.6v", True, "glm45", "glm45"),
        ("glm-4.6v-flash", False, "glm45", "glm45"),
    ],
)
def test_architecture_and_serving_parsers(family, moe, reasoning_parser, tool_call_parser):
    fam = get_family(family)
    assert fam.moe is moe
    assert fam.reasoning_parser == reasoning_parser
    assert fam.tool_call_parser == tool_call_parser


@pytest.mark.parametrize(
    ("config", "moe"),
    [
        ({"model_type": "glm4v_moe"}, True),
        ({"model_type": "glm46v", "text_config": {"model_type": "glm4v_moe_text"}}, True),
        ({"model_type": "glm46v", "text_config": {"model_type": "glm4v_text"}}, False),
        ({"model_type": "glm4v"}, False),
    ],
)
def test_moe_follows_the_checkpoint_config(config, moe):
    assert detect_family(config).moe is moe


def test_the_106b_models_weigh_about_200_gib_in_bf16():
    assert 190 * 1024**3 < get_family("glm-4.5v").bf16_bytes < 210 * 1024**3
    assert get_family("glm-4.6v-flash").bf16_bytes < 24 * 1024**3


def _thinking_off_prompt(template: str) -> str:
    from importlib import resources

    import jinja2

    source = resources.files("glmv.templates").joinpath(template).read_text(encoding="utf-8")
    env = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"], trim_blocks=True, lstrip_blocks=True)
    messages = [{"role": "user", "content": "hi"}]
    return env.from_string(source).render(
        messages=messages, add_generation_prompt=True, enable_thinking=False
    )


@pytest.mark.parametrize("family", ["glm-4.5v", "glm-4.6v", "glm-4.6v-flash"])
def test_closed_thinking_is_what_the_template_writes_when_thinking_is_off(family):
    fam = get_family(family)
    assert fam.closed_thinking == "<think></think>"
    assert _thinking_off_prompt(fam.template).rstrip("\n").endswith(fam.closed_thinking)


def test_a_family_that_always_thinks_is_closed_with_its_answer_opened():
    fam = get_family("glm-4.1v-thinking")
    assert fam.closed_thinking == "<think></think><answer>"
    assert "<think>" not in _thinking_off_prompt(fam.template)  # its template cannot switch: glmv appends it
