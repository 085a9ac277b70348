"""The layer rules of DESIGN.md, kept by a test: which room may import which, where torch may be imported, and
that only ``glmv.output`` writes regexes for GLM's ``<think>`` / ``<answer>`` / box markers.

The checks read the package's import statements and regex literals with :mod:`ast` (what an import linter
does); each rule is also run once on a small tree that breaks it, so a rule that can never fail is caught.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "glmv"

_BASE = {"errors", "settings"}
_LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "settings": set(),
    "families": _BASE,
    "media": _BASE | {"families"},
    "output": _BASE | {"families"},
    "messages": _BASE | {"families", "media", "output"},
    "actions": _BASE | {"families", "output"},
    "engine": _BASE | {"families", "media", "output", "messages", "actions"},
}
"""Room → the rooms below it that it may import (DESIGN.md, "Layers and their rooms")."""

APPLICATIONS = {"cli", "server", "web", "desktop", "reward", "grounding", "agent", "eval", "finetune"}
_BELOW_APPLICATIONS = set(_LAYERS)
_TESTING = _BASE | {"families", "media", "output", "messages", "actions", "engine"}

TORCH_ROOMS = ("glmv.engine.local", "glmv.engine.budget", "glmv.testing")
"""Where torch / transformers may be imported (module-name prefixes): the local engine, ``glmv.engine.local`` and
its parts ``glmv.engine.local_*`` (the decode loop, KV cache, sampling, caches), the thinking budget it applies per
row, and the tiny test checkpoints."""

_MARKER_REGEX = re.compile(r"think|of_box|<\|?/?answer|/\?answer|answer[>)]|\|answer", re.IGNORECASE)
_RE_FUNCTIONS = {"compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"}


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if target == "glmv"]
    return found


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _may_import(importer: str, target: str) -> bool:
    room, other = _room(importer), _room(target)
    if room is None or other is None or room == other or room == "__main__":
        return True
    if room in _LAYERS:
        return other in _LAYERS[room]
    if room == "testing":
        return other in _TESTING
    if room == "cli":
        return True  # the CLI starts every application
    if room in APPLICATIONS:
        # lower layers freely; another application only through its public package
        return other in _BELOW_APPLICATIONS or (other in APPLICATIONS and target == f"glmv.{other}")
    return False


def _regex_texts(tree: ast.AST) -> list[tuple[int, str]]:
    texts = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in _RE_FUNCTIONS
            and isinstance(func.value, ast.Name)
            and func.value.id == "re"
        ):
            continue
        pattern = node.args[0]
        if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str):
            texts.append((node.lineno, pattern.value))
        elif isinstance(pattern, ast.JoinedStr):
            text = "".join(
                part.value
                for part in pattern.values
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            texts.append((node.lineno, text))
    return texts


def check_tree(root: Path) -> list[Violation]:
    """Every breach of the layer rules in the package at ``root`` (a folder named like the package)."""
    violations = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in _imports(tree, module, path.name == "__init__.py"):
            top = target.split(".")[0]
            if top in ("torch", "transformers", "torchvision", "accelerate") and not module.startswith(
                TORCH_ROOMS
            ):
                violations.append(
                    Violation(module, line, f"imports {target} (only {', '.join(TORCH_ROOMS)})")
                )
            if top == "glmv" and not _may_import(module, target):
                violations.append(Violation(module, line, f"imports {target}, a room it may not import"))
        if _room(module) != "output":
            for line, text in _regex_texts(tree):
                if _MARKER_REGEX.search(text):
                    violations.append(
                        Violation(module, line, f"a regex for GLM markers ({text!r}) outside glmv.output")
                    )
    return violations


def test_the_package_keeps_the_layer_rules():
    violations = check_tree(PACKAGE)
    assert not violations, "Layer rules broken:\n" + "\n".join(map(str, violations))


def test_every_room_of_the_table_exists():
    rooms = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()}
    for room in _LAYERS:
        assert room in rooms, f"DESIGN.md names glmv.{room}, which the package lacks"


def _write(root: Path, files: dict[str, str]) -> Path:
    package = root / "glmv"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for folder in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()
    return package


@pytest.mark.parametrize(
    ("files", "breach"),
    [
        ({"families.py": "from glmv.engine import open_engine\n"}, "glmv.families:1: imports glmv.engine"),
        ({"output/parser.py": "from glmv.messages import user_message\n"}, "imports glmv.messages"),
        ({"media/images.py": "from ..engine import types\n"}, "imports glmv.engine"),
        ({"actions/parse.py": "import glmv.media\n"}, "imports glmv.media"),
        ({"server/app.py": "from glmv.reward.judge import LLMJudge\n"}, "imports glmv.reward.judge"),
        ({"reward/system.py": "import torch\n"}, "imports torch"),
        ({"engine/remote.py": "def f():\n    from transformers import AutoModel\n"}, "imports transformers"),
        ({"reward/format.py": "import re\nTHINK = re.compile(r'<think>')\n"}, "outside glmv.output"),
        ({"messages.py": "import re\nX = re.sub(rf'</?answer>{1}', '', 'a')\n"}, "outside glmv.output"),
    ],
    ids=[
        "families-imports-engine",
        "output-imports-messages",
        "relative-import-upwards",
        "actions-imports-media",
        "application-reaches-into-another",
        "torch-in-reward",
        "lazy-transformers-in-remote",
        "think-regex-in-reward",
        "answer-regex-in-messages",
    ],
)
def test_a_breach_is_reported(tmp_path, files, breach):
    violations = check_tree(_write(tmp_path, files))
    assert any(breach in str(v) for v in violations), violations


@pytest.mark.parametrize(
    "files",
    [
        {"engine/local.py": "import torch\nfrom glmv.messages import user_message\n"},
        {"cli/serve.py": "from glmv.server.app import run_server\n"},
        {"eval/math.py": "from glmv.reward import RewardSystem\n"},
        {"output/stream.py": "import re\nTHINK = re.compile(r'<think>')\n"},
        {"reward/gui_agent.py": "import re\nA = re.compile(r\"ANSWER\\(content='([^']*)'\\)\")\n"},
    ],
    ids=[
        "torch-in-local-engine",
        "cli-starts-server",
        "eval-uses-public-reward",
        "regex-in-output",
        "gui-answer",
    ],
)
def test_allowed_imports_pass(tmp_path, files):
    assert check_tree(_write(tmp_path, files)) == []
