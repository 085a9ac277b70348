"""The vLLM / SGLang launch commands glmv builds from one `LaunchOptions`, and `glmv serve --engine ... --dry-run`."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from glmv.engine.launch import (
    GpuInfo,
    LaunchCommand,
    LaunchOptions,
    build_command,
    launch,
    sglang_command,
    tensor_parallel_size,
    vllm_command,
)
from glmv.errors import ConfigError, MissingDependencyError
from glmv.families import get_family

GiB = 1024**3
H100x8 = GpuInfo(8, 80 * GiB)


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.mark.parametrize(
    ("weights_gib", "gpus", "expected"),
    [
        (20, GpuInfo(8, 80 * GiB), 1),  # GLM-4.6V-Flash in bf16 fits one H100
        (214, GpuInfo(8, 80 * GiB), 4),  # GLM-4.5V bf16: four H100s (the recipe's TP 4)
        (108, GpuInfo(8, 80 * GiB), 2),  # GLM-4.5V-FP8
        (214, GpuInfo(2, 80 * GiB), 2),  # never more than the GPUs there are
        (214, GpuInfo(8, 141 * GiB), 2),  # H200
        (214, GpuInfo(0, 0), 1),
        (20, GpuInfo(1, 24 * GiB), 1),
    ],
)
def test_tensor_parallel_size(weights_gib, gpus, expected):
    assert tensor_parallel_size(weights_gib * GiB, gpus) == expected


def test_vllm_command_for_glm45v_follows_the_recipe(tmp_path):
    command = vllm_command(
        LaunchOptions(
            "zai-org/GLM-4.5V",
            host="0.0.0.0",
            port=8001,
            served_model_name="glm-4.5v",
            allowed_local_media_path=tmp_path,
            gpus=H100x8,
            api_key="k",
        )
    )
    argv = command.argv
    assert argv[:3] == ["vllm", "serve", "zai-org/GLM-4.5V"]
    assert _flag(argv, "--tensor-parallel-size") == "4"
    assert _flag(argv, "--reasoning-parser") == "glm45" and _flag(argv, "--tool-call-parser") == "glm45"
    assert "--enable-auto-tool-choice" in argv and "--enable-expert-parallel" in argv
    assert _flag(argv, "--mm-encoder-tp-mode") == "data" and _flag(argv, "--mm-processor-cache-type") == "shm"
    assert _flag(argv, "--allowed-local-media-path") == str(tmp_path.resolve())
    assert _flag(argv, "--served-model-name") == "glm-4.5v" and _flag(argv, "--port") == "8001"
    assert _flag(argv, "--max-model-len") == "65536" and _flag(argv, "--api-key") == "k"
    assert command.env == {}
    assert shlex.split(command.shell()) == argv


def test_vllm_command_for_a_single_gpu_flash_model():
    command = vllm_command(LaunchOptions("zai-org/GLM-4.6V-Flash", gpus=GpuInfo(1, 80 * GiB)))
    argv = command.argv
    assert _flag(argv, "--tensor-parallel-size") == "1"
    assert "--mm-encoder-tp-mode" not in argv and "--enable-expert-parallel" not in argv
    assert _flag(argv, "--max-model-len") == "131072"
    # Served as the recipes do, under the family's name, with the hub id accepted too.
    names = argv[argv.index("--served-model-name") + 1 : argv.index("--tensor-parallel-size")]
    assert names == ["glm-4.6v-flash", "zai-org/GLM-4.6V-Flash"]
    assert command.notes == []
    assert command.env == {"VLLM_VIDEO_LOADER_BACKEND": "glm4_6v"}
    assert command.shell().startswith("VLLM_VIDEO_LOADER_BACKEND=glm4_6v vllm serve ")


def test_glm41v_gets_no_tool_parser():
    argv = vllm_command(LaunchOptions("zai-org/GLM-4.1V-9B-Thinking", gpus=GpuInfo(1, 80 * GiB))).argv
    assert "--tool-call-parser" not in argv and "--enable-auto-tool-choice" not in argv
    assert _flag(argv, "--reasoning-parser") == "glm45"


def test_local_checkpoint_size_sets_the_tensor_parallel_size(tmp_path):
    (tmp_path / "config.json").write_text(
        '{"model_type": "glm4v_moe", "text_config": {"model_type": "glm4v_moe_text"}}'
    )
    for shard in range(3):
        with open(tmp_path / f"model-{shard}.safetensors", "wb") as handle:
            handle.truncate(40 * GiB)  # sparse: 120 GiB of "weights" without using disk
    command = vllm_command(LaunchOptions(str(tmp_path), gpus=H100x8))
    assert _flag(command.argv, "--tensor-parallel-size") == "2"


def test_sglang_command():
    command = sglang_command(
        LaunchOptions(
            "zai-org/GLM-4.6V",
            family=get_family("glm-4.6v"),
            gpus=H100x8,
            served_model_name="glm-4.6v",
            thinking_budgets=True,
            allowed_local_media_path="/data",
        )
    )
    argv = command.argv
    assert argv[:3] == [sys.executable, "-m", "sglang.launch_server"]
    assert _flag(argv, "--model-path") == "zai-org/GLM-4.6V" and _flag(argv, "--tp-size") == "4"
    assert _flag(argv, "--reasoning-parser") == "glm45" and _flag(argv, "--tool-call-parser") == "glm45"
    assert "--mm-enable-dp-encoder" in argv and "--enable-custom-logit-processor" in argv
    assert command.env == {"SGLANG_VLM_CACHE_SIZE_MB": "1024"}
    assert any("allowed-local-media-path" in note for note in command.notes)


def test_launch_without_the_engine_installed_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match="pip install 'vllm"):
        launch("vllm", LaunchCommand(["vllm", "serve", "x"]))


@pytest.mark.parametrize(("engine", "start"), [("vllm", "vllm serve"), ("sglang", "-m sglang.launch_server")])
def test_cli_dry_run_prints_the_command(engine, start):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "glmv",
            "serve",
            "--engine",
            engine,
            "-m",
            "zai-org/GLM-4.6V-Flash",
            "--tensor-parallel-size",
            "1",
            "--port",
            "8123",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert start in result.stdout and "--port 8123" in result.stdout
    assert "--reasoning-parser glm45" in result.stdout


NO_GPUS = GpuInfo(0, 0)


@pytest.mark.parametrize(
    ("model", "expected_tp"),
    [
        ("zai-org/GLM-4.5V", "4"),  # ~201 GiB of bf16 weights: four 80 GiB GPUs, the recipes' TP 4
        ("zai-org/GLM-4.6V", "4"),
        ("zai-org/GLM-4.6V-Flash", "1"),
        ("zai-org/GLM-4.1V-9B-Thinking", "1"),
    ],
)
@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_without_gpus_the_tensor_parallel_size_comes_from_the_model_and_a_note_says_so(
    engine, model, expected_tp
):
    command = build_command(engine, LaunchOptions(model, gpus=NO_GPUS))
    flag = "--tensor-parallel-size" if engine == "vllm" else "--tp-size"
    assert _flag(command.argv, flag) == expected_tp
    assert any(
        f"No GPUs visible: tensor parallel {expected_tp} was sized from the model" in n for n in command.notes
    )
    if expected_tp == "4":
        assert ("--mm-encoder-tp-mode" in command.argv) == (engine == "vllm")
        assert ("--enable-expert-parallel" in command.argv) == (engine == "vllm")


@pytest.mark.parametrize(
    ("model", "reasoning", "tools"),
    [
        ("zai-org/GLM-4.1V-9B-Base", None, None),  # does not think, calls no tools
        ("zai-org/GLM-4.1V-9B-Thinking", "glm45", None),
        ("zai-org/GLM-4.5V", "glm45", "glm45"),
        ("zai-org/GLM-4.6V-Flash", "glm45", "glm45"),
    ],
)
@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_parsers_come_from_the_family(engine, model, reasoning, tools):
    argv = build_command(engine, LaunchOptions(model, gpus=GpuInfo(8, 80 * GiB))).argv
    assert _flag(argv, "--reasoning-parser") == reasoning
    assert _flag(argv, "--tool-call-parser") == tools
    assert ("--enable-auto-tool-choice" in argv) == (engine == "vllm" and tools is not None)


def test_sglang_serves_under_the_family_name_by_default():
    argv = sglang_command(LaunchOptions("zai-org/GLM-4.5V-FP8", gpus=H100x8)).argv
    assert _flag(argv, "--served-model-name") == "glm-4.5v"


def test_launch_options_are_frozen_and_checked():
    options = LaunchOptions("zai-org/GLM-4.5V")
    with pytest.raises(AttributeError):
        options.port = 1  # type: ignore[misc]
    with pytest.raises(ConfigError, match="at least 1"):
        LaunchOptions("zai-org/GLM-4.5V", tensor_parallel=0)


def _dry_run(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    """``glmv serve ... --dry-run`` with only ``path`` on PATH: no nvidia-smi, so no GPUs are visible."""
    return subprocess.run(
        [sys.executable, "-m", "glmv", "serve", *args, "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": path},
    )


def test_cli_dry_run_without_gpus_sizes_a_106b_model_and_says_so(tmp_path):
    result = _dry_run("--engine", "vllm", "-m", "zai-org/GLM-4.6V", path=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "--tensor-parallel-size 4" in result.stdout
    assert "No GPUs visible" in result.stderr and "--tensor-parallel-size" in result.stderr


def test_cli_dry_run_takes_the_family_from_family(tmp_path):
    """A model whose name says nothing of its family: --family tells, and its parsers follow."""
    result = _dry_run(
        "--engine", "vllm", "-m", "my-org/finetune-7", "--family", "glm-4.1v-base", path=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    argv = shlex.split(result.stdout)
    assert "--reasoning-parser" not in argv and "--tool-call-parser" not in argv
    assert argv[argv.index("--served-model-name") + 1 : argv.index("--tensor-parallel-size")] == [
        "glm-4.1v-base",
        "my-org/finetune-7",
    ]


def test_cli_dry_run_of_an_unknown_model_name_points_at_family(tmp_path):
    result = _dry_run("--engine", "sglang", "-m", "my-org/finetune-7", path=str(tmp_path))
    assert result.returncode == 1
    assert "--family glm-4.6v-flash" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_a_model_too_big_for_the_visible_gpus_gets_a_warning_note():
    command = vllm_command(LaunchOptions("zai-org/GLM-4.5V", gpus=GpuInfo(1, 80 * GiB)))
    assert _flag(command.argv, "--tensor-parallel-size") == "1"
    assert any("need more than the 1 visible GPU(s) of 80 GiB" in note for note in command.notes)
    assert vllm_command(LaunchOptions("zai-org/GLM-4.5V", gpus=H100x8)).notes == []
