"""``glmv.finetune.check`` / ``render`` / ``stats``: problems found per case, lengths that match the processor,
the length histogram, and the statistics by source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from glmv.finetune import TokenCounter, check, length_histogram, load_samples, render, stats

RED = {
    "role": "user",
    "content": [{"type": "image_url", "image_url": {"url": "red.png"}}, {"type": "text", "text": "Colour?"}],
}
REPLY = {"role": "assistant", "content": "Red.", "reasoning_content": "It is red."}
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
}

# name → (messages, family, problem codes, of them fatal)
CASES = {
    "clean": ([RED, REPLY], "glm-4.5v", set(), set()),
    "missing-image": (
        [{**RED, "content": [{"type": "image_url", "image_url": {"url": "gone.png"}}]}, REPLY],
        "glm-4.5v",
        {"missing-media"},
        {"missing-media"},
    ),
    "unreadable-image": (
        [{**RED, "content": [{"type": "image_url", "image_url": {"url": "broken.png"}}]}, REPLY],
        "glm-4.5v",
        {"missing-media"},
        {"missing-media"},
    ),
    "starts-with-assistant": ([REPLY, RED, REPLY], "glm-4.5v", {"roles"}, {"roles"}),
    "two-users": ([RED, RED, REPLY], "glm-4.5v", {"roles"}, {"roles"}),
    "ends-with-user": ([RED, REPLY, RED], "glm-4.5v", {"roles"}, {"roles"}),
    "tool-result-without-call": (
        [RED, REPLY, {"role": "tool", "content": "x"}, REPLY],
        "glm-4.5v",
        {"roles"},
        {"roles"},
    ),
    "empty-reply": (
        [RED, {"role": "assistant", "content": ""}],
        "glm-4.5v",
        {"empty-reply"},
        {"empty-reply"},
    ),
    "no-reasoning-on-4.1v": (
        [RED, {"role": "assistant", "content": "Red."}],
        "glm-4.1v-thinking",
        {"no-reasoning"},
        set(),
    ),
    "no-reasoning-is-fine-on-4.5v": (
        [RED, {"role": "assistant", "content": "Red."}],
        "glm-4.5v",
        set(),
        set(),
    ),
    "tool-call-on-4.1v": (
        [RED, CALL, {"role": "tool", "content": "x"}, REPLY],
        "glm-4.1v-thinking",
        {"tools", "no-reasoning"},
        {"tools"},
    ),
    "placeholder-typed-as-text": (
        [{"role": "user", "content": "look <|image|>"}, REPLY],
        "glm-4.5v",
        {"placeholder-text"},
        {"placeholder-text"},
    ),
    "image-in-tool-result-on-4.5v": (
        [
            RED,
            CALL,
            {"role": "tool", "content": [{"type": "image_url", "image_url": {"url": "red.png"}}]},
            REPLY,
        ],
        "glm-4.5v",
        {"tool-media"},
        {"tool-media"},
    ),
    "image-in-tool-result-on-4.6v": (
        [
            RED,
            CALL,
            {"role": "tool", "content": [{"type": "image_url", "image_url": {"url": "red.png"}}]},
            REPLY,
        ],
        "glm-4.6v",
        set(),
        set(),
    ),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("check")
    Image.new("RGB", (56, 56), (220, 30, 30)).save(root / "red.png")
    Image.new("RGB", (560, 280), (30, 30, 220)).save(root / "big.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def _samples(folder: Path, name: str, *records: dict) -> list:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return list(load_samples([path]))


@pytest.mark.parametrize("case", list(CASES))
def test_check_finds_each_problem(folder, case):
    messages, family, codes, fatal = CASES[case]
    report = check(_samples(folder, case, {"messages": messages}), family)
    assert {p.code for p in report.problems} == codes
    assert {p.code for p in report.fatal} == fatal
    assert report.ok == (not fatal)
    assert all(p.where == f"{folder / case}.jsonl:1" for p in report.problems)


def test_duplicates_and_too_long_samples(folder):
    big = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "big.png"}}]}
    samples = _samples(
        folder, "lengths", {"messages": [RED, REPLY]}, {"messages": [RED, REPLY]}, {"messages": [big, REPLY]}
    )
    report = check(samples, "glm-4.5v", max_length=100)
    found = {(p.where.rsplit(":", 1)[1], p.code, p.fatal) for p in report.problems}
    assert found == {("2", "duplicate", False), ("3", "too-long", True)}
    # 560 x 280 is 20 x 10 tokens of 28 x 28 pixels: 200 image tokens alone
    assert report.lengths[samples[2].id] > 200 > 100 > report.lengths[samples[0].id]
    assert "estimated" in next(p.message for p in report.problems if p.code == "too-long")


def test_length_histogram_is_a_png(tmp_path):
    path = length_histogram([10, 20, 20, 400], tmp_path / "lengths.png", max_length=300)
    assert Image.open(path).format == "PNG"


def test_render_marks_the_trained_replies_and_counts_media_inline(folder):
    (sample,) = _samples(
        folder, "render", {"messages": [RED, {"role": "assistant", "content": "Red."}, RED, REPLY]}
    )
    rendered = render(sample, "glm-4.5v")
    trained = [s.text for s in rendered.segments if s.trained]
    assert trained == ["<think></think>\nRed.", "<think>It is red.</think>\nRed.", "<|endoftext|>"]
    media = [s for s in rendered.segments if s.measured is not None]
    assert [(s.kind, s.measured.tokens) for s in media] == [("image", 9), ("image", 9)]
    assert rendered.media_tokens == 18 and rendered.estimated


def test_stats_by_source(folder):
    openai = _samples(
        folder, "stats-openai", {"messages": [RED, REPLY]}, {"messages": [RED, REPLY, RED, REPLY]}
    )
    sharegpt = _samples(
        folder,
        "stats-sharegpt",
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
    )
    result = stats([*openai, *sharegpt], "glm-4.5v")
    assert set(result.sources) == {"openai", "sharegpt"}
    one = result.sources["openai"]
    assert (one.samples, one.turns, one.images, one.videos) == (2, 3, 3, 0)
    assert one.media_per_sample == 1.5 and one.mean_reasoning_tokens > 0
    assert result.sources["sharegpt"].mean_reasoning_tokens == 0
    assert result.total.samples == 3 and max(one.tokens) == one.max_tokens


@pytest.mark.parametrize("family", ["glm-4.1v-thinking", "glm-4.5v"])
def test_rendered_text_is_what_the_checkpoint_processor_tokenizes(folder, tiny_checkpoints, family):
    """The rendered training text, counted with the checkpoint's tokenizer and its pixel limits, has exactly the
    length of the transformers processor's ``apply_chat_template`` on the same conversation with the image."""
    from transformers import AutoProcessor

    checkpoint = tiny_checkpoints(family, taught=False)
    (sample,) = _samples(folder, f"processor-{family}", {"messages": [RED, REPLY]})
    counter = TokenCounter(checkpoint)
    rendered = render(sample, family, counter=counter)
    processor = AutoProcessor.from_pretrained(checkpoint, local_files_only=True)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": Image.open(folder / "red.png")},
                {"type": "text", "text": "Colour?"},
            ],
        },
        {"role": "assistant", "content": rendered.segments[-2].text},
    ]
    ids = processor.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    ids = ids[0] if isinstance(ids[0], list) else ids
    text = processor.tokenizer.decode(ids, skip_special_tokens=False)
    assert text + "<|endoftext|>" == rendered.text
    assert len(ids) + 1 == rendered.tokens and not rendered.estimated


