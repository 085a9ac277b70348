"""``glmv data convert / check / show / stats`` as a user runs them: messages, exit codes, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from glmv.cli import app

GOOD = {
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "red.png"}},
                {"type": "text", "text": "Colour?"},
            ],
        },
        {
            "role": "assistant",
            "content": "It is <|begin_of_box|>red<|end_of_box|>.",
            "reasoning_content": "Red pixels.",
        },
    ]
}


@pytest.fixture
def data(tmp_path) -> Path:
    Image.new("RGB", (56, 56), (220, 30, 30)).save(tmp_path / "red.png")
    missing = {
        "messages": [
            {**GOOD["messages"][0], "content": [{"type": "image_url", "image_url": {"url": "gone.png"}}]},
            GOOD["messages"][1],
        ]
    }
    lines = [json.dumps(GOOD), "{broken", json.dumps(missing), json.dumps(GOOD)]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def glmv(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["data", *args], catch_exceptions=False, terminal_width=200)
    return result.exit_code, result.output


def test_convert_reports_bad_lines_and_converts_the_rest(data, tmp_path):
    code, out = glmv(
        "convert", str(data), "-o", str(tmp_path / "lf"), "--family", "glm-4.5v", "--to", "llamafactory"
    )
    assert code == 0
    assert f"{data}:2" in out and "broken-json" in out
    assert f"{data}:3" in out and "missing-media" in out
    assert "Converted 2 sample(s)" in out and "2 left out" in out
    assert len((tmp_path / "lf" / "data.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "lf" / "dataset_info.json").is_file()


def test_convert_strict_stops_and_writes_nothing(data, tmp_path):
    code, out = glmv(
        "convert", str(data), "-o", str(tmp_path / "s"), "-f", "glm-4.5v", "--to", "swift", "--strict"
    )
    assert code == 1 and "nothing was written" in out and f"{data}:2" in out
    assert not (tmp_path / "s").exists()


def test_check_exits_non_zero_on_problems_that_break_training(data, tmp_path):
    png = tmp_path / "hist.png"
    code, out = glmv("check", str(data), "-f", "glm-4.5v", "--max-length", "20", "--histogram", str(png))
    assert code == 1
    assert "broken-json" in out and "missing-media" in out and "too-long" in out
    assert "estimated" in out and Image.open(png).format == "PNG"


def test_check_passes_a_clean_converted_dataset(data, tmp_path):
    glmv("convert", str(data), "-o", str(tmp_path / "sw"), "-f", "glm-4.1v-thinking", "--to", "swift")
    code, out = glmv(
        "check", str(tmp_path / "sw"), "-f", "glm-4.1v-thinking", "--histogram", str(tmp_path / "h.png")
    )
    assert code == 0, out
    assert "Nothing would break training" in out and "duplicate" in out  # the two good lines are the same


def test_show_renders_the_template_with_image_tokens_inline(data):
    code, out = glmv("show", str(data), "-n", "1", "-f", "glm-4.1v-thinking")
    assert code == 0
    assert "[gMASK]<sop><|user|>" in out and "[<|image|> x 9]" in out
    assert "<answer>" in out and "Red pixels." in out and "trained (highlighted green)" in out


def test_stats_table(data):
    code, out = glmv("stats", str(data), "-f", "glm-4.5v")
    assert code == 0
    assert "openai" in out and "1 record(s) could not be read" in out


def test_unknown_family_is_one_line_not_a_traceback(data, tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "glmv",
            "data",
            "convert",
            str(data),
            "-o",
            str(tmp_path / "x"),
            "-f",
            "glm-9v",
            "--to",
            "swift",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "Unknown GLM-V family" in run.stderr and "Traceback" not in run.stderr
