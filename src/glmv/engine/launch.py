"""Command builders that hand a GLM-V model to vLLM or SGLang (``glmv serve --engine vllm|sglang``).

glmv does not imitate these engines; it builds the command the GLM-V recipes use and runs it. Both builders take
one frozen :class:`LaunchOptions`; the parsers come from the family (GLM-4.1V-Base, which does not think, gets no
reasoning parser; families without tools no tool-call parser), and the served name defaults to the family's
usual name (``glm-4.6v-flash``), as the recipes serve it.

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
local folder; otherwise the family's bf16 size) unless given. With no GPU visible (a dry run on a laptop) it is
sized for 80 GiB GPUs from the weights alone (the 106B models get 4), and the command's notes say so.
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
from glmv.settings import DEFAULT_HOST, DEFAULT_PORT

__all__ = [
    "REFERENCE_GPU_BYTES",
    "GpuInfo",
    "LaunchCommand",
    "LaunchOptions",
    "build_command",
    "detect_gpus",
    "launch",
    "sglang_command",
    "tensor_parallel_size",
    "vllm_command",
    "weight_bytes",
]

_HEADROOM = 1.25  # weights plus room for the KV cache, activations and the vision encoder
_MAX_TP = 8  # GPUs in one node: tensor parallel stays inside it
_GIB = 1024**3

REFERENCE_GPU_BYTES = 80 * _GIB
"""The GPU a launch is sized for when none is visible (the dry run on a laptop): an 80 GiB H100 / A100."""


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
    return family.bf16_bytes


def tensor_parallel_size(weights: int, gpus: GpuInfo) -> int:
    """The smallest power of two of GPUs whose memory holds the weights with headroom (at most the GPU count)."""
    if gpus.count <= 1 or gpus.memory_bytes <= 0:
        return 1
    size = 1
    while size * 2 <= gpus.count and size * gpus.memory_bytes < weights * _HEADROOM:
        size *= 2
    return size


def _size_without_gpus(weights: int) -> int:
    """The power of two of :data:`REFERENCE_GPU_BYTES` GPUs that holds the weights with headroom."""
    size = 1
    while size < _MAX_TP and size * REFERENCE_GPU_BYTES < weights * _HEADROOM:
        size *= 2
    return size


@dataclass(frozen=True)
class LaunchOptions:
    """Everything a vLLM / SGLang launch is given (each ``glmv serve`` option maps onto one field).

    ``family`` defaults to the one detected from ``model``; ``served_model_name`` to the family's usual name
    (``glm-4.6v-flash``, as the GLM-V recipes serve it; vLLM also accepts ``model`` as an alias).
    ``tensor_parallel=None`` sizes it from ``gpus`` (detected when None) and the weights; with no GPU visible
    it is sized from the model alone for :data:`REFERENCE_GPU_BYTES` GPUs, and the command's notes say so.
    ``max_model_len`` defaults to the family's context length on vLLM (SGLang keeps its own).
    ``thinking_budgets`` (SGLang) enables per-request thinking budgets: it runs client-sent code, so trusted
    clients only. ``extra`` is appended to the command line unchanged.
    """

    model: str
    family: Family | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    served_model_name: str | None = None
    api_key: str | None = None
    allowed_local_media_path: str | Path | None = None
    tensor_parallel: int | None = None
    gpus: GpuInfo | None = None
    max_model_len: int | None = None
    thinking_budgets: bool = False
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.tensor_parallel is not None and self.tensor_parallel < 1:
            raise ConfigError(f"--tensor-parallel-size must be at least 1, got {self.tensor_parallel}.")
        object.__setattr__(self, "extra", tuple(self.extra))

    @property
    def resolved_family(self) -> Family:
        """``family``, or the family detected from ``model``."""
        return self.family or detect_family(self.model)

    @property
    def served_name(self) -> str:
        """The model id clients send: ``served_model_name``, else the family's name."""
        return self.served_model_name or self.resolved_family.name


@dataclass(frozen=True)
class _Plan:
    family: Family
    tensor_parallel: int
    notes: tuple[str, ...]


