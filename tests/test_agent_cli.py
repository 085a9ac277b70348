"""``glmv agent`` end to end on the command line: a dry run records a trajectory and its report, ``replay`` and
``score`` read it back, and a risky action with nobody to answer is refused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from glmv.agent import load_trajectory
from glmv.cli import app
from glmv.engine import register_engine
from glmv.engine.scripted import ScriptedEngine

B, E = "<|begin_of_box|>", "<|end_of_box|>"


@pytest.fixture()
def engine():
    scripted = ScriptedEngine(family="glm-4.5v")
    register_engine("test-agent:", lambda spec, **options: scripted)
    return scripted


def pc(action: str) -> str:
    return f"<think>Looking.</think>Acting. {B}{action}{E}\nMemory:\n[]"


def test_dry_run_records_replays_and_scores(engine, tmp_path):
    engine.enqueue(pc("left_click(start_box='[500,500]')"), pc("key(keys='ctrl+shift+delete')"), pc("DONE()"))
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["agent", "desktop", "Tidy up", "--dry-run", "--record", str(run), "-m", "test-agent:"],
        input="n\n",
    )
    assert result.exit_code == 0, result.output
    assert "Result: finished after 3 steps" in result.stderr
    assert "step 2: key(keys='ctrl+shift+delete') → refused" in result.stderr
    trajectory = load_trajectory(run)
    assert [step["status"] for step in trajectory.steps] == ["acted", "refused", "done"]
    assert trajectory.steps[0]["pixels"]["point"] == [640.0, 400.0]
    assert (run / "report.html").is_file()

    replayed = CliRunner().invoke(app, ["agent", "replay", str(run), "--executor", "dry-run", "--delay", "0"])
    assert replayed.exit_code == 0, replayed.output
    assert "Replayed 1 steps, 0 failed." in replayed.stderr

    truths = tmp_path / "gt.jsonl"
    truths.write_text('"left_click(start_box=\'[500,500]\')"\n"key(keys=\'ctrl+shift+delete\')"\n"DONE()"\n')
    scored = CliRunner().invoke(app, ["agent", "score", str(run), "--gt", str(truths), "--json"])
    assert scored.exit_code == 0, scored.output
    rewards = [json.loads(line)["reward"] for line in scored.stdout.splitlines()]
    assert rewards == [1.0, 1.0, 1.0]


def test_web_dry_run_prints_the_answer(engine, tmp_path):
    engine.enqueue("Thought: done\nAction: ANSWER; <content>Open 9-17</content>\nMemory_Updated: {}")
    result = CliRunner().invoke(
        app,
        [
            "agent",
            "web",
            "Opening hours?",
            "--url",
            "http://127.0.0.1:9/",
            "--dry-run",
            "--record",
            str(tmp_path / "r"),
            "-m",
            "test-agent:",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Open 9-17"
    header = load_trajectory(tmp_path / "r").header
    assert header["settings"]["allow_domains"] == ["127.0.0.1"] and header["settings"]["temperature"] == 0.001


def test_an_unknown_confirm_policy_is_a_clear_error(engine, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "agent",
            "desktop",
            "x",
            "--dry-run",
            "--confirm",
            "sometimes",
            "--record",
            str(tmp_path / "r"),
            "-m",
            "test-agent:",
        ],
    )
    assert result.exit_code != 0
    assert "--confirm must be one of never, risky, always" in str(result.exception)
