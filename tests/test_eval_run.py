"""glmv.eval.run end to end on a scripted engine: every task on small fixture sets made here (images drawn with
PIL, a video encoded with PyAV), every record format, bad input, selection, concurrency, resume and compare."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from glmv.engine import ChatRequest, Chunk, EngineBase, ScriptedEngine
from glmv.errors import ConfigError, EngineError
from glmv.eval import Task, available_tasks, compare_runs, read_results, register_task, run

BOX = "<|begin_of_box|>{}<|end_of_box|>"


def png(width: int = 200, height: int = 100, colour: str = "white") -> bytes:
    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).rectangle([20, 10, 100, 50], outline="red", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class KeyedEngine(EngineBase):
    """Replies chosen from the prompt text (so concurrency cannot reorder them), streamed by a ScriptedEngine."""

    def __init__(
        self, reply: Callable[[str], str], fail_after: int | None = None, family: str = "glm-4.6v"
    ) -> None:
        self.reply = reply
        self.fail_after = fail_after
        self.family = family
        self.requests: list[ChatRequest] = []

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:
        self.requests.append(request)
        if self.fail_after is not None and len(self.requests) > self.fail_after:
            raise EngineError("Cannot reach http://127.0.0.1:1/v1/chat/completions: connection refused.")
        prompt = request.messages[-1]["content"][-1]["text"]
        yield from ScriptedEngine([self.reply(prompt)], family=self.family).generate(request)


def by_key(replies: dict[str, str], default: str = "I do not know.") -> Callable[[str], str]:
    def reply(prompt: str) -> str:
        return next((text for key, text in replies.items() if key in prompt), default)

    return reply


def thinking(answer: str) -> str:
    return f"<think>Let me look at the picture carefully.</think>{answer}"


def _mmbench_reply(prompt: str) -> str:
    if "capital" in prompt:  # always the letter of the right option: right in every rotation
        letter = next(line[0] for line in prompt.splitlines() if line.endswith(". Paris"))
        return thinking(BOX.format(letter))
    return thinking(BOX.format("A"))  # always A: right in one rotation of four


IMAGE = base64.b64encode(png()).decode()

# task → (rows, replies, expected score, expected failures)
TASKS = {
    "chartqa": (
        [
            {"id": "c1", "question": "How many apples?", "answer": "42", "image": IMAGE, "type": "human"},
            {"id": "c2", "question": "What share is red?", "answer": "50%", "image": IMAGE, "type": "human"},
            {
                "id": "c3",
                "question": "Which colour is top?",
                "answer": "red",
                "image": IMAGE,
                "type": "augmented",
            },
        ],
        {"apples": thinking(f"There are {BOX.format('43')}."), "share": BOX.format("0.5"), "colour": "blue"},
        2 / 3,
        0,
    ),
    "docvqa": (
        [
            {"id": "d1", "question": "Who sent it?", "answers": ["Acme Corp"], "image": IMAGE},
            {"id": "d2", "question": "What date?", "answers": ["1 May"], "image": IMAGE},
        ],
        {"sent": thinking(BOX.format("ACME corp.")), "date": BOX.format("zzz")},
        0.45,
        0,
    ),
    "textvqa": (
        [{"id": "t1", "question": "How many?", "answers": ["2"] * 3 + ["x"] * 7, "image": IMAGE}],
        {"many": thinking(BOX.format("Two"))},
        0.9,
        0,
    ),
    "ocrbench": (
        [
            {
                "id": "o1",
                "question": "Read it.",
                "answer": ["hello world"],
                "question_type": "Regular Text Recognition",
                "image": IMAGE,
            },
            {
                "id": "o2",
                "question": "Name?",
                "answer": ["Bob"],
                "question_type": "Key Information Extraction",
                "image": IMAGE,
            },
        ],
        {"Read": thinking(f"The text reads {BOX.format('HELLO')} world"), "Name": "Alice"},
        0.5,
        0,
    ),
    "mmmu": (
        [
            {
                "id": "validation_Art_1",
                "question": "Which animal?",
                "options": "['cat', 'dog']",
                "answer": "B",
                "question_type": "multiple-choice",
                "image_1": IMAGE,
            },
            {
                "id": "validation_Math_2",
                "question": "How much?",
                "options": "[]",
                "answer": "1000",
                "question_type": "open",
                "image_1": IMAGE,
            },
            {
                "id": "validation_Art_3",
                "question": "Which plant?",
                "options": "['fern', 'moss']",
                "answer": "A",
                "question_type": "multiple-choice",
            },
        ],
        {"animal": thinking(BOX.format("(B)")), "much": "The answer is 1,000.", "plant": "I cannot tell."},
        2 / 3,
        0,
    ),
    "mathvista": (
        [
            {
                "id": "m1",
                "question": "Count.",
                "answer": "3",
                "answer_type": "integer",
                "question_type": "free_form",
                "image": IMAGE,
            },
            {
                "id": "m2",
                "question": "Half?",
                "answer": "0.5",
                "answer_type": "text",
                "question_type": "free_form",
                "image": IMAGE,
            },
            {
                "id": "m3",
                "question": "Pick.",
                "answer": "4",
                "choices": ["3", "4", "5"],
                "question_type": "multi_choice",
                "answer_type": "text",
                "image": IMAGE,
            },
            {
                "id": "m4",
                "question": "Again.",
                "answer": "3",
                "answer_type": "integer",
                "question_type": "free_form",
                "image": IMAGE,
            },
        ],
        {
            "Count": BOX.format("3.0"),
            "Half": BOX.format("\\frac{1}{2}"),
            "Pick": BOX.format("B"),
            "Again": BOX.format("7"),
        },
        3 / 4,
        0,
    ),
    "ai2d": (
        [
            {
                "id": "a1",
                "question": "Which eats?",
                "options": ["sun", "frog", "rock"],
                "answer": "1",
                "image": IMAGE,
            },
            {
                "id": "a2",
                "question": "Which shines?",
                "options": ["sun", "frog", "rock"],
                "answer": "0",
                "image": IMAGE,
            },
        ],
        {"eats": thinking(BOX.format("B")), "shines": BOX.format("(C)")},
        0.5,
        0,
    ),
    "mmbench": (
        [
            {
                "index": 1,
                "question": "The capital of France?",
                "A": "Rome",
                "B": "Paris",
                "C": "Oslo",
                "D": "Bern",
                "answer": "B",
                "hint": "Europe.",
                "category": "geo",
                "image": IMAGE,
            },
            {
                "index": 2,
                "question": "Largest planet?",
                "A": "Jupiter",
                "B": "Mars",
                "C": "Venus",
                "D": "Earth",
                "answer": "A",
                "category": "space",
                "image": IMAGE,
            },
        ],
        _mmbench_reply,
        0.5,
        0,
    ),
    "mmstar": (
        [
            {
                "id": "s1",
                "question": "Shape? Options: A: circle, B: square",
                "answer": "A",
                "image": IMAGE,
                "category": "coarse",
            }
        ],
        {"Shape": BOX.format("A")},
        1.0,
        0,
    ),
    "refcoco": (
        [
            {
                "id": "r1",
                "expression": "the red frame",
                "bbox": [20, 10, 80, 40],
                "image": IMAGE,
                "split": "val",
            },
            {"id": "r2", "expression": "the cat", "bbox": [20, 10, 80, 40], "image": IMAGE, "split": "val"},
            {"id": "r3", "expression": "the dog", "bbox": [20, 10, 80, 40], "image": IMAGE, "split": "testA"},
        ],
        {
            "red frame": thinking(BOX.format("[[100,100,500,500]]")),
            "the cat": "I see no cat.",
            "dog": BOX.format("[[600,600,900,900]]"),
        },
        1 / 3,
        1,
    ),
    "screenspot": (
        [
            {
                "id": "p1",
                "instruction": "open settings",
                "bbox": [40, 40, 20, 20],
                "image": IMAGE,
                "data_type": "icon",
                "data_source": "ios",
            },
            {
                "id": "p2",
                "instruction": "close",
                "bbox": [40, 40, 20, 20],
                "image": IMAGE,
                "data_type": "text",
                "data_source": "ios",
            },
        ],
        {"settings": thinking(BOX.format("[250,500]")), "close": BOX.format("[[0,0,100,100]]")},
        0.5,
        0,
    ),
}


@pytest.fixture(scope="module")
def video_file(tmp_path_factory) -> Path:
    import av
    import numpy as np

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(8):
            frame = np.full((48, 64, 3), (index * 30, 0, 200), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("task", list(TASKS))
def test_each_task_scores_known_replies(tmp_path, task):
    rows, replies, score, failures = TASKS[task]
    engine = KeyedEngine(replies if callable(replies) else by_key(replies))
    outcome = run(
        task,
        write_jsonl(tmp_path / "data.jsonl", rows),
        engine,
        "official",
        out=tmp_path / "out",
        plots=False,
    )
    assert outcome.complete
    assert outcome.summary["score"] == pytest.approx(score, abs=1e-6)
    assert outcome.summary["failures"]["count"] == failures
    if task == "refcoco":  # RefCOCO-avg is the mean over the splits
        assert outcome.summary["macro_score"] == pytest.approx((0.5 + 0.0) / 2)
    if task == "ocrbench":  # scored out of 1,000 over the full set, one point per right answer per category
        assert outcome.summary["points"] == 500 and outcome.summary["points_of"] == 1000
        assert outcome.summary["per_category"]["Regular Text Recognition"]["points"] == 1
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["score"] == outcome.summary["score"]
    assert len(read_results(tmp_path / "out")) == len(outcome.results)
    assert all(request.thinking_budget == 8192 for request in engine.requests)


def test_videomme_over_a_real_video(tmp_path, video_file):
    rows = [
        {
            "id": "v1",
            "video": video_file.name,
            "question": "What colour?",
            "options": ["A. red", "B. blue", "C. green", "D. grey"],
            "answer": "B",
            "duration": "short",
        },
        {
            "id": "v2",
            "video": "missing.mp4",
            "question": "Gone?",
            "options": ["A. yes", "B. no"],
            "answer": "A",
            "duration": "short",
        },
    ]
    data = write_jsonl(video_file.parent / "videomme.jsonl", rows)
    engine = KeyedEngine(by_key({"colour": thinking(BOX.format("B"))}))
    outcome = run("videomme", data, engine, "official", plots=False)
    assert [r.score for r in outcome.results] == [1.0, 0.0]
    assert outcome.results[1].error_kind == "media" and "missing.mp4" in outcome.results[1].error
    video = engine.requests[0].messages[0]["content"][0]
    assert video["type"] == "video_url" and video["video_url"]["url"] == str(video_file)
    assert "B. blue" in engine.requests[0].messages[0]["content"][-1]["text"]


def test_mmbench_circular_counts_a_question_right_only_when_every_rotation_is(tmp_path):
    rows, replies, _, _ = TASKS["mmbench"]
    data = write_jsonl(tmp_path / "mmbench.jsonl", rows)
    circular = run("mmbench", data, KeyedEngine(replies), plots=False)
    assert len(circular.results) == 8 and circular.summary["questions"] == 2
    assert circular.summary["per_category"] == {
        "geo": {"questions": 1, "score": 1.0},
        "space": {"questions": 1, "score": 0.0},
    }
    once = run("mmbench", data, KeyedEngine(replies), options={"circular": "false"}, plots=False)
    assert once.summary["score"] == 1.0  # asked once, "A" happens to be right for the planet
    assert "Europe." in circular.results[0].prompt


# -- record formats ------------------------------------------------------------------------------------------

CHART_ROWS = [
    {"question": f"Value of bar {n}?", "answer": str(n * 10), "type": "human" if n % 2 else "augmented"}
    for n in range(1, 7)
]


def chart_reply(prompt: str) -> str:
    number = int(prompt.split("bar ")[1].split("?")[0])
    return thinking(BOX.format(number * 10 if number != 3 else 99))


def _formats(folder: Path, kind: str) -> Path:
    images = [png(200, 100, colour) for colour in ("white", "yellow", "gray", "white", "pink", "cyan")]
    rows = [{**row, "id": f"c{n}"} for n, row in enumerate(CHART_ROWS)]
    if kind == "jsonl-base64":
        return write_jsonl(
            folder / "d.jsonl",
            [{**r, "image": base64.b64encode(i).decode()} for r, i in zip(rows, images, strict=True)],
        )
    if kind == "jsonl-data-uri":
        return write_jsonl(
            folder / "d.jsonl",
            [
                {**r, "image": "data:image/png;base64," + base64.b64encode(i).decode()}
                for r, i in zip(rows, images, strict=True)
            ],
        )
    if kind == "csv-paths":
        import csv

        (folder / "img").mkdir()
        with (folder / "d.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "question", "answer", "type", "image"])
            writer.writeheader()
            for number, (row, image) in enumerate(zip(rows, images, strict=True)):
                (folder / "img" / f"{number}.png").write_bytes(image)
                writer.writerow({**row, "image": f"img/{number}.png"})
        return folder / "d.csv"
    import pyarrow as pa

    if kind == "parquet-bytes":
        import pyarrow.parquet as pq

        pq.write_table(
            pa.Table.from_pylist([{**r, "image": i} for r, i in zip(rows, images, strict=True)]),
            folder / "d.parquet",
        )
        return folder / "d.parquet"
    table = pa.Table.from_pylist(
        [{**r, "image": {"bytes": i, "path": None}} for r, i in zip(rows, images, strict=True)]
    )
    dataset = folder / "chartqa_test"
    dataset.mkdir()
    with (
        pa.OSFile(str(dataset / "data-00000-of-00001.arrow"), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    (dataset / "state.json").write_text(
        json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]})
    )
    (dataset / "dataset_info.json").write_text("{}")
    return dataset


def fresh(folder: Path, name: str) -> Path:
    (folder / name).mkdir()
    return folder / name


FORMATS = ["jsonl-base64", "jsonl-data-uri", "csv-paths", "parquet-bytes", "datasets-folder"]


@pytest.mark.parametrize("kind", FORMATS)
def test_every_record_format_gives_the_same_summary(tmp_path, kind):
    outcome = run("chartqa", _formats(tmp_path, kind), KeyedEngine(chart_reply), plots=False)
    assert outcome.summary["score"] == pytest.approx(5 / 6)
    assert outcome.summary["per_category"] == {
        "augmented": {"questions": 3, "score": 1.0},
        "human": {"questions": 3, "score": pytest.approx(2 / 3)},
    }
    assert outcome.summary["failures"]["count"] == 0
    assert outcome.results[0].info["image_size"] == (200, 100)


def test_a_datasets_folder_with_splits_names_them(tmp_path):
    (tmp_path / "dataset_dict.json").write_text(json.dumps({"splits": ["test", "val"]}))
    with pytest.raises(ConfigError, match="test, val"):
        run("chartqa", tmp_path, KeyedEngine(chart_reply))


# -- bad input -----------------------------------------------------------------------------------------------


def test_wrong_columns_fail_at_once_naming_them_and_the_mapping(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"query": "Value of bar 1?", "label": "10", "img": IMAGE}])
    engine = KeyedEngine(chart_reply)
    with pytest.raises(ConfigError) as caught:
        run("chartqa", data, engine)
    message = str(caught.value)
    assert (
        "question, answer, image" in message
        and "--column question=" in message
        and "img, label, query" in message
    )
    assert engine.requests == []
    mapped = run(
        "chartqa", data, engine, columns={"question": "query", "answer": "label", "image": "img"}, plots=False
    )
    assert mapped.summary["score"] == 1.0
    with pytest.raises(ConfigError, match="nope"):
        run("chartqa", data, engine, columns={"question": "nope"})


def test_an_unknown_task_option_and_an_unreadable_file_fail_at_once(tmp_path):
    with pytest.raises(ConfigError, match="no option circlar .*circular"):
        run("mmbench", [], KeyedEngine(chart_reply), options={"circlar": "false"})
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ConfigError, match="Cannot read the data"):
        run("chartqa", tmp_path / "broken.parquet", KeyedEngine(chart_reply))
    with pytest.raises(ConfigError, match="unknown data format '.xlsx'"):
        (tmp_path / "d.xlsx").write_bytes(b"")
        run("chartqa", tmp_path / "d.xlsx", KeyedEngine(chart_reply))


def test_bad_records_images_and_replies_score_zero_and_the_run_goes_on(tmp_path):
    rows = [
        {"id": "fine", "question": "Value of bar 1?", "answer": "10", "image": IMAGE},
        {"id": "no-answer", "question": "Value of bar 2?", "image": IMAGE},
        {"id": "no-image-file", "question": "Value of bar 4?", "answer": "40", "image": "gone.png"},
        {
            "id": "not-an-image",
            "question": "Value of bar 5?",
            "answer": "50",
            "image": base64.b64encode(b"GIF89a broken").decode(),
        },
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    refcoco = write_jsonl(
        tmp_path / "r.jsonl", [{"id": "r", "expression": "cat", "bbox": "[1, 2, 3, 4]", "image": IMAGE}]
    )
    outcome = run("chartqa", path, KeyedEngine(chart_reply), out=tmp_path / "out", plots=False)
    kinds = {r.id: r.error_kind for r in outcome.results}
    assert kinds == {
        "fine": None,
        "no-answer": "record",
        "no-image-file": "media",
        "not-an-image": "media",
        "4": "record",
    }
    assert outcome.summary["failures"]["by_kind"] == {"media": 2, "record": 2}
    assert outcome.summary["score"] == pytest.approx(1 / 5) and outcome.complete
    report = (tmp_path / "out" / "report.md").read_text()
    assert "no-image-file" in report and "gone.png" in report
    unparsed = run("refcoco", refcoco, KeyedEngine(lambda prompt: "somewhere on the left"), plots=False)
    assert unparsed.results[0].error_kind == "reply" and "no box" in unparsed.results[0].error


def test_an_engine_that_goes_away_stops_the_run_and_resume_finishes_it(tmp_path):
    data = _formats(tmp_path, "jsonl-base64")
    full = run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "full", plots=False)
    broken = run("chartqa", data, KeyedEngine(chart_reply, fail_after=3), out=tmp_path / "part", plots=False)
    assert broken.stopped and "connection refused" in broken.stopped and not broken.complete
    assert len(read_results(tmp_path / "part")) == 3
    assert json.loads((tmp_path / "part" / "summary.json").read_text())["complete"] is False
    engine = KeyedEngine(chart_reply)
    resumed = run("chartqa", data, engine, out=tmp_path / "part", resume=True, plots=False)
    assert len(engine.requests) == 3  # only the items not done
    assert resumed.complete and resumed.summary == full.summary


def test_an_engine_crashing_in_an_unforeseen_way_stops_the_run_keeping_what_is_done(tmp_path):
    calls = []

    def reply(prompt: str) -> str:
        calls.append(prompt)
        if len(calls) > 2:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return chart_reply(prompt)

    outcome = run(
        "chartqa", _formats(tmp_path, "jsonl-base64"), KeyedEngine(reply), out=tmp_path / "o", plots=False
    )
    assert outcome.stopped and "RuntimeError: CUDA error" in outcome.stopped
    assert len(read_results(tmp_path / "o")) == 2


def test_resume_refuses_another_protocol(tmp_path):
    data = _formats(tmp_path, "jsonl-base64")
    run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "out", limit=2, plots=False)
    with pytest.raises(ConfigError, match="protocol"):
        run("chartqa", data, KeyedEngine(chart_reply), "no-think", out=tmp_path / "out", resume=True)


def test_a_folder_with_results_is_not_overwritten_by_accident(tmp_path):
    data = _formats(tmp_path, "jsonl-base64")
    run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "out", limit=2, plots=False)
    with pytest.raises(ConfigError, match="--resume .*--overwrite"):
        run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "out", plots=False)
    again = run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "out", overwrite=True, plots=False)
    assert len(read_results(tmp_path / "out")) == 6 == len(again.results)


def test_a_half_written_last_line_is_cut_on_resume(tmp_path):
    data = _formats(tmp_path, "jsonl-base64")
    full = run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "out", plots=False)
    results = tmp_path / "out" / "results.jsonl"
    lines = results.read_text().splitlines(True)
    results.write_text("".join(lines[:2]) + lines[2][:40])
    engine = KeyedEngine(chart_reply)
    resumed = run("chartqa", data, engine, out=tmp_path / "out", resume=True, plots=False)
    assert len(engine.requests) == 4 and resumed.summary == full.summary
    assert all(json.loads(line) for line in results.read_text().splitlines())


# -- selection, concurrency, protocols ----------------------------------------------------------------------------


def test_limit_shuffle_seed_and_filter(tmp_path):
    data = _formats(tmp_path, "jsonl-base64")
    first = run("chartqa", data, KeyedEngine(chart_reply), limit=2, plots=False)
    assert [r.id for r in first.results] == ["c0", "c1"]
    one = run("chartqa", data, KeyedEngine(chart_reply), shuffle=True, seed=7, limit=3, plots=False)
    two = run("chartqa", data, KeyedEngine(chart_reply), shuffle=True, seed=7, limit=3, plots=False)
    other = run("chartqa", data, KeyedEngine(chart_reply), shuffle=True, seed=8, limit=3, plots=False)
    assert [r.id for r in one.results] == [r.id for r in two.results] != [r.id for r in other.results]
    human = run("chartqa", data, KeyedEngine(chart_reply), filters={"category": "human"}, plots=False)
    assert {r.category for r in human.results} == {"human"} and len(human.results) == 3
    by_field = run("chartqa", data, KeyedEngine(chart_reply), filters={"id": "c4"}, plots=False)
    assert [r.id for r in by_field.results] == ["c4"]


def test_concurrency_gives_the_same_results_as_one_at_a_time(tmp_path):
    data = _formats(tmp_path, "jsonl-base64")
    one = run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "one", plots=False)
    many = run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "many", concurrency=4, plots=False)
    assert many.summary == one.summary
    assert [r.id for r in many.results] == [r.id for r in one.results]


@pytest.mark.parametrize(
    ("protocol", "budget", "thinking", "max_tokens"),
    [("official", 8192, None, 16384), ("budget 512", 512, None, 8704), ("no-think", None, False, 8192)],
)
def test_protocols_set_the_requests(tmp_path, protocol, budget, thinking, max_tokens):
    engine = KeyedEngine(chart_reply)
    outcome = run("chartqa", _formats(tmp_path, "jsonl-base64"), engine, protocol, limit=1, plots=False)
    request = engine.requests[0]
    assert (request.thinking_budget, request.enable_thinking, request.max_tokens) == (
        budget,
        thinking,
        max_tokens,
    )
    assert outcome.summary["protocol"]["name"] == protocol


def test_a_reasoning_at_the_budget_is_recorded_as_decided_by_the_second_pass(tmp_path):
    long = "<think>" + " ".join(["step"] * 40) + "</think>" + BOX.format("10")
    outcome = run(
        "chartqa",
        _formats(tmp_path, "jsonl-base64"),
        KeyedEngine(lambda p: long),
        "budget 20",
        limit=2,
        plots=False,
    )
    assert all(r.budget_hit and r.passes == 2 for r in outcome.results)
    assert outcome.summary["budget_hit_rate"] == 1.0 and outcome.summary["decided_by_second_pass"] == 2
    short = run(
        "chartqa",
        _formats(fresh(tmp_path, "x"), "jsonl-base64"),
        KeyedEngine(lambda p: long),
        "budget 500",
        limit=2,
        plots=False,
    )
    assert short.summary["budget_hit_rate"] == 0.0 and short.summary["mean_reasoning_tokens"] > 40


def test_a_custom_prompt_template_replaces_the_official_one(tmp_path):
    engine = KeyedEngine(chart_reply)
    run(
        "chartqa",
        _formats(tmp_path, "jsonl-base64"),
        engine,
        prompt="Q: {question} ({type})",
        limit=1,
        plots=False,
    )
    assert engine.requests[0].messages[0]["content"][-1]["text"] == "Q: Value of bar 1? (human)"
    with pytest.raises(ConfigError, match="unknown field"):
        run("chartqa", _formats(fresh(tmp_path, "y"), "jsonl-base64"), engine, prompt="{nope}")


def test_plots_and_report_are_written(tmp_path):
    run("chartqa", _formats(tmp_path, "jsonl-base64"), KeyedEngine(chart_reply), out=tmp_path / "out")
    for name in ("score_per_category.png", "reasoning_length.png", "score_vs_reasoning.png"):
        with Image.open(tmp_path / "out" / name) as image:
            assert image.format == "PNG" and image.width > 100
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.startswith("# ChartQA — 83.33") and "| human | 3 | 66.67 |" in report


def test_compare_finds_the_flipped_questions_with_a_paired_interval(tmp_path):
    data = _formats(tmp_path, "jsonl-base64")
    run("chartqa", data, KeyedEngine(chart_reply), out=tmp_path / "a", plots=False)
    run("chartqa", data, KeyedEngine(lambda p: BOX.format("10")), out=tmp_path / "b", plots=False)
    comparison = compare_runs(tmp_path / "a", tmp_path / "b", resamples=2000)
    assert comparison.overall.questions == 6
    assert comparison.overall.delta == pytest.approx(1 / 6 - 5 / 6)
    assert comparison.overall.low <= comparison.overall.delta <= comparison.overall.high < 0
    assert sorted(key for key, _, _ in comparison.flipped) == ["c1", "c3", "c4", "c5"]
    assert set(comparison.per_category) == {"augmented", "human"}
    assert comparison.task == "chartqa"
    rows = [{"question": "Who?", "answers": ["Bob"], "image": IMAGE}]
    run("docvqa", rows, KeyedEngine(by_key({})), out=tmp_path / "doc", plots=False)
    with pytest.raises(ConfigError, match="different tasks"):
        compare_runs(tmp_path / "a", tmp_path / "doc")
    same = compare_runs(tmp_path / "a", tmp_path / "a", resamples=500)
    assert same.overall.delta == same.overall.low == same.overall.high == 0.0 and same.flipped == []


class Spelling(Task):
    """A user's own benchmark: spell the word back."""

    name = "spelling"
    title = "Spelling"
    required = ("word",)

    def fill(self, item, record):
        item.question = f"Spell the word {record['word']}."
        item.gold = record["word"]

    def score(self, prediction, item):
        return float(prediction.lower() == item.gold.lower())


