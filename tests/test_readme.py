"""The README's commands work as written: the no-GPU tour (tiny checkpoint, its prompts, chat, serve, chat
against the server) and the reward example, each run in a shell from a fresh folder.

``GLMV_README_BIN=DIR`` runs the commands with ``DIR`` first on ``PATH``: ``.ci/run`` points it at the ``bin`` of a
fresh virtual environment where only the README's install line ran, so the tour is checked as a newcomer meets it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from glmv.testing.serving import wait_until_healthy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_BIN = os.environ.get("GLMV_README_BIN")
_ENV = {**os.environ, "PATH": f"{_BIN}{os.pathsep}{os.environ['PATH']}"} if _BIN else None


def _section_block(title: str) -> list[str]:
    """The command lines of the first ```bash block after heading ``title``."""
    section = README.split(f"## {title}", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


def _run(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=600, env=_ENV
    )


def test_the_install_line_installs_what_the_tour_uses():
    install = _section_block("Install and run")[0]
    extras = re.search(r"pip install -e '\.\[([\w,]+)\]'", install).group(1).split(",")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    optional = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    declared = re.findall(r"^(\w+) = \[", optional, flags=re.MULTILINE)
    assert set(extras) <= set(declared)
    assert "serve" in extras or "all" in extras  # the tour runs glmv serve


def test_trying_it_without_a_gpu(tmp_path):
    lines = _section_block("Trying it without a GPU")
    server = None
    try:
        for line in lines:
            if line.endswith("&"):
                server = subprocess.Popen(
                    ["bash", "-c", f"exec {line[:-1]}"],
                    cwd=tmp_path,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=_ENV,
                )
                port = re.search(r"--port (\d+)", line).group(1)
                wait_until_healthy(f"http://127.0.0.1:{port}", server, timeout=120, interval=0.5)
                continue
            result = _run(line, tmp_path)
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr, line
            if "What colour is this image?" in line:
                assert "blue" in result.stdout.lower(), result.stdout
            if "15 + 27" in line:
                assert "42" in result.stdout, result.stdout
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


def test_the_reward_example(tmp_path):
    (tmp_path / "src").symlink_to(ROOT / "src")  # the README runs it from the repository root
    line = next(line for line in _section_block("Command line tour") if line.startswith("glmv reward score"))
    result = _run(line, tmp_path)
    assert result.returncode == 0, result.stderr
    scores = (tmp_path / "scores.jsonl").read_text().splitlines()
    assert len(scores) == len((ROOT / "src/glmv/reward/examples/quickstart.jsonl").read_text().splitlines())
