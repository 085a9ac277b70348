"""The public surface stays small and honest, and importing glmv stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC_MODULES = [
    "glmv",
    "glmv.errors",
    "glmv.families",
    "glmv.messages",
    "glmv.output",
    "glmv.media",
    "glmv.engine",
    "glmv.reward",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_lists_real_members_in_sorted_order(name):
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda s: (s.lower().lstrip("_"), s)) or exported == sorted(
        exported
    )
    for member in exported:
        assert getattr(module, member) is not None, f"{name}.{member} is listed in __all__ but missing"


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "code", ["import glmv", "import glmv.engine, glmv.media, glmv.messages, glmv.output"]
)
def test_import_does_not_load_torch_or_transformers(code):
    loaded = _imported_after(code)
    assert "torch" not in loaded
    assert "transformers" not in loaded


def test_cli_help_is_light_and_lists_commands():
    code = (
        "import sys\n"
        "from glmv.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "print(result.output)\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "NO-TORCH" in out
    assert "families" in out
