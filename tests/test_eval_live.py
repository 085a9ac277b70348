"""glmv.eval on a taught tiny GLM-4.6V-Flash: in-process (LocalEngine) and through ``glmv serve`` on 127.0.0.1
(RemoteEngine), with real generation, the official protocol and its forced answer when the reasoning is cut.

The checkpoint has memorised glmv.testing's conversations, so the fixture sets replay those exact prompts
(``prompt="{question}"``, the same image), and every reply is known.
"""

from __future__ import annotations

import base64
import io

import pytest

from glmv.engine import open_engine
from glmv.eval import run
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer
from glmv.testing import taught_image

pytestmark = pytest.mark.slow

FAMILY = "glm-4.6v-flash"


def _blue() -> str:
    buffer = io.BytesIO()
    taught_image("blue").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


IMAGE_ROWS = [
    {"id": "colour", "question": "What colour is this image?", "answers": ["blue"], "image": _blue()}
]
TEXT_ROWS = [
    {"id": "sum", "question": "What is 15 + 27?", "answer": "42", "question_type": "open"},
    {"id": "count", "question": "Count from one to twenty.", "answer": "20", "question_type": "open"},
]


@pytest.fixture(scope="module")
def local(tiny_checkpoints):
    from glmv.engine.local import LocalEngine

    engine = LocalEngine(tiny_checkpoints(FAMILY))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def remote(local):
    with BackgroundServer(local, ServerSettings(model_name="tiny-flash")) as server:
        engine = open_engine(server.base_url, family=FAMILY)
        yield engine
        engine.close()


@pytest.fixture(params=["local", "remote"])
def engine(request, local, remote):
    return local if request.param == "local" else remote


def test_official_protocol_scores_the_taught_replies(engine, tmp_path):
    images = run(
        "docvqa", IMAGE_ROWS, engine, "official", prompt="{question}", out=tmp_path / "img", plots=False
    )
    (result,) = images.results
    assert result.reasoning == "The whole image is one flat colour: blue."
    assert result.answer == "blue" and result.score == 1.0 and result.passes == 1
    texts = run("mmmu", TEXT_ROWS, engine, "official", prompt="{question}", concurrency=2, plots=False)
    assert [(r.id, r.answer, r.score, r.passes) for r in texts.results] == [
        ("sum", "42", 1.0, 1),
        ("count", "20", 1.0, 1),
    ]
    assert texts.summary["budget_hit_rate"] == 0.0
    assert all(r.completion_tokens > 10 and r.reasoning_tokens > 10 for r in texts.results)


def test_a_reasoning_cut_at_the_budget_still_gets_an_answer(engine, local):
    outcome = run("mmmu", TEXT_ROWS[1:], engine, "budget 4", prompt="{question}", plots=False)
    (result,) = outcome.results
    assert result.budget_hit and result.passes == 2
    assert outcome.summary["decided_by_second_pass"] == 1
    assert local.count_tokens(result.reasoning) <= 5  # cut at the budget, not the ~40 tokens it would write
    assert result.reasoning.startswith("Counting: one")
    assert (
        result.content.strip() and result.answer
    )  # the forced answer pass wrote an answer, which was scored
    assert result.error is None and result.finish_reason == "stop"


def test_local_counts_reasoning_with_its_tokenizer_and_remote_estimates(local, remote):
    by_local = run("mmmu", TEXT_ROWS[:1], local, "official", prompt="{question}", plots=False)
    by_remote = run("mmmu", TEXT_ROWS[:1], remote, "official", prompt="{question}", plots=False)
    assert by_local.summary["reasoning_tokens_counted"] == "tokenizer"
    assert by_remote.summary["reasoning_tokens_counted"] == "estimated"
    assert by_local.results[0].reasoning_tokens == local.count_tokens(
        "I need to add 15 and 27. 15 + 27 = 42."
    )
    assert by_local.summary["score"] == by_remote.summary["score"] == 1.0


def test_the_cli_runs_a_local_checkpoint_with_a_budget(tiny_checkpoints, tmp_path):
    import json

    from typer.testing import CliRunner

    from glmv.cli import app

    data = tmp_path / "text.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in TEXT_ROWS))
    result = CliRunner().invoke(
        app,
        ["eval", "run", "mmmu", "--data", str(data), "-m", str(tiny_checkpoints(FAMILY)), "--budget", "4",
         "--prompt", "{question}", "--out", str(tmp_path / "out"), "--no-plots", "--concurrency", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["protocol"]["name"] == "budget 4" and summary["budget_hit_rate"] == 1.0
    assert summary["reasoning_tokens_counted"] == "tokenizer" and summary["mean_reasoning_tokens"] <= 5
