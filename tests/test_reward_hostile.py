"""``glmv reward score`` under hostile input: every bad line becomes an error record with its line number, is
listed on stderr, and the good lines around it are still scored and written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.resources import files

import pytest
from typer.testing import CliRunner

from glmv.cli import app
from glmv.reward import RewardSystem
from glmv.reward.jsonl import read_jsonl

R = "<think>{t}</think><answer><|begin_of_box|>{a}<|end_of_box|></answer>"
GOOD = {"prompt": "2 + 2?", "answer": R.format(t="2 + 2 = 4", a="4"), "gt_answer": "4", "datasource": "math"}
GOOD_OCR = {"answer": R.format(t="It reads", a="EXIT"), "gt_answer": "EXIT", "datasource": "ocr"}


def line(**changes) -> bytes:
    """GOOD with ``changes`` (a value of ``...`` removes the key), as one JSON line."""
    row = {k: v for k, v in {**GOOD, **changes}.items() if v is not ...}
    return json.dumps(row).encode()


# (case, the bad line, text its error must contain, its reason)
BAD_LINES = [
    ("broken JSON", b'{"answer": "x", "gt_answer": ', "not valid JSON", "unreadable line"),
    ("a JSON list", b"[1, 2]", "the line holds a list; each line must be a JSON object", "unreadable line"),
    ("JSON null", b"null", "the line holds null", "unreadable line"),
    (
        "JSON nested 100,000 deep",
        b"[" * 100_000 + b"]" * 100_000,
        "JSON nested too deeply",
        "unreadable line",
    ),
    ("an integer of 5,000 digits", b'{"answer": ' + b"7" * 5000 + b"}", "unusable JSON", "unreadable line"),
    (
        "a non-UTF-8 byte",
        b'{"answer": "\xff\xfe", "gt_answer": "4"}',
        "not UTF-8 text (byte 13",
        "unreadable line",
    ),
    ("a UTF-16 line", '{"gt_answer": "4"}'.encode("utf-16-le"), "not UTF-8", "unreadable line"),
    ("no gt_answer", line(gt_answer=...), "the item has no 'gt_answer'", "invalid item"),
    ("a null gt_answer", line(gt_answer=None), "the item has no 'gt_answer'", "invalid item"),
    ("no answer", line(answer=...), "the item has no 'answer'", "invalid item"),
    (
        "an unknown datasource",
        line(datasource="physics"),
        "No reward config found for datasource: physics",
        "unknown datasource",
    ),
    ("a null datasource", line(datasource=None), "'datasource' must be a string", "invalid item"),
    ("a list datasource", line(datasource=["math"]), "got a list", "invalid item"),
    ("an object datasource", line(datasource={"name": "math"}), "got an object", "invalid item"),
    ("a list prompt", line(prompt=["2 + 2?"]), "'prompt' must be text, got a list", "invalid item"),
    ("a blank ground truth", line(gt_answer="  "), "the ground truth is empty", "bad ground truth"),
    (
        "a ground truth that fails the gate",
        line(gt_answer="<think>4"),
        "the ground truth fails the gate: format: the reply must start with <think>",
        "bad ground truth",
    ),
    (
        "a ground truth with two boxes",
        line(gt_answer="<|begin_of_box|>4<|end_of_box|> or <|begin_of_box|>5<|end_of_box|>"),
        "found no answer in the ground truth: its box markers must give exactly one box",
        "bad ground truth",
    ),
    (
        "answer tags inside the ground truth",
        line(gt_answer="it is <answer>4</answer>"),
        "<answer> tags that do not wrap the whole answer",
        "bad ground truth",
    ),
    ("a boolean ground truth", line(gt_answer=True), "a bool is not an answer it reads", "bad ground truth"),
    ("a list ground truth", line(gt_answer=["4"]), "a list is not an answer it reads", "bad ground truth"),
    (
        "a NaN ground truth",
        line(gt_answer=float("nan")),
        "the ground truth nan is not a finite number",
        "bad ground truth",
    ),
]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "reward.yaml"
    path.write_text(files("glmv.reward").joinpath("examples/demo.yaml").read_text(), encoding="utf-8")
    return path


def score(config, data, tmp_path) -> tuple[list[dict], str]:
    """Run ``glmv reward score`` in-process; the output records and stderr (whitespace collapsed)."""
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["reward", "score", "-c", str(config), str(data), "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    return records, " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("bad", "message", "reason"), [c[1:] for c in BAD_LINES], ids=[c[0] for c in BAD_LINES]
)
def test_a_bad_line_is_an_error_record_and_the_rest_are_scored(config, tmp_path, bad, message, reason):
    data = tmp_path / "data.jsonl"
    # Line 2 is blank (skipped, still counted), the bad line is line 3.
    data.write_bytes(line() + b"\n\n" + bad + b"\n" + json.dumps(GOOD_OCR).encode() + b"\n")
    records, stderr = score(config, data, tmp_path)
    assert [r["line"] for r in records] == [1, 3, 4]
    first, broken, last = records
    assert broken["reward"] == 0.0 and broken["reason"] == reason and message in broken["error"]
    assert first["reward"] == 1.0 and first["error"] is None and first["extracted_ground_truth"] == "4"
    assert last["reward"] == 1.0 and last["error"] is None and last["datasource"] == "ocr"
    assert "1 of 3 lines have errors" in stderr
    assert f"line 3: {reason}: " in stderr and message in stderr


def test_a_file_of_bad_lines_loses_none(config, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(b"\n".join(bad for _, bad, _, _ in BAD_LINES) + b"\n" + line() + b"\n")
    records, stderr = score(config, data, tmp_path)
    assert len(records) == len(BAD_LINES) + 1
    assert [r["line"] for r in records] == list(range(1, len(BAD_LINES) + 2))
    for record, (case, _, message, _) in zip(records, BAD_LINES, strict=False):
        assert record["reward"] == 0.0 and message in record["error"], case
    assert records[-1]["reward"] == 1.0 and records[-1]["error"] is None
    assert f"{len(BAD_LINES)} of {len(BAD_LINES) + 1} lines have errors" in stderr
    assert f"and {len(BAD_LINES) - 20} more" in stderr  # the list is capped; every record has its error


def test_a_utf16_file_is_an_error_per_line(config, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes((json.dumps(GOOD) + "\n" + json.dumps(GOOD_OCR) + "\n").encode("utf-16"))
    records, stderr = score(config, data, tmp_path)
    # Split on b"\n", UTF-16 leaves a last piece of one NUL byte (the high byte of the last newline).
    assert len(records) == 3 and all("not UTF-8" in r["error"] for r in records)
    assert "3 of 3 lines have errors" in stderr


def test_a_byte_order_mark_and_crlf_line_ends_are_read(config, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(b"\xef\xbb\xbf" + line() + b"\r\n" + json.dumps(GOOD_OCR).encode() + b"\r\n")
    records, stderr = score(config, data, tmp_path)
    assert [r["reward"] for r in records] == [1.0, 1.0] and "errors" not in stderr


def test_a_lone_surrogate_is_written_as_valid_json(config, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(b'{"answer": "\\ud800", "gt_answer": "4", "datasource": "math"}\n' + line() + b"\n")
    records, _ = score(config, data, tmp_path)
    assert records[0]["answer"] == "\ud800" and records[0]["reward"] == 0.0
    assert records[1]["reward"] == 1.0


def test_a_line_over_the_cap_is_skipped_not_held(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(line() + b"\n" + b'{"answer": "' + b"x" * 5000 + b'"}\n' + line() + b"\n")
    lines = read_jsonl(data, max_line_bytes=1000)
    assert [(x.number, x.error) for x in lines] == [
        (1, None),
        (2, "longer than 1000 bytes; not read"),
        (3, None),
    ]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_data_path_that_is_not_a_regular_file_is_refused_at_once(config, tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "pipe.jsonl"
        os.mkfifo(path)  # opening it would block until a writer comes
    else:
        path = "/dev/zero"
    done = subprocess.run(
        [sys.executable, "-m", "glmv", "reward", "score", "-c", str(config), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_library_scores_around_bad_items(config):
    with RewardSystem.from_yaml(config) as system:
        results = system.score(
            [GOOD, {"answer": "x"}, {**GOOD, "datasource": ["math"]}, "not a row", GOOD_OCR]
        )
    assert [r.reward for r in results] == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert [r.reason for r in results[1:4]] == ["invalid item"] * 3
    assert "must be a JSON object" in results[3].error
    assert system.stats["(invalid datasource)"].errors == 2 and system.stats["default"].errors == 1


def test_a_boolean_ground_truth_is_not_taken_for_the_number_one(config):
    # True == 1 as a dict key: the ground-truth cache must still tell them apart.
    one = R.format(t="", a="1")
    with RewardSystem.from_yaml(config) as system:
        results = system.score(
            [
                {"answer": one, "gt_answer": 1, "datasource": "math"},
                {"answer": one, "gt_answer": True, "datasource": "math"},
                {"answer": one, "gt_answer": 1.0, "datasource": "math"},
            ]
        )
    assert [(r.reward, r.error is None) for r in results] == [(1.0, True), (0.0, False), (1.0, True)]


def test_an_output_path_that_cannot_be_written_is_a_one_line_error(config, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(line() + b"\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "glmv",
            "reward",
            "score",
            "-c",
            str(config),
            str(data),
            "-o",
            "/nonexistent/x.jsonl",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Cannot write /nonexistent/x.jsonl" in " ".join(done.stderr.split())
