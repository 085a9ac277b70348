"""LocalEngine end to end on taught tiny checkpoints of the three families (GLM-4.1V, GLM-4.5V, GLM-4.6V-Flash).

A taught checkpoint replies to :data:`glmv.testing.TAUGHT_CONVERSATIONS` exactly under greedy decoding, so these
tests check real generation: the checkpoint's chat template, images, think / answer / box / tool-call text,
stop tokens, budgets, batching, cancellation and usage — token for token.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

pytest.importorskip("torch")

from glmv.engine import ChatRequest, LocalEngine, collect, open_engine, register_engine
from glmv.errors import ModelLoadError
from glmv.messages import user_message
from glmv.output import parse_reply
from glmv.testing import taught_conversations

pytestmark = pytest.mark.slow

FAMILIES = ["glm-4.1v-thinking", "glm-4.5v", "glm-4.6v-flash"]
GREEDY = {"temperature": 0.0, "repetition_penalty": 1.0}


@pytest.fixture(scope="module", params=FAMILIES)
def engine(request, tiny_checkpoints):
    with LocalEngine(tiny_checkpoints(request.param)) as engine:
        yield engine


def conversation(engine, name):
    return next(c for c in taught_conversations(engine.family) if c.name == name)


def request_for(conv, **changes) -> ChatRequest:
    fields = {
        "messages": list(conv.messages),
        "tools": list(conv.tools) or None,
        "enable_thinking": conv.enable_thinking,
        "max_tokens": 160,
        **GREEDY,
    }
    return ChatRequest(**{**fields, **changes})


def tokens(engine, text: str) -> int:
    return engine.count_tokens(text)


def reasoning_span(raw: str) -> str:
    """The raw text between the first ``<think>`` and the ``</think>`` after it."""
    return raw.partition("<think>")[2].partition("</think>")[0]


# -- single requests -----------------------------------------------------------------------------------------------


def test_every_taught_conversation_replays_exactly(engine):
    """Text, one image, two images, multi-turn history, thinking off and tool calls: the exact reply, the finish
    reason, and usage counting the reply's tokens plus its stop token."""
    for conv in taught_conversations(engine.family):
        reply = engine.chat(request_for(conv))
        assert reply.raw == conv.reply, conv.name
        expected = "tool_calls" if conv.stop == "<|observation|>" else "stop"
        assert reply.finish_reason == expected, conv.name
        assert reply.usage.completion_tokens == tokens(engine, conv.reply) + 1, conv.name
        assert reply.usage.prompt_tokens == engine.prompt_tokens(request_for(conv)), conv.name
        if expected == "tool_calls":
            assert reply.tool_calls[0].name == "get_weather"
            assert reply.tool_calls[0].arguments == {"city": conv.name.split("-")[-1].title()}


def test_images_count_in_the_prompt(engine):
    one = conversation(engine, "image")
    two = conversation(engine, "two-images")
    text_only = request_for(one, messages=[{"role": "user", "content": "What colour is this image?"}])
    assert engine.prompt_tokens(request_for(one)) > engine.prompt_tokens(text_only)
    assert engine.prompt_tokens(request_for(two)) > engine.prompt_tokens(request_for(one))


def test_stream_is_reasoning_then_content_then_one_final_chunk(engine):
    conv = conversation(engine, "grounding")
    chunks = list(engine.generate(request_for(conv)))
    assert "".join(c.raw for c in chunks) == conv.reply
    kinds = [("r" if c.reasoning else "") + ("c" if c.content else "") for c in chunks]
    first_content = next(i for i, k in enumerate(kinds) if "c" in k)
    assert all("c" not in k for k in kinds[:first_content]) and "r" in "".join(kinds[:first_content])
    assert all("r" not in k for k in kinds[first_content:])
    assert [c.finish_reason for c in chunks].count("stop") == 1 and chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and all(c.usage is None for c in chunks[:-1])
    reply = collect(chunks, family=engine.family)[0]
    assert [box.as_list() for box in reply.boxes] == [[100, 200, 300, 400]]


