"""``glmv eval`` as a user runs it: ``run`` against a server on 127.0.0.1 (``--api``), killed mid-run and
resumed, ``compare`` of two runs, ``tasks``, and the one-line errors for bad input."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from glmv.cli import app
from glmv.engine.scripted import ScriptedEngine
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer
from glmv.testing.serving import free_port

REPLY = "<think>The bar is tall.</think>It is <|begin_of_box|>10<|end_of_box|>."


def _png(shade: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), (shade, shade, 255)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eval-cli") / "chartqa.jsonl"
    rows = [
        {"id": f"c{n}", "question": f"Bar {n}?", "answer": "10" if n % 3 else "20", "image": _png(n * 10),
         "type": "human" if n % 2 else "augmented"}
        for n in range(12)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def slow_server():
    engine = ScriptedEngine(default=REPLY, family="glm-4.6v", delay=0.01)
    with BackgroundServer(engine, ServerSettings(model_name="glm-4.6v")) as server:
        yield server


def _glmv(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "glmv", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_run_against_a_server_prints_the_score_and_writes_every_report(tmp_path, data, slow_server):
    result = CliRunner().invoke(
        app,
        ["eval", "run", "chartqa", "--data", str(data), "--api", slow_server.base_url, "--out", str(tmp_path),
         "--concurrency", "4", "--filter", "category=human", "--limit", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = _summary(tmp_path)
    assert summary["questions"] == 4 and summary["score"] == 0.75  # c3 expects 20
    assert "ChartQA (official): 75.00" in result.output
    assert {p.name for p in tmp_path.iterdir()} >= {
        "results.jsonl", "summary.json", "report.md", "run.json",
        "score_per_category.png", "reasoning_length.png", "score_vs_reasoning.png",
    }  # fmt: skip
    record = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[0])
    assert record["reasoning"] == "The bar is tall." and record["answer"] == "10" and record["pass"] == 1
    assert record["completion_tokens"] > 0 and record["latency_s"] > 0


def test_a_killed_run_resumes_to_the_same_summary(tmp_path, data, slow_server):
    args = ["eval", "run", "chartqa", "--data", str(data), "--api", slow_server.base_url, "--no-plots"]
    whole = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "glmv", *args, "--out", str(tmp_path / "cut")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    results = tmp_path / "cut" / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    done = len(results.read_text().splitlines())
    assert 3 <= done < 12, "the run must be killed mid-way"
    assert not (tmp_path / "cut" / "summary.json").exists()
    resumed = _glmv(*args, "--out", str(tmp_path / "cut"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _summary(tmp_path / "cut") == _summary(tmp_path / "whole")
    ids = [json.loads(line)["id"] for line in results.read_text().splitlines()]
    assert sorted(ids) == sorted(f"c{n}" for n in range(12))  # nothing asked twice


def test_an_engine_that_is_gone_stops_with_a_resume_hint(tmp_path, data):
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = _glmv(
        "eval", "run", "chartqa", "--data", str(data), "--api", url, "--out", str(tmp_path), "--no-plots"
    )
    assert result.returncode == 1
    assert (
        "Stopped" in result.stderr
        and "--resume" in result.stderr
        and "Is the server running?" in result.stderr
    )
    assert _summary(tmp_path)["complete"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "run", "docvqa", "--api", "http://127.0.0.1:9/v1"], "--column answers=YOUR_COLUMN"),
        (["eval", "run", "nosuch", "--api", "http://127.0.0.1:9/v1"], "Known tasks: ai2d"),
        (
            ["eval", "run", "chartqa", "--protocol", "sometimes", "--api", "http://127.0.0.1:9/v1"],
            "Unknown protocol",
        ),
        (["eval", "run", "chartqa", "--column", "question", "--api", "http://127.0.0.1:9/v1"], "NAME=VALUE"),
        (["eval", "run", "chartqa"], "-m MODEL"),
    ],
    ids=["missing-columns", "unknown-task", "unknown-protocol", "bad-mapping", "no-engine"],
)
def test_bad_input_is_one_line_not_a_traceback(tmp_path, data, args, message):
    result = _glmv(*args, "--data", str(data), "--out", str(tmp_path))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_compare_prints_the_interval_and_the_flipped_items(tmp_path, data, slow_server):
    runner = CliRunner()
    base = [
        "eval",
        "run",
        "chartqa",
        "--data",
        str(data),
        "--api",
        slow_server.base_url,
        "--no-plots",
        "--limit",
        "6",
    ]
    assert runner.invoke(app, [*base, "--out", str(tmp_path / "a")]).exit_code == 0
    assert runner.invoke(app, [*base, "--out", str(tmp_path / "b"), "--prompt", "{question}"]).exit_code == 0
    results = tmp_path / "b" / "results.jsonl"
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    for line in lines:
        line["score"] = 1.0 if line["id"] in ("c0", "c3") else line["score"]
    results.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = runner.invoke(
        app, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--resamples", "500"]
    )
    assert result.exit_code == 0, result.output
    assert "2 questions flipped" in result.output and "c0: 0 → 1" in result.output
    assert "+33.33" in result.output


def test_tasks_lists_every_builtin_task():
    result = CliRunner().invoke(app, ["eval", "tasks"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    for name in ("mmmu", "mathvista", "chartqa", "docvqa", "infovqa", "textvqa", "ocrbench", "ai2d", "mmbench",
                 "mmstar", "refcoco", "screenspot", "screenspot-v2", "videomme"):  # fmt: skip
        assert name in result.output


def test_a_task_published_under_the_entry_point_group_is_listed(tmp_path):
    (tmp_path / "mybench.py").write_text(
        "from glmv.eval import Task\n\n"
        "class MyBench(Task):\n    name = 'mybench'\n    title = 'My own bench'\n\n"
        "    def score(self, prediction, item):\n        return float(prediction == item.gold)\n"
    )
    info = tmp_path / "mybench-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mybench\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[glmv.tasks]\nmybench = mybench:MyBench\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "160", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "glmv", "eval", "tasks"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "mybench" in result.stdout and "My own bench" in result.stdout
