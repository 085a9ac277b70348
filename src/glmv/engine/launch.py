"""Command builders that hand a GLM-V model to vLLM or SGLang (``glmv serve --engine vllm|sglang``).

glmv does not imitate these engines; it builds the command the GLM-V recipes use and runs it:

- vLLM (``vllm serve``): ``--tensor-parallel-size``, the glm45 reasoning parser, the family's tool-call parser
  (``glm45`` / ``glm47``) with ``--enable-auto-tool-choice`` (families that call tools), ``--allowed-local-media-path``,
  ``--mm-processor-cache-type shm``; with more than one GPU ``--mm-encoder-tp-mode data`` (the ViT's 12 heads do
  not split over 8 ranks) and, for MoE models, ``--enable-expert-parallel``; ``VLLM_VIDEO_LOADER_BACKEND=glm4_6v``
  for the GLM-4.6V video sampler.
- SGLang (``python -m sglang.launch_server``): ``--tp-size``, the glm45 reasoning parser, the tool-call parser,
  ``--mm-enable-dp-encoder`` with more than one GPU, ``SGLANG_VLM_CACHE_SIZE_MB=1024`` for video, and optionally
  ``--enable-custom-logit-processor`` (per-request thinking budgets; it runs client-sent code, trusted clients only).
  SGLang has no local-media folder option: it reads server-side paths as given.

The tensor-parallel size comes from the GPU count and memory and the model's weight size (the safetensors in a
local folder; otherwise the family's bf16 size) unless given.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from glmv.errors import ConfigError, MissingDependencyError
from glmv.families import Family, detect_family

__all__ = [
    "GpuInfo",
    "LaunchCommand",
    "build_command",
    "detect_gpus",
    "launch",
    "sglang_command",
    "tensor_parallel_size",
    "vllm_command",
    "weight_bytes",
]

_HEADROOM = 1.25  # weights plus room for the KV cache, activations and the vision encoder


@dataclass(frozen=True)
class GpuInfo:
    """The GPUs of this machine: how many and how much memory each has (bytes)."""

    count: int
    memory_bytes: int


@dataclass(frozen=True)
class LaunchCommand:
    """A command line and the environment variables it needs."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def shell(self) -> str:
        """The command as one copy-pasteable shell line."""
        prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in sorted(self.env.items()))
        return (prefix + " " if prefix else "") + shlex.join(self.argv)


def detect_gpus() -> GpuInfo:
    """The NVIDIA GPUs ``nvidia-smi`` reports (none when it is missing)."""
    if shutil.which("nvidia-smi") is None:
        return GpuInfo(0, 0)
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return GpuInfo(0, 0)
    sizes = [int(float(line)) * 1024 * 1024 for line in out.split() if line.strip()]
    return GpuInfo(len(sizes), min(sizes) if sizes else 0)