def test_the_last_chunk_carries_the_reply_with_box_markers_kept_when_asked(engine):
    conv = conversation(engine, "grounding")
    chunks = list(engine.generate(request_for(conv, keep_box_markers=True)))
    expected = parse_reply(conv.reply, family=engine.family, keep_box_markers=True)
    reply = chunks[-1].reply
    assert (reply.reasoning, reply.content, reply.boxes) == (
        expected.reasoning,
        expected.content,
        expected.boxes,
    )
    assert "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>" in "".join(c.content for c in chunks)
    assert (reply.finish_reason, reply.usage, reply.raw) == ("stop", chunks[-1].usage, conv.reply)


def test_thinking_off(engine):
    family = engine.family
    conv = conversation(engine, "thinking-off" if family.can_switch_thinking else "plain")
    request = request_for(conv, enable_thinking=False)
    prompt = engine.render_prompt(request)
    if (
        family.can_switch_thinking
    ):  # the template adds /nothink and a closed think block; the taught reply follows
        assert prompt.endswith("/nothink<|assistant|>\n<think></think>\n")
        reply = engine.chat(request)
        assert reply.raw == conv.reply and reply.reasoning == ""
        assert reply.answer == "Paris"
    else:  # GLM-4.1V cannot switch thinking off: an empty think block is pre-filled and the answer opened
        assert prompt == engine.render_prompt(request.with_(enable_thinking=None)) + "<think></think><answer>"
        assert engine.prompt_tokens(request) == engine.prompt_tokens(request.with_(enable_thinking=None)) + 3
        reply = engine.chat(request.with_(max_tokens=8))  # the taught model never saw this prompt: any text
        assert reply.finish_reason in ("stop", "length") and not reply.raw.startswith("<think>")


@pytest.mark.parametrize("budget", [0, 4, 12])
def test_thinking_budget_closes_reasoning_and_an_answer_follows(engine, budget):
    conv = conversation(engine, "long-reasoning")
    free = engine.chat(request_for(conv))
    assert tokens(engine, reasoning_span(free.raw)) > 30  # without a budget it reasons for ~40 tokens
    reply = engine.chat(request_for(conv, thinking_budget=budget, max_tokens=budget + 12))
    assert reply.raw.startswith("<think>")
    assert tokens(engine, reasoning_span(reply.raw)) <= budget + 1
    after = reply.raw.partition("</think>")[2]
    assert after.startswith("".join(engine.family.thinking_end[1:]))  # <answer> for GLM-4.1V
    assert reply.content.strip()  # the answer goes on after the forced close


def test_budget_of_a_closed_reasoning_does_not_change_the_reply(engine):
    conv = conversation(engine, "plain")
    assert engine.chat(request_for(conv, thinking_budget=200)).raw == conv.reply


@pytest.mark.parametrize("stop", ["42", "and 27", "<|begin_of_box|>"])
def test_stop_strings_cut_the_reply(engine, stop):
    conv = conversation(engine, "plain")
    reply = engine.chat(request_for(conv, stop=[stop, "never appears"]))
    assert reply.raw == conv.reply[: conv.reply.index(stop)]
    assert reply.finish_reason == "stop"
    assert reply.usage.completion_tokens < tokens(engine, conv.reply) + 1


def test_max_tokens_gives_length(engine):
    conv = conversation(engine, "long-reasoning")
    reply = engine.chat(request_for(conv, max_tokens=7))
    assert reply.finish_reason == "length"
    assert reply.usage.completion_tokens == 7
    assert tokens(engine, reply.raw) == 7


def test_n_choices(engine):
    conv = conversation(engine, "image")
    chunks = list(engine.generate(request_for(conv, n=3)))
    replies = collect(chunks, family=engine.family)
    assert [r.raw for r in replies] == [conv.reply] * 3
    assert sorted(c.index for c in chunks if c.finish_reason) == [0, 1, 2]


