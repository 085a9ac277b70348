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
    assert "Mean reward per datasource" in done.stdout and "math" in done.stdout and "0.500" in done.stdout


def test_an_unknown_datasource_is_an_error_record_not_a_stop(tmp_path):
    config = files("glmv.reward").joinpath("examples/demo.yaml").read_text()
    (tmp_path / "cfg.yaml").write_text(config)
    answer = "<think></think><answer><|begin_of_box|>4<|end_of_box|></answer>"
    rows = [
        {"answer": answer, "gt_answer": "4", "datasource": "x"},
        {"answer": answer, "gt_answer": "4", "datasource": "math"},
    ]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = _run("reward", "score", "-c", "cfg.yaml", "data.jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert "No reward config found for datasource: x" in out[0]["error"] and out[0]["line"] == 1
    assert out[1]["reward"] == 1.0 and out[1]["error"] is None
    assert "line 1: unknown datasource: No reward config found for datasource: x" in done.stderr


def test_the_readme_example_scores_as_the_readme_shows(tmp_path):
    """The README's command, run from the repository root on the shipped quickstart file."""
    examples = files("glmv.reward").joinpath("examples")
    done = _run(
        "reward",
        "score",
        "--config",
        str(examples.joinpath("demo.yaml")),
        str(examples.joinpath("quickstart.jsonl")),
        "-o",
        str(tmp_path / "scores.jsonl"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert [(r["uuid"], r["reward"]) for r in out] == [
        ("q1-a", 1.0),  # plain ground truth "4"
        ("q1-b", 0.0),  # a wrong answer
        ("q1-c", 0.0),  # no <think> block: fails the format gate
        ("q2-a", 1.0),  # GLM-4.5V form, 0.75 = \frac{3}{4}
        ("q3-a", 1.0),  # the official ground-truth layout
        ("q4-a", 1.0),  # a JSON number as the ground truth
        ("q5-a", 1.0),
    ]
    assert all(r["error"] is None for r in out) and "errors" not in done.stderr
    assert out[2]["reason"].startswith("format:")


def test_demo_runs_offline(tmp_path):
    done = _run("reward", "demo", "-o", "demo.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "demo.jsonl").read_text().splitlines()]
    assert len(out) == 15 and all(r["error"] is None for r in out)
    assert out[0]["reward"] == 1.0 and "AndroidWorld" in done.stdout