def test_a_registered_task_is_a_first_class_citizen():
    register_task("spelling", Spelling)
    assert "spelling" in available_tasks()
    rows = [{"word": "Cat"}, {"word": "dog"}]
    outcome = run(
        "spelling", rows, KeyedEngine(by_key({"Cat": BOX.format("cat"), "dog": "dgo"})), plots=False
    )
    assert [r.score for r in outcome.results] == [1.0, 0.0]
    assert outcome.summary["title"] == "Spelling"
    with pytest.raises(ConfigError, match="Known tasks: ai2d"):
        run("speling", rows, KeyedEngine(by_key({})))


GLM_REPLIES = [
    ("glm-4.1v-answer-tags-and-box", "glm-4.1v-thinking", "<think>Add.</think><answer><|begin_of_box|>10<|end_of_box|></answer>"),
    ("glm-4.1v-box-markers-dropped-by-the-server", "glm-4.1v-thinking", "<think>Add.</think><answer>10</answer>"),
    ("glm-4.1v-answer-not-closed-at-the-stop", "glm-4.1v-thinking", "<think>Add.</think><answer><|begin_of_box|>10<|end_of_box|>"),
    ("glm-4.6v-no-answer-tags", "glm-4.6v", "<think>Add.</think><|begin_of_box|>10<|end_of_box|>"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "family", "reply"), GLM_REPLIES, ids=[c[0] for c in GLM_REPLIES])
def test_glm_post_processing_strips_reasoning_and_unwraps_answer_and_box(tmp_path, name, family, reply):
    engine = KeyedEngine(lambda prompt: reply, family=family)
    outcome = run("chartqa", _formats(tmp_path, "jsonl-base64"), engine, limit=1, plots=False)
    (result,) = outcome.results
    assert result.answer == "10" and result.score == 1.0 and result.reasoning == "Add."