def test_seed_makes_sampling_reproducible(engine):
    noisy = {"temperature": 1.5, "top_p": 1.0, "top_k": 0, "max_tokens": 24}
    request = ChatRequest(messages=[user_message("Tell me something new.")], **noisy)
    first = engine.chat(request.with_(seed=7)).raw
    assert engine.chat(request.with_(seed=7)).raw == first
    others = {engine.chat(request.with_(seed=seed)).raw for seed in (8, 9, 10)}
    assert others - {first}, "different seeds should sample differently"


# -- media -----------------------------------------------------------------------------------------------------------


def encode_mp4(path: Path, frames: int = 8, fps: int = 4, size: int = 56) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            pixels = np.full((size, size, 3), (index * 30 % 256, 80, 200 - index * 20), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_pdf(path: Path, colours=((220, 30, 30), (30, 60, 220))) -> Path:
    from PIL import Image

    pages = [
        Image.new("RGB", (40, 30), colour) for colour in colours
    ]  # points at 72 dpi: 100×75 px at 180 dpi
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    path.write_bytes(buffer.getvalue())
    return path


def test_a_real_video_goes_through_the_processor(engine, tmp_path):
    clip = encode_mp4(tmp_path / "clip.mp4")
    request = ChatRequest(messages=[user_message("What happens?", videos=[clip])], max_tokens=5, **GREEDY)
    text_only = ChatRequest(messages=[user_message("What happens?")], max_tokens=5, **GREEDY)
    assert "<|begin_of_video|><|video|><|end_of_video|>" in engine.render_prompt(request)
    assert engine.prompt_tokens(request) > engine.prompt_tokens(text_only) + 8  # frame tokens + timestamps
    reply = engine.chat(request)
    assert reply.finish_reason == "length" and reply.usage.completion_tokens == 5


def test_a_pdf_becomes_page_images(engine, tmp_path):
    pdf = make_pdf(tmp_path / "report.pdf")
    request = ChatRequest(messages=[user_message("Summarise.", files=[pdf])], max_tokens=4, **GREEDY)
    assert engine.render_prompt(request).count("<|begin_of_image|><|image|><|end_of_image|>") == 2
    one_page = ChatRequest(
        messages=[user_message("Summarise.", files=[make_pdf(tmp_path / "one.pdf", colours=((1, 2, 3),))])],
        max_tokens=4,
        **GREEDY,
    )
    assert engine.prompt_tokens(request) > engine.prompt_tokens(one_page)
    assert engine.chat(request).usage.completion_tokens == 4


# -- batching and cancellation -----------------------------------------------------------------------------------


def test_batched_requests_give_the_same_tokens_as_solo_ones(engine):
    names = ["image", "plain", "two-images", "multi-turn"]  # image rows and text rows, different lengths
    requests = [request_for(conversation(engine, name)) for name in names]
    solo = [engine.chat(request).raw for request in requests]
    generations = engine.start_batch(requests)
    batched = [collect(g, family=engine.family)[0].raw for g in generations]
    assert [g.batch_size for g in generations] == [4] * 4
    assert batched == solo == [conversation(engine, name).reply for name in names]


def test_requests_from_threads_are_batched(engine):
    conv = conversation(engine, "grounding")
    results: list[str] = []
    barrier = threading.Barrier(3)

    def ask():
        barrier.wait()
        results.append(engine.chat(request_for(conv)).raw)

    workers = [threading.Thread(target=ask) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert results == [conv.reply] * 3


def test_cancelling_one_stream_leaves_the_batch_and_the_engine_working(engine):
    long = request_for(conversation(engine, "long-reasoning"))
    other_conv = conversation(engine, "grounding")
    doomed, survivor = engine.start_batch([long, request_for(other_conv)])
    seen = [next(doomed) for _ in range(3)]
    doomed.cancel()
    rest = list(doomed)
    assert rest[-1].finish_reason == "cancelled"
    assert rest[-1].usage.completion_tokens < tokens(engine, conversation(engine, "long-reasoning").reply)
    assert "".join(c.raw for c in seen + rest) != conversation(engine, "long-reasoning").reply
    assert collect(survivor, family=engine.family)[0].raw == other_conv.reply
    assert survivor.batch_size == 2
    assert engine.chat(long).raw == conversation(engine, "long-reasoning").reply  # the engine goes on


def test_closing_the_generator_cancels(engine):
    conv = conversation(engine, "long-reasoning")
    stream = engine.generate(request_for(conv))
    next(stream)
    stream.close()
    assert engine.chat(request_for(conversation(engine, "plain"))).raw == conversation(engine, "plain").reply


def test_cancel_before_it_runs(engine):
    generation = engine.start(request_for(conversation(engine, "plain"), n=2))
    generation.cancel()
    finals = [c for c in generation if c.finish_reason]
    assert sorted(c.index for c in finals) == [0, 1]
    assert {c.finish_reason for c in finals} <= {"cancelled", "stop"}


# -- loading and open_engine -----------------------------------------------------------------------------------------


def test_engine_reports_its_family_and_model(engine):
    assert engine.family.name in FAMILIES
    assert Path(engine.model_id).is_dir()
    assert engine.device == "cpu" and str(engine.dtype) == "torch.float32"


def test_a_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="has no config.json"):
        open_engine(tmp_path)


def test_an_unknown_hub_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE is set"):
        open_engine("zai-org/GLM-4.6V-Flash")


def test_registered_engines_are_opened_by_prefix():
    opened = []

    def factory(spec, **options):
        opened.append((spec, options))
        return object()

    register_engine("test-fake:", factory)
    open_engine("test-fake:x", answer=1)
    open_engine("test-fake")
    assert opened == [("test-fake:x", {"answer": 1}), ("test-fake", {})]


# -- the decode loop alone (no model) --------------------------------------------------------------------------


def test_loop_cancel_while_waiting_and_errors_reach_the_consumer():
    from glmv.engine.batching import Job
    from glmv.engine.local_loop import DecodeLoop
    from glmv.errors import EngineError

    started = threading.Event()
    release = threading.Event()

    def ready(job):
        started.set()
        release.wait(10)
        raise RuntimeError("device on fire")

    loop = DecodeLoop(model=None, ready=ready, rows_for=None, max_rows=1)
    try:
        first, second = Job(1, None), Job(2, None)
        loop.submit(first)
        assert started.wait(10)
        loop.submit(second)  # no room next to the first: it waits
        second.cancel()  # still waiting: both choices end at once as cancelled
        assert [(e.index, e.reason) for e in second.stream()] == [(0, "cancelled"), (1, "cancelled")]
        release.set()
        with pytest.raises(EngineError, match="device on fire"):
            list(first.stream())
        third = Job(1, None)  # the loop goes on after an error
        loop.submit(third)
        with pytest.raises(EngineError, match="device on fire"):
            list(third.stream())
    finally:
        loop.close()
    with pytest.raises(EngineError, match="closed"):
        loop.submit(Job(1, None))


def test_loop_close_fails_waiting_jobs():
    from glmv.engine.batching import Job
    from glmv.engine.local_loop import DecodeLoop
    from glmv.errors import EngineError

    entered = threading.Event()

    def ready(job):
        entered.set()
        while not job.cancelled.is_set():
            threading.Event().wait(0.01)
        raise RuntimeError("stopped")

    loop = DecodeLoop(model=None, ready=ready, rows_for=None, max_rows=1)
    running, waiting = Job(1, None), Job(1, None)
    loop.submit(running, waiting)
    assert entered.wait(10)
    running.cancel()
    loop.close()
    with pytest.raises(EngineError, match="closed before this request ran"):
        list(waiting.stream())