def _plan(options: LaunchOptions) -> _Plan:
    family = options.resolved_family
    if options.tensor_parallel is not None:
        return _Plan(family, options.tensor_parallel, ())
    weights = weight_bytes(options.model, family)
    gpus = options.gpus or detect_gpus()
    if gpus.count > 0:
        size = tensor_parallel_size(weights, gpus)
        if size * gpus.memory_bytes >= weights * _HEADROOM:
            return _Plan(family, size, ())
        note = (
            f"The model's ~{weights / _GIB:.0f} GiB of weights need more than the {gpus.count} visible GPU(s) of "
            f"{gpus.memory_bytes / _GIB:.0f} GiB hold; the launch will likely run out of memory."
        )
        return _Plan(family, size, (note,))
    size = _size_without_gpus(weights)
    note = (
        f"No GPUs visible: tensor parallel {size} was sized from the model alone (~{weights / _GIB:.0f} GiB of "
        f"weights on {REFERENCE_GPU_BYTES // _GIB} GiB GPUs); pass --tensor-parallel-size to choose."
    )
    return _Plan(family, size, (note,))


def vllm_command(options: LaunchOptions) -> LaunchCommand:
    """The ``vllm serve`` command for ``options.model`` (GLM-V recipe flags)."""
    plan = _plan(options)
    family, tp = plan.family, plan.tensor_parallel
    model = options.model
    names = [options.served_name] + ([model] if model != options.served_name else [])
    argv = ["vllm", "serve", model, "--host", options.host, "--port", str(options.port)]
    argv += ["--served-model-name", *names, "--tensor-parallel-size", str(tp)]
    if family.reasoning_parser:
        argv += ["--reasoning-parser", family.reasoning_parser]
    if family.tool_call_parser:
        argv += ["--tool-call-parser", family.tool_call_parser, "--enable-auto-tool-choice"]
    if options.allowed_local_media_path is not None:
        folder = Path(options.allowed_local_media_path).expanduser().resolve()
        argv += ["--allowed-local-media-path", str(folder)]
    argv += ["--mm-processor-cache-type", "shm"]
    if tp > 1:
        argv += ["--mm-encoder-tp-mode", "data"]
        if family.moe:
            argv += ["--enable-expert-parallel"]
    argv += ["--max-model-len", str(options.max_model_len or family.context_length)]
    if options.api_key:
        argv += ["--api-key", options.api_key]
    argv += list(options.extra)
    env = {"VLLM_VIDEO_LOADER_BACKEND": "glm4_6v"} if family.video_sampler == "glm46v" else {}
    return LaunchCommand(argv, env, list(plan.notes))


def sglang_command(options: LaunchOptions) -> LaunchCommand:
    """The ``python -m sglang.launch_server`` command for ``options.model`` (GLM-V README flags)."""
    plan = _plan(options)
    family, tp = plan.family, plan.tensor_parallel
    argv = [sys.executable, "-m", "sglang.launch_server", "--model-path", options.model]
    argv += ["--host", options.host, "--port", str(options.port)]
    argv += ["--served-model-name", options.served_name, "--tp-size", str(tp)]
    if family.reasoning_parser:
        argv += ["--reasoning-parser", family.reasoning_parser]
    if family.tool_call_parser:
        argv += ["--tool-call-parser", family.tool_call_parser]
    if tp > 1:
        argv += ["--mm-enable-dp-encoder"]
    if options.max_model_len:
        argv += ["--context-length", str(options.max_model_len)]
    if options.thinking_budgets:
        argv += ["--enable-custom-logit-processor"]
    if options.api_key:
        argv += ["--api-key", options.api_key]
    argv += list(options.extra)
    notes = list(plan.notes)
    if options.allowed_local_media_path is not None:
        notes.append("SGLang has no --allowed-local-media-path: it reads any server-side path it is sent.")
    return LaunchCommand(argv, {"SGLANG_VLM_CACHE_SIZE_MB": "1024"}, notes)


def build_command(engine: Literal["vllm", "sglang"], options: LaunchOptions) -> LaunchCommand:
    """The launch command of ``engine`` (``vllm`` or ``sglang``) for ``options``."""
    if engine == "vllm":
        return vllm_command(options)
    if engine == "sglang":
        return sglang_command(options)
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
