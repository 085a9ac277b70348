"""``glmv reward score`` and ``glmv reward demo`` through the real console script entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files


def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glmv", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_score_writes_results_and_a_summary_table(tmp_path):
    config = files("glmv.reward").joinpath("examples/demo.yaml").read_text()
    (tmp_path / "cfg.yaml").write_text(config)
    answer = "<think>15 + 27 = 42</think><answer><|begin_of_box|>{}<|end_of_box|></answer>"
    rows = [
        {
            "prompt": "15 + 27?",
            "answer": answer.format("42"),
            "gt_answer": answer.format("42"),
            "datasource": "math",
        },
        {
            "prompt": "15 + 27?",
            "answer": answer.format("41"),
            "gt_answer": answer.format("42"),
            "datasource": "math",
        },
        {"answer": answer.format("EXIT"), "gt_answer": answer.format("EXIT"), "datasource": "ocr"},
    ]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = _run("reward", "score", "--config", "cfg.yaml", "data.jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["reward"] for r in out] == [1.0, 0.0, 1.0]
    assert out[1]["extracted_answer"] == "41" and out[1]["prompt"] == "15 + 27?"
    assert "mean reward" in done.stdout and "math" in done.stdout and "0.500" in done.stdout


def test_unknown_datasource_is_a_one_line_error(tmp_path):
    config = files("glmv.reward").joinpath("examples/demo.yaml").read_text()
    (tmp_path / "cfg.yaml").write_text(config)
    (tmp_path / "data.jsonl").write_text(
        json.dumps({"answer": "a", "gt_answer": "b", "datasource": "x"}) + "\n"
    )
    done = _run("reward", "score", "-c", "cfg.yaml", "data.jsonl", cwd=tmp_path)
    assert done.returncode == 1 and "No reward config found for datasource: x" in done.stderr


def test_demo_runs_offline(tmp_path):
    done = _run("reward", "demo", "-o", "demo.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "demo.jsonl").read_text().splitlines()]
    assert len(out) == 15 and all(r["error"] is None for r in out)
    assert out[0]["reward"] == 1.0 and "AndroidWorld" in done.stdout
