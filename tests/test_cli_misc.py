"""Small things a user of the ``glmv`` command notices: ``--version``, ``glmv families`` on an 80-column
terminal, and ``glmv tiny-checkpoint`` onto a path that already exists."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

import glmv
from glmv.cli import app
from glmv.families import FAMILIES


def _glmv(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "glmv", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_version_prints_the_installed_version():
    result = _glmv("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"glmv {glmv.__version__}"
    assert glmv.__version__ == version("glmv")


def test_families_fits_80_columns_with_every_name_and_hub_id_in_full():
    result = _glmv("families", columns=80)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    words = result.stdout.split()
    for family in FAMILIES.values():
        assert family.name in words
        assert all(hub_id in words for hub_id in family.hub_ids)
    row = next(line for line in lines if line.split()[:1] == ["glm-4.5v"])
    assert row.split()[1:] == ["switchable", "no", "yes", "64K", "108B", "MoE"]


def test_tiny_checkpoint_onto_a_file_refuses_and_leaves_it(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    result = _glmv("tiny-checkpoint", "glm-4.6v-flash", str(target), "--force")
    assert result.returncode == 1
    assert "is a file, not a folder" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert target.read_text() == "mine"


def test_tiny_checkpoint_onto_a_folder_with_files_refuses_without_force(tmp_path):
    folder = tmp_path / "taught"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"a taught checkpoint")
    result = _glmv("tiny-checkpoint", "glm-4.6v-flash", str(folder))
    assert result.returncode == 1
    assert "pass --force" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert (folder / "model.safetensors").read_bytes() == b"a taught checkpoint"


@pytest.mark.parametrize("existing", ["empty folder", "folder with files and --force"])
def test_tiny_checkpoint_writes_into_an_empty_folder_or_with_force(tmp_path, existing):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    args = ["tiny-checkpoint", "glm-4.6v-flash", str(folder)]
    if existing != "empty folder":
        (folder / "model.safetensors").write_bytes(b"old")
        args.append("--force")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (folder / "model.safetensors").stat().st_size > 1000
    assert (folder / "config.json").exists()


def test_list_prompts_shows_the_taught_prompts_and_writes_their_images(tmp_path):
    from PIL import Image

    from glmv.testing import taught_conversations

    result = _glmv(
        "tiny-checkpoint", "glm-4.6v-flash", "--list-prompts", "--images", str(tmp_path), columns=200
    )
    assert result.returncode == 0, result.stderr
    for conversation in taught_conversations("glm-4.6v-flash"):
        assert conversation.name in result.stdout
    assert "What colour is this image?" in result.stdout and "blue 84×56" in result.stdout
    with Image.open(tmp_path / "blue.png") as image:
        assert image.size == (84, 56) and image.getpixel((0, 0)) == (30, 60, 220)


def test_tiny_checkpoint_without_a_folder_says_what_to_pass():
    result = _glmv("tiny-checkpoint", "glm-4.6v")
    assert result.returncode != 0
    assert "Name the folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("hidden", ["torch", "transformers"])
def test_chat_with_a_local_model_without_the_local_extra_says_what_to_install(tmp_path, hidden):
    (tmp_path / "config.json").write_text('{"model_type": "glm4v"}')
    program = (
        f"import sys; sys.modules[{hidden!r}] = None; "
        f"sys.argv = ['glmv', 'chat', '-m', {str(tmp_path)!r}, '-p', 'hi']; "
        "from glmv.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    error = " ".join(result.stderr.split())
    assert result.returncode == 1, result.stderr
    assert f"{hidden} (needed by running a model in-process) is not installed" in error
    assert "pip install 'glmv[local]'" in error
    assert "Traceback" not in result.stderr
