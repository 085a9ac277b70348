"""Grounding: the official prompt goes out, known boxes come back in pixels of the original image, the annotated
PNG shows them in one colour per expression, and the CLI's --json and batch modes report every job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from glmv.cli import app
from glmv.engine import register_engine
from glmv.engine.scripted import ScriptedEngine
from glmv.grounding import Grounding, annotate, ground, ground_batch, grounding_prompt, read_batch
from glmv.grounding.annotate import COLOURS

BOX = "<|begin_of_box|>{}<|end_of_box|>"


def _image(path: Path, size=(200, 100)) -> Path:
    Image.new("RGB", size, (255, 255, 255)).save(path)
    return path


def _prompt_of(request) -> str:
    return next(part["text"] for part in request.messages[-1]["content"] if part["type"] == "text")


@pytest.mark.parametrize(
    ("family", "reply", "expected_px", "expected_thousandths"),
    [
        (
            "glm-4.6v",
            "<think>The car is left.</think>" + BOX.format("[[250,500,750,1000]]"),
            (50, 50, 150, 100),
            (250, 500, 750, 1000),
        ),
        (
            "glm-4.1v-thinking",
            "<think>hm</think><answer>The car " + BOX.format("[250,500,750,1000]") + "</answer>",
            (50, 50, 150, 100),
            (250, 500, 750, 1000),
        ),
        (
            "glm-4.5v",
            "Here: (0,0,1000,1000)",
            (0, 0, 200, 100),
            (0, 0, 1000, 1000),
        ),  # markers lost: bare tuple
        (
            "glm-4.6v",
            BOX.format("[[750,1000,250,500]]"),
            (50, 50, 150, 100),
            (750, 1000, 250, 500),
        ),  # corners swapped
    ],
    ids=["4.6v-double-brackets", "4.1v-answer-tags", "bare-tuple-without-markers", "swapped-corners-ordered"],
)
def test_known_box_converted_to_pixels_of_the_original_image(
    family, reply, expected_px, expected_thousandths
):
    engine = ScriptedEngine([reply], family=family)
    [found] = ground(engine, Image.new("RGB", (200, 100)), "the red car")
    assert found.label == "the red car"
    assert found.box_px == expected_px
    assert found.box_thousandths == expected_thousandths
    assert (
        _prompt_of(engine.history[0])
        == "Help me to locate the red car in the image and give me its bounding boxes."
    )
    assert engine.history[0].messages[0]["content"][0]["type"] == "image_url"


def test_all_keeps_every_instance_and_one_box_without_it():
    reply = BOX.format("[[0,0,100,100],[500,500,600,600]]")
    both = ground(ScriptedEngine([reply]), Image.new("RGB", (1000, 500)), "cat", all=True)
    first = ground(ScriptedEngine([reply]), Image.new("RGB", (1000, 500)), "cat")
    assert [item.box_px for item in both] == [(0, 0, 100, 50), (500, 250, 600, 300)]
    assert [item.box_px for item in first] == [(0, 0, 100, 50)]


def test_point_mode_asks_for_a_point_and_reads_it():
    engine = ScriptedEngine([BOX.format("[500,250]")])
    [found] = ground(engine, Image.new("RGB", (400, 200)), "the logo", point=True)
    assert found.point_px == (200, 50) and found.box_px is None
    assert "[x,y]" in _prompt_of(engine.history[0])


def test_pixel_coordinates_are_asked_again_as_thousandths():
    engine = ScriptedEngine([BOX.format("[[1200,40,1500,300]]"), BOX.format("[[600,20,750,150]]")])
    [found] = ground(engine, Image.new("RGB", (2000, 2000)), "the door")
    assert found.box_px == (1200, 40, 1500, 300)
    assert len(engine.history) == 2
    assert "thousandths" in engine.history[1].messages[-1]["content"]


def test_nothing_found_keeps_what_the_model_said():
    [found] = ground(ScriptedEngine(["There is no zebra here."]), Image.new("RGB", (10, 10)), "a zebra")
    assert not found.found and found.box_px is None
    assert found.score_text == "There is no zebra here."


def test_empty_expression_is_a_clear_error():
    from glmv.errors import ConfigError

    with pytest.raises(ConfigError, match="non-empty expression"):
        ground(ScriptedEngine(), Image.new("RGB", (10, 10)), ["  "])


def test_annotation_draws_each_expression_in_its_own_colour():
    image = Image.new("RGB", (200, 200), (255, 255, 255))
    found = [
        Grounding("cat", 200, 200, box_thousandths=(100, 500, 400, 900)),
        Grounding("dog", 200, 200, box_thousandths=(600, 500, 900, 900)),
        Grounding("cat", 200, 200, box_thousandths=(500, 50, 700, 200)),
    ]
    drawn = annotate(image, found)
    red = Image.new("RGB", (1, 1), COLOURS[0]).getpixel((0, 0))
    green = Image.new("RGB", (1, 1), COLOURS[1]).getpixel((0, 0))
    assert drawn.getpixel((20, 150)) == red  # the first cat's left edge, below its label
    assert drawn.getpixel((120, 150)) == green  # the dog's left edge
    assert drawn.getpixel((140, 30)) == red  # the second cat shares the first's colour
    assert drawn.getpixel((50, 150)) == (255, 255, 255)  # inside a box: untouched
    assert image.getpixel((20, 150)) == (255, 255, 255)  # the original is not changed


def test_prompts_name_the_shape_asked_for():
    assert grounding_prompt("a cup") == "Help me to locate a cup in the image and give me its bounding boxes."
    assert "every a cup" in grounding_prompt("a cup", all=True)
    assert "[[x1,y1,x2,y2]" in grounding_prompt("a cup", all=True)


@pytest.fixture(scope="module")
def cli_engine():
    engine = ScriptedEngine(family="glm-4.6v")
    register_engine("test-ground:", lambda spec, **options: engine)
    return engine


def test_cli_json_and_annotated_png(cli_engine, tmp_path):
    picture = _image(tmp_path / "shot.png")
    cli_engine.enqueue(BOX.format("[[250,500,750,1000]]"), BOX.format("[100,100]"))
    out = tmp_path / "out.png"
    result = CliRunner().invoke(
        app,
        ["ground", str(picture), "the car", "-e", "the sun", "--json", "-o", str(out), "-m", "test-ground:"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0] == {
        "label": "the car",
        "box_px": [50, 50, 150, 100],
        "box_thousandths": [250, 500, 750, 1000],
        "point_px": None,
        "point_thousandths": None,
        "score_text": "[[250,500,750,1000]]",
    }
    assert rows[1]["label"] == "the sun" and rows[1]["point_px"] == [20, 10]
    assert Image.open(out).size == (200, 100)
    assert Image.open(out).convert("RGB").getpixel((50, 75)) != (255, 255, 255)


def test_cli_without_expression_says_what_to_do(tmp_path):
    picture = _image(tmp_path / "shot.png")
    result = CliRunner().invoke(app, ["ground", str(picture), "-m", "test-ground:"], catch_exceptions=True)
    assert result.exit_code != 0
    assert "Say what to locate" in str(result.exception)


def test_batch_jsonl_reports_every_line_with_concurrency(cli_engine, tmp_path):
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png", (400, 400))
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        '{"image": "a.png", "expression": "the car"}\nnot json\n{"image": "b.png", "expression": "the sun"}\n'
        '{"image": "missing.png", "expression": "x"}\n'
    )
    cli_engine.default = BOX.format("[[0,0,500,500]]")
    try:
        out = tmp_path / "results"
        result = CliRunner().invoke(
            app, ["ground", str(jobs), "--concurrency", "2", "-o", str(out), "-m", "test-ground:"]
        )
    finally:
        cli_engine.default = None
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [row["line"] for row in rows] == [1, 2, 3, 4]
    assert rows[0]["groundings"][0]["box_px"] == [0, 0, 100, 50]
    assert rows[2]["groundings"][0]["box_px"] == [0, 0, 200, 200]
    assert "not JSON" in rows[1]["error"]
    assert rows[3]["error"] and not rows[3]["groundings"]
    assert sorted(p.name for p in out.glob("*.png")) == ["0001-a.png", "0003-b.png"]


def test_folder_batch_needs_expressions_and_runs_each_image(tmp_path):
    from glmv.errors import ConfigError

    _image(tmp_path / "one.png")
    _image(tmp_path / "two.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ConfigError, match="-e"):
        read_batch(tmp_path)
    jobs = read_batch(tmp_path, ["the car"])
    assert [Path(job.image).name for job in jobs] == ["one.png", "two.jpg"]
    seen = []
    results = ground_batch(
        ScriptedEngine(default=BOX.format("[[0,0,1000,1000]]")), jobs, on_result=seen.append
    )
    assert [r.groundings[0].box_px for r in results] == [(0, 0, 200, 100), (0, 0, 200, 100)]
    assert len(seen) == 2


def test_cli_refuses_a_missing_image_before_opening_a_model(tmp_path):
    from glmv.errors import MediaError

    opened = []
    register_engine("test-ground-count:", lambda spec, **options: opened.append(spec) or ScriptedEngine())
    result = CliRunner().invoke(
        app, ["ground", str(tmp_path / "missing.png"), "a cat", "-m", "test-ground-count:"]
    )
    assert result.exit_code != 0 and isinstance(result.exception, MediaError)
    assert opened == []