def _clip(path: Path, frames: int = 20, fps: int = 10) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 8, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("family", ["glm-4.1v-thinking", "glm-4.6v"])
def test_a_video_expands_into_frame_pairs_with_the_family_timestamps(tmp_path, family):
    from glmv.families import get_family
    from glmv.media import load_video, video_tokens

    clip = _clip(tmp_path / "clip.mp4")
    record = {
        "messages": [
            {"role": "user", "content": "<video>What happens?"},
            {"role": "assistant", "content": "It gets brighter.", "reasoning_content": "Frames brighten."},
        ],
        "videos": ["clip.mp4"],
    }
    (sample,) = _samples(tmp_path, "video", record)
    rendered = render(sample, family)
    (video,) = [s for s in rendered.segments if s.kind == "video"]
    decoded = load_video(clip, family)
    fam = get_family(family)
    assert video.measured.timestamps == tuple(fam.video_timestamp(t) for t in decoded.pair_timestamps)
    width, height = decoded.size
    assert video.measured.tokens == video_tokens(len(decoded.frames), width, height)
    per_pair = video.measured.tokens // len(video.measured.timestamps)
    first = f"<|begin_of_video|><|begin_of_image|>{'<|image|>' * per_pair}<|end_of_image|>{video.measured.timestamps[0]}"
    assert first in rendered.text and rendered.text.count("<|end_of_video|>") == 1
    assert not check([sample], family).problems