def weight_bytes(model: str, family: Family) -> int:
    """The size of the model's weights: the safetensors of a local folder, else the family's bf16 size."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        total = sum(path.stat().st_size for path in folder.glob("*.safetensors"))
        if total:
            return total
    return int(family.parameters_b * 1e9 * 2)  # bf16: 2 bytes per parameter


def tensor_parallel_size(weights: int, gpus: GpuInfo) -> int:
    """The smallest power of two of GPUs whose memory holds the weights with headroom (at most the GPU count)."""
    if gpus.count <= 1 or gpus.memory_bytes <= 0:
        return 1
    size = 1
    while size * 2 <= gpus.count and size * gpus.memory_bytes < weights * _HEADROOM:
        size *= 2
    return size


def _auto_tp(model: str, family: Family, tp: int | None, gpus: GpuInfo | None) -> int:
    if tp is not None:
        if tp < 1:
            raise ConfigError(f"--tensor-parallel-size must be at least 1, got {tp}.")
        return tp
    return tensor_parallel_size(weight_bytes(model, family), gpus or detect_gpus())


def vllm_command(
    model: str,
    *,
    family: Family | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    served_model_name: str | None = None,
    api_key: str | None = None,
    allowed_local_media_path: str | Path | None = None,
    tensor_parallel: int | None = None,
    gpus: GpuInfo | None = None,
    max_model_len: int | None = None,
    extra: tuple[str, ...] = (),
) -> LaunchCommand:
    """The ``vllm serve`` command for ``model`` (GLM-V recipe flags)."""
    family = family or detect_family(model)
    tp = _auto_tp(model, family, tensor_parallel, gpus)
    argv = ["vllm", "serve", model, "--host", host, "--port", str(port)]
    argv += ["--served-model-name", served_model_name or model, "--tensor-parallel-size", str(tp)]
    argv += ["--reasoning-parser", "glm45"]
    if family.tool_calls:
        argv += ["--tool-call-parser", family.tool_call_shape, "--enable-auto-tool-choice"]
    if allowed_local_media_path is not None:
        argv += ["--allowed-local-media-path", str(Path(allowed_local_media_path).expanduser().resolve())]
    argv += ["--mm-processor-cache-type", "shm"]
    if tp > 1:
        argv += ["--mm-encoder-tp-mode", "data"]
        if family.model_type == "glm4v_moe":
            argv += ["--enable-expert-parallel"]
    argv += ["--max-model-len", str(max_model_len or family.context_length)]
    if api_key:
        argv += ["--api-key", api_key]
    argv += list(extra)
    env = {"VLLM_VIDEO_LOADER_BACKEND": "glm4_6v"} if family.video_sampler == "glm46v" else {}
    return LaunchCommand(argv, env)


def sglang_command(
    model: str,
    *,
    family: Family | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    served_model_name: str | None = None,
    api_key: str | None = None,
    allowed_local_media_path: str | Path | None = None,
    tensor_parallel: int | None = None,
    gpus: GpuInfo | None = None,
    max_model_len: int | None = None,
    thinking_budgets: bool = False,
    extra: tuple[str, ...] = (),
) -> LaunchCommand:
    """The ``python -m sglang.launch_server`` command for ``model`` (GLM-V README flags)."""
    family = family or detect_family(model)
    tp = _auto_tp(model, family, tensor_parallel, gpus)
    argv = [
        sys.executable,
        "-m",
        "sglang.launch_server",
        "--model-path",
        model,
        "--host",
        host,
        "--port",
        str(port),
    ]
    argv += ["--served-model-name", served_model_name or model, "--tp-size", str(tp)]
    argv += ["--reasoning-parser", "glm45"]
    if family.tool_calls:
        argv += ["--tool-call-parser", family.tool_call_shape]
    if tp > 1:
        argv += ["--mm-enable-dp-encoder"]
    if max_model_len:
        argv += ["--context-length", str(max_model_len)]
    if thinking_budgets:
        argv += ["--enable-custom-logit-processor"]
    if api_key:
        argv += ["--api-key", api_key]
    argv += list(extra)
    notes = []
    if allowed_local_media_path is not None:
        notes.append("SGLang has no --allowed-local-media-path: it reads any server-side path it is sent.")
    return LaunchCommand(argv, {"SGLANG_VLM_CACHE_SIZE_MB": "1024"}, notes)


def build_command(engine: Literal["vllm", "sglang"], model: str, **options: object) -> LaunchCommand:
    """The launch command of ``engine`` (``vllm`` or ``sglang``) for ``model``."""
    if engine == "vllm":
        return vllm_command(model, **options)  # type: ignore[arg-type]
    if engine == "sglang":
        return sglang_command(model, **options)  # type: ignore[arg-type]
    raise ConfigError(f"Unknown serving engine {engine!r}; choose glmv, vllm or sglang.")


def _require(engine: str) -> None:
    if importlib.util.find_spec(engine) is None:
        install = "pip install 'vllm>=0.14'" if engine == "vllm" else "pip install 'sglang[all]>=0.5.10'"
        raise MissingDependencyError(engine, install)


def launch(engine: Literal["vllm", "sglang"], command: LaunchCommand) -> None:
    """Replace this process with ``command`` (checks first that the engine is installed)."""
    _require(engine)
    program = shutil.which(command.argv[0]) or command.argv[0]
    if not Path(program).exists():
        raise MissingDependencyError(f"the {command.argv[0]} program", "pip install 'vllm>=0.14'")
    os.execvpe(program, command.argv, {**os.environ, **command.env})
