"""Shared pytest fixtures: offline Hugging Face caches and cached tiny GLM-V checkpoints.

Hugging Face isolation (automatic)
    ``HF_HOME`` points at a fresh temporary folder and ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1`` are set
    before any test module is imported (``pytest_configure``; huggingface_hub reads them at import), and the
    autouse fixture ``hf_offline`` re-applies them for every test. Nothing downloads; nothing touches ~/.cache.

Tiny checkpoints: ``tiny_checkpoints`` (session scope)
    A function ``get(family, taught=True) -> Path`` returning the folder of a tiny checkpoint of ``family``
    (any name ``glmv.families.get_family`` accepts). ``taught=True`` gives a checkpoint that replies to
    ``glmv.testing.TAUGHT_CONVERSATIONS[family]`` exactly with greedy decoding; ``taught=False`` a random-weight
    one. Each (family, taught) pair is built once per session (a taught one takes a few seconds on a CPU)::

        def test_something(tiny_checkpoints):
            folder = tiny_checkpoints("glm-4.5v")
            engine = open_engine(str(folder))
            for conv in taught_conversations("glm-4.5v"): ...

    Treat the folder as read-only: it is shared by every test of the session. Set ``GLMV_TINY_CACHE=/some/dir``
    to keep the checkpoints across runs; entries are keyed by a hash of the glmv.testing sources, the templates
    and the torch/transformers versions, and are written atomically, so concurrent runs and code changes are safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

_HF_HOME = Path(tempfile.mkdtemp(prefix="glmv-hf-home-"))
_HF_ENV = {
    "HF_HOME": str(_HF_HOME),
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(_HF_ENV)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def hf_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with Hugging Face offline and its caches in a temporary folder."""
    for key, value in _HF_ENV.items():
        monkeypatch.setenv(key, value)


def _cache_key() -> str:
    import torch
    import transformers

    digest = hashlib.sha256(f"{torch.__version__} {transformers.__version__}".encode())
    for package in ("glmv.testing", "glmv.templates"):
        for item in sorted(resources.files(package).iterdir(), key=lambda p: p.name):
            if item.name.endswith((".py", ".jinja")):
                digest.update(item.name.encode() + item.read_bytes())
    digest.update(resources.files("glmv").joinpath("families.py").read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Path]]:
    """``get(family, taught=True) -> Path``: a tiny checkpoint folder of ``family``, built once per session."""
    from glmv.families import get_family
    from glmv.testing import tiny_checkpoint

    cache_env = os.environ.get("GLMV_TINY_CACHE")
    root = Path(cache_env).expanduser() / _cache_key() if cache_env else tmp_path_factory.mktemp("tiny")
    root.mkdir(parents=True, exist_ok=True)
    built: dict[tuple[str, bool], Path] = {}

    def get(family: str, taught: bool = True) -> Path:
        name = get_family(family).name
        key = (name, taught)
        if key in built:
            return built[key]
        folder = root / f"{name}-{'taught' if taught else 'random'}"
        if not (folder / "model.safetensors").exists():
            staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
            tiny_checkpoint(name, staging, teach=taught)
            try:
                staging.rename(folder)
            except OSError:  # another run finished the same checkpoint first
                shutil.rmtree(staging, ignore_errors=True)
        built[key] = folder
        return folder

    yield get
