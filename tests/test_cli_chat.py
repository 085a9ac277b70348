"""``glmv chat`` one-shot (``-p``): a taught tiny GLM-4.6V-Flash checkpoint, real image / PDF files, ``--json``
for scripts, streamed text for people, boxes drawn on the image, thinking switches and budgets, ``--api`` against
a real ``glmv serve`` on 127.0.0.1, and the errors a user meets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glmv.cli import app
from glmv.testing import taught_conversations, taught_image

pytestmark = pytest.mark.slow

FAMILY = "glm-4.6v-flash"
CONVERSATIONS = {c.name: c for c in taught_conversations(FAMILY)}


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoints) -> str:
    return str(tiny_checkpoints(FAMILY))


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    paths = {}
    for name in ("red", "blue", "green"):
        paths[name] = tmp_path / f"{name}.png"
        taught_image(name).save(paths[name])
    return paths


def chat(*args: str) -> tuple[int, str]:
    """Run ``glmv chat ARGS`` in-process; its exit code and standard output."""
    result = CliRunner().invoke(app, ["chat", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def test_json_reply_for_scripts(checkpoint, images):
    conv = CONVERSATIONS["grounding"]
    prompt = conv.messages[0]["content"][-1]["text"]
    code, out = chat("-m", checkpoint, "-p", prompt, "-i", str(images["red"]), "--temperature", "0", "--json")
    assert code == 0
    reply = json.loads(out)
    assert {"reasoning", "content", "answer", "boxes", "tool_calls", "finish_reason", "usage"} <= set(reply)
    assert reply["reasoning"] == "The red square is in the picture."
    assert reply["content"] == "The red square is at [[100,200,300,400]]."
    assert reply["boxes"] == [[100, 200, 300, 400]]
    assert reply["finish_reason"] == "stop"
    assert reply["usage"]["completion_tokens"] > 10 and reply["usage"]["prompt_tokens"] > 10


def test_several_images_in_order(checkpoint, images):
    conv = CONVERSATIONS["two-images"]
    prompt = conv.messages[0]["content"][-1]["text"]
    args = ["-m", checkpoint, "-p", prompt, "--temperature", "0", "--json"]
    code, out = chat(*args, "-i", str(images["green"]), "-i", str(images["red"]))
    assert code == 0 and json.loads(out)["content"] == "The first is green, the second is red."
    one = json.loads(chat(*args, "-i", str(images["green"]))[1])
    assert one["usage"]["prompt_tokens"] < json.loads(out)["usage"]["prompt_tokens"]


def test_streamed_answer_and_boxes_drawn_on_the_image(checkpoint, images, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conv = CONVERSATIONS["grounding"]
    prompt = conv.messages[0]["content"][-1]["text"]
    code, out = chat("-m", checkpoint, "-p", prompt, "-i", str(images["red"]), "--temperature", "0")
    assert code == 0
    assert "The red square is in the picture." in out  # reasoning shown
    assert "The red square is at [[100,200,300,400]]." in out
    drawn = tmp_path / "red-boxes.png"
    assert f"Boxes drawn on {drawn}" in out.replace("\n", "")
    from PIL import Image

    with Image.open(drawn) as picture:
        assert picture.size == taught_image("red").size
        assert picture.convert("RGB").tobytes() != taught_image("red").tobytes()


def test_hide_thinking(checkpoint):
    code, out = chat("-m", checkpoint, "-p", "What is 15 + 27?", "--temperature", "0", "--hide-thinking")
    assert code == 0
    assert "The sum is 42." in out
    assert "I need to add" not in out


def test_no_think_and_budget_map_onto_the_request(checkpoint):
    code, out = chat(
        "-m", checkpoint, "-p", "What is the capital of France?", "--no-think", "--temperature", "0"
    )
    assert code == 0 and "The capital of France is Paris." in out
    code, out = chat(
        "-m", checkpoint, "-p", "Count from one to twenty.", "--budget", "3", "--max-tokens", "20",
        "--temperature", "0", "--json",
    )  # fmt: skip
    reply = json.loads(out)
    assert code == 0 and len(reply["reasoning"].split()) <= 3
    assert reply["content"]


def test_max_tokens(checkpoint):
    code, out = chat(
        "-m", checkpoint, "-p", "What is 15 + 27?", "--max-tokens", "5", "--temperature", "0", "--json"
    )
    reply = json.loads(out)
    assert code == 0
    assert reply["finish_reason"] == "length" and reply["usage"]["completion_tokens"] == 5


def test_a_pdf_file(checkpoint, tmp_path):
    from PIL import Image

    pdf = tmp_path / "report.pdf"
    pages = [Image.new("RGB", (40, 30), (200, 30, 30)), Image.new("RGB", (40, 30), (30, 30, 200))]
    pages[0].save(pdf, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    code, out = chat("-m", checkpoint, "-p", "Summarise.", "--file", str(pdf), "--max-tokens", "3", "--json")
    text_only = json.loads(chat("-m", checkpoint, "-p", "Summarise.", "--max-tokens", "3", "--json")[1])
    assert code == 0
    assert json.loads(out)["usage"]["prompt_tokens"] > text_only["usage"]["prompt_tokens"] + 2


def test_api_talks_to_a_server(tmp_path):
    from glmv.engine.scripted import ScriptedEngine
    from glmv.server import ServerSettings
    from glmv.server.background import BackgroundServer

    engine = ScriptedEngine(default="<think>Looking.</think>\nIt is <|begin_of_box|>blue<|end_of_box|>.")
    settings = ServerSettings(model_name="remote-glm", api_key="sesame")
    with BackgroundServer(engine, settings) as server:
        code, out = chat(
            "--api",
            server.base_url,
            "-m",
            "remote-glm",
            "--family",
            "glm-4.6v",
            "--api-key",
            "sesame",
            "-p",
            "Colour?",
            "--json",
        )
        assert code == 0
        reply = json.loads(out)
        assert reply["answer"] == "blue" and reply["reasoning"] == "Looking."
        assert engine.history[-1].messages[-1]["content"] == "Colour?"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "glmv",
                "chat",
                "--api",
                server.base_url,
                "-m",
                "remote-glm",
                "--api-key",
                "wrong",
                "-p",
                "Colour?",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "Error:" in result.stderr


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("{tmp}", "has no config.json"),
        ("zai-org/GLM-4.6V-Flash", "HF_HUB_OFFLINE is set"),
    ],
    ids=["folder-without-config", "hub-id-offline"],
)
def test_model_that_cannot_be_loaded_is_a_one_line_error(tmp_path, model, message):
    result = subprocess.run(
        [sys.executable, "-m", "glmv", "chat", "-m", model.format(tmp=tmp_path), "-p", "hi"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Error:" in result.stderr and message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_load_continues_a_saved_conversation(checkpoint, tmp_path):
    from glmv.messages import Conversation
    from glmv.output import parse_reply

    conv = CONVERSATIONS["multi-turn"]  # "What is 2 + 2?" / "2 + 2 = 4." / "And 3 + 3?"
    earlier = Conversation(FAMILY, settings={"temperature": 0})
    earlier.ask(conv.messages[0]["content"])
    earlier.answered(
        parse_reply(f"<think>Two and two.</think>\n{conv.messages[1]['content']}", family=FAMILY)
    )
    saved = earlier.save(tmp_path / "sums.json")

    code, out = chat("-m", checkpoint, "--load", str(saved), "-p", conv.messages[2]["content"], "--json")
    assert code == 0
    assert json.loads(out)["content"] == "3 + 3 = 6."  # the taught reply: history sent, its reasoning dropped
    alone = json.loads(
        chat("-m", checkpoint, "-p", conv.messages[2]["content"], "--temperature", "0", "--json")[1]
    )
    assert alone["content"] != "3 + 3 = 6."  # without the history the question alone is not the taught prompt


def _truncated_png(folder: Path) -> list[str]:
    (folder / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    return ["-i", str(folder / "truncated.png")]


def _garbage_pdf(folder: Path) -> list[str]:
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    return ["--file", str(folder / "garbage.pdf")]


def _broken_conversation(folder: Path) -> list[str]:
    (folder / "saved.json").write_text('{"format": "glmv.conversation", "version": 1, "family": "glm-4.6v"}')
    return ["--load", str(folder / "saved.json")]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_truncated_png, "truncated.png' is a truncated or corrupt PNG"),
        (_garbage_pdf, "garbage.pdf': it is damaged or not a PDF"),
        (_broken_conversation, "saved.json: missing key 'messages'"),
    ],
    ids=["truncated-png", "garbage-pdf", "broken-conversation-file"],
)
def test_a_bad_input_is_a_one_line_error_before_the_model_loads(tmp_path, make, message):
    no_model = tmp_path / "no-model"  # loading it would fail with "has no config.json"
    result = subprocess.run(
        [sys.executable, "-m", "glmv", "chat", "-m", str(no_model), "-p", "hi", *make(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    stderr = " ".join(result.stderr.split())
    assert stderr.startswith("Error:") and message in stderr
    assert "Traceback" not in result.stderr and "config.json" not in stderr
