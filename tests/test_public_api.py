"""The public surface stays small and honest, and importing glmv stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

PUBLIC_MODULES = [
    "glmv",
    "glmv.actions",
    "glmv.agent",
    "glmv.agent.executors",
    "glmv.desktop",
    "glmv.engine",
    "glmv.errors",
    "glmv.eval",
    "glmv.eval.scoring",
    "glmv.families",
    "glmv.finetune",
    "glmv.grounding",
    "glmv.media",
    "glmv.messages",
    "glmv.output",
    "glmv.reward",
    "glmv.settings",
    "glmv.web",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_lists_real_members_in_sorted_order(name):
    module = importlib.import_module(name)
    exported = list(module.__all__)
    isort_style = sorted(exported, key=lambda s: (0 if s.isupper() else 1 if s[:1].isupper() else 2, s))
    assert exported in (
        sorted(exported, key=lambda s: (s.lower().lstrip("_"), s)),
        sorted(exported),
        isort_style,
    )
    for member in exported:
        assert getattr(module, member) is not None, f"{name}.{member} is listed in __all__ but missing"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_complete(name):
    """Every public name a package defines or imports for its users is in ``__all__`` (as httpx checks)."""
    module = importlib.import_module(name)
    public = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_") and not isinstance(value, types.ModuleType) and member != "annotations"
    }

    def home(member: str) -> str:
        return getattr(vars(module)[member], "__module__", None) or name

    package = "glmv" if name == "glmv" else name
    defined_here = {m for m in public if home(m) == package or home(m).startswith(package + ".")}
    missing = sorted(defined_here - set(module.__all__))
    assert not missing, f"{name} defines public names missing from __all__: {missing}"


def test_the_main_nouns_and_verbs_come_from_glmv():
    import glmv

    for member in (
        "open_engine",
        "ChatRequest",
        "Reply",
        "parse_reply",
        "StreamParser",
        "Conversation",
        "RewardSystem",
        "render_reply",
        "parse_action",
        "chat",
    ):
        assert member in glmv.__all__ and getattr(glmv, member) is not None


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
