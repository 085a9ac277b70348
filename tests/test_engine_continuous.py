"""Continuous batching in LocalEngine: the same greedy tokens as ``model.generate``, however requests meet.

The reference is transformers' own ``model.generate`` on the processor's tensors of the same request (greedy,
the family's stop ids). The engine must give exactly its tokens for every family (GLM-4.1V, GLM-4.5V MoE,
GLM-4.6V, GLM-4.6V-Flash), with text, images and a video, when a request runs alone, in a batch, and when it joins
a batch that is already decoding, from a cached prefix, and with the prompt prefilled in small chunks — with the
growing cache and with the GPU path's static one (``kv_cache="static"``, run here on the CPU). Slots free at once when a row
finishes or is cancelled, and rows with different sampling settings share one batch.
"""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

pytest.importorskip("torch")

from glmv.engine import ChatRequest, LocalEngine, collect
from glmv.media import load_image, load_video
from glmv.messages import to_processor_messages, user_message
from glmv.testing import taught_conversations

pytestmark = pytest.mark.slow

FAMILIES = ["glm-4.1v-thinking", "glm-4.5v", "glm-4.6v", "glm-4.6v-flash"]
GREEDY = {"temperature": 0.0, "repetition_penalty": 1.0}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 56, 56, "yuv420p"
        for _ in range(8):
            pixels = rng.integers(0, 255, (56, 56, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


STATIC_CAPACITY = (
    384  # tokens per row of the static cache: room for the longest taught conversation and its reply
)
ENGINES = [(family, "dynamic") for family in FAMILIES] + [(family, "static") for family in FAMILIES]


@pytest.fixture(scope="module", params=ENGINES, ids=[f"{family}-{kv}" for family, kv in ENGINES])
def engine(request, tiny_checkpoints):
    """Each family with the growing left-padded cache, and with the GPU path's static cache (on the CPU)."""
    family, kv_cache = request.param
    options = {"kv_cache": kv_cache}
    if kv_cache == "static":
        options["kv_cache_len"] = STATIC_CAPACITY
    with LocalEngine(tiny_checkpoints(family), max_batch_size=8, **options) as engine:
        yield engine


def test_the_engine_decodes_into_the_cache_it_was_given(engine):
    from glmv.engine.local_kv import BatchKV
    from glmv.engine.local_static import StaticKV

    static = isinstance(engine._loop._kv, StaticKV)
    assert static or isinstance(engine._loop._kv, BatchKV)
    assert static is (engine.kv_cache_note.startswith("KV cache: static"))
    if static:
        assert engine.max_model_len == STATIC_CAPACITY  # a row never outgrows its slot


def taught(engine, name: str, **changes) -> ChatRequest:
    conv = next(c for c in taught_conversations(engine.family) if c.name == name)
    fields = {"messages": list(conv.messages), "enable_thinking": conv.enable_thinking, "max_tokens": 64}
    return ChatRequest(**{**fields, **GREEDY, **changes})


def video_request(clip) -> ChatRequest:
    return ChatRequest(messages=[user_message("What happens?", videos=[clip])], max_tokens=10, **GREEDY)


def reference(engine, request: ChatRequest) -> str:
    """What ``model.generate`` writes for ``request`` (greedy), stop token left out as the engine leaves it."""
    import torch
    from transformers.video_utils import VideoMetadata

    _, media = to_processor_messages(request.messages, engine.family)
    kwargs = {}
    images = [load_image(ref.source) for ref in media if ref.kind == "image"]
    videos = [load_video(ref.source, engine.family) for ref in media if ref.kind == "video"]
    if images:
        kwargs["images"] = images
    if videos:
        kwargs["videos"] = [video.frames for video in videos]
        kwargs["video_metadata"] = [VideoMetadata(**video.metadata()) for video in videos]
        kwargs["do_sample_frames"] = False
    inputs = engine.processor(text=[engine.render_prompt(request)], return_tensors="pt", **kwargs)
    inputs.pop("token_type_ids", None)
    with torch.inference_mode():
        out = engine.model.generate(
            **inputs,
            max_new_tokens=request.max_tokens,
            do_sample=False,
            repetition_penalty=1.0,
            eos_token_id=list(engine.stop_ids),
            pad_token_id=engine.pad_id,
        )
    tokens = [t for t in out[0, inputs["input_ids"].shape[1] :].tolist() if t not in engine.stop_ids]
    return engine.tokenizer.decode(tokens, skip_special_tokens=False)


def raw(engine, generation) -> str:
    return collect(generation, family=engine.family)[0].raw


@pytest.fixture(scope="module")
def cases(engine, clip):
    """Text, one image, two images and a video, with their ``model.generate`` replies."""
    requests = {
        "text": taught(engine, "plain"),
        "image": taught(engine, "image"),
        "two-images": taught(engine, "two-images"),
        "video": video_request(clip),
    }
    return {name: (request, reference(engine, request)) for name, request in requests.items()}


def test_solo_requests_give_the_tokens_of_generate(engine, cases):
    for name, (request, expected) in cases.items():
        assert engine.chat(request).raw == expected, name


def test_a_batch_gives_the_tokens_of_generate(engine, cases):
    generations = engine.start_batch([request for request, _ in cases.values()])
    assert [raw(engine, g) for g in generations] == [expected for _, expected in cases.values()]
    assert [g.batch_size for g in generations] == [len(cases)] * len(cases)


def test_requests_joining_a_running_batch_give_the_tokens_of_generate(engine, cases):
    long = taught(engine, "long-reasoning")
    expected_long = reference(engine, long)
    running = engine.start(long)
    for _ in range(3):  # it is decoding now
        next(running)
    joiners = [engine.start(request) for request, _ in cases.values()]
    assert [raw(engine, g) for g in joiners] == [expected for _, expected in cases.values()]
    assert raw(engine, running) == expected_long  # the last chunk's reply holds the whole text
    assert running.batch_size >= 2  # the joiners decoded beside it


def test_a_request_from_a_cached_prefix_gives_the_tokens_of_generate(engine, cases):
    request, expected = cases["image"]
    engine.chat(request)
    before = engine.prefix_cache.reused_tokens
    follow_up = request.with_(
        messages=[*request.messages, {"role": "assistant", "content": expected}, user_message("And now?")],
        max_tokens=8,
    )
    assert engine.chat(follow_up).raw == reference(engine, follow_up)
    assert engine.prefix_cache.reused_tokens - before >= engine.prompt_tokens(request) - 1


def test_a_prompt_prefilled_in_small_chunks_gives_the_same_tokens(tiny_checkpoints, clip):
    """Chunks of 5 tokens: images and video frames straddle chunk boundaries."""
    with LocalEngine(tiny_checkpoints("glm-4.6v-flash"), prefill_chunk=5) as engine:
        for request in (taught(engine, "two-images"), taught(engine, "multi-turn"), video_request(clip)):
            assert engine.chat(request).raw == reference(engine, request)


# -- slots, cancellation and per-row sampling --------------------------------------------------------------------


@pytest.fixture(scope="module")
def flash(tiny_checkpoints):
    with LocalEngine(tiny_checkpoints("glm-4.6v-flash"), max_batch_size=2) as engine:
        yield engine


def finish_order(engine, requests: dict[str, ChatRequest]) -> tuple[list[str], dict[str, object]]:
    """Start ``requests`` in order; the names in the order their replies ended, and their generations."""
    order: list[str] = []
    lock = threading.Lock()
    generations = {name: engine.start(request) for name, request in requests.items()}

    def drain(name):
        collect(generations[name], family=engine.family)
        with lock:
            order.append(name)

    threads = [threading.Thread(target=drain, args=(name,)) for name in generations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return order, generations


def test_a_finished_row_frees_its_slot_at_once(flash):
    """Two slots: the third request starts when the short one ends, and ends before the long one."""
    requests = {
        "long": taught(flash, "long-reasoning"),  # ~54 tokens
        "short": taught(flash, "thinking-off"),  # ~11 tokens
        "third": taught(flash, "image"),  # ~22 tokens, waits for a slot
    }
    order, generations = finish_order(flash, requests)
    assert order == ["short", "third", "long"]
    assert {name: g.batch_size for name, g in generations.items()} == {"long": 2, "short": 2, "third": 2}


def test_a_cancelled_row_frees_its_slot(tiny_checkpoints):
    with LocalEngine(tiny_checkpoints("glm-4.6v-flash"), max_batch_size=1) as engine:
        doomed = engine.start(taught(engine, "long-reasoning"))
        next(doomed)
        waiting = engine.start(taught(engine, "plain"))
        doomed.cancel()
        assert [c.finish_reason for c in doomed if c.finish_reason] == ["cancelled"]
        plain = next(c for c in taught_conversations(engine.family) if c.name == "plain")
        assert raw(engine, waiting) == plain.reply


def test_a_request_that_fails_in_prefill_leaves_the_decoding_rows_alone(flash, monkeypatch):
    from glmv.errors import EngineError

    long = taught(flash, "long-reasoning")
    running = flash.start(long)
    next(running)
    ready = flash._loop.ready
    monkeypatch.setattr(flash._loop, "ready", lambda job: 1 / 0 if job.payload.request.n == 2 else ready(job))
    broken = flash.start(taught(flash, "plain", n=2))
    with pytest.raises(EngineError, match="ZeroDivisionError"):
        list(broken)
    conv = next(c for c in taught_conversations(flash.family) if c.name == "long-reasoning")
    assert raw(flash, running) == conv.reply


def test_a_request_that_fails_as_it_joins_gets_the_error_and_the_engine_goes_on(flash, monkeypatch):
    from glmv.errors import EngineError

    rows_for = flash._loop.rows_for
    monkeypatch.setattr(
        flash._loop, "rows_for", lambda job, prompt: 1 / 0 if job.size == 2 else rows_for(job, prompt)
    )
    broken = flash.start(taught(flash, "plain", n=2))
    with pytest.raises(EngineError, match="ZeroDivisionError"):
        list(broken)  # used to wait forever: the job had left the prefilling list when the error came
    conv = next(c for c in taught_conversations(flash.family) if c.name == "plain")
    assert raw(flash, flash.start(taught(flash, "plain"))) == conv.reply


def test_each_request_reports_its_timings(flash):
    generation = flash.start(taught(flash, "long-reasoning"))
    list(generation)
    timings = generation.timings
    assert set(timings) == {"queue_s", "prefill_s", "first_token_s", "decode_tokens_per_s"}
    assert 0 <= timings["queue_s"] <= timings["first_token_s"]
    assert 0 < timings["prefill_s"] <= timings["first_token_s"]
    assert timings["decode_tokens_per_s"] > 0


def test_different_sampling_settings_share_one_batch(flash):
    sampled = ChatRequest(
        messages=[user_message("Tell me something new.")],
        temperature=1.3,
        top_p=0.9,
        top_k=40,
        repetition_penalty=1.2,
        seed=11,
        max_tokens=20,
    )
    alone = flash.chat(sampled).raw
    greedy, noisy = flash.start_batch([taught(flash, "grounding"), sampled])
    grounding = next(c for c in taught_conversations(flash.family) if c.name == "grounding")
    assert raw(flash, greedy) == grounding.reply
    assert raw(flash, noisy) == alone  # its own seeded generator: the neighbour does not change its draw
    assert greedy.batch_size == noisy.batch_size == 2


def test_the_batch_cache_pads_on_the_left_and_drops_what_no_row_needs():
    import torch
    from transformers import DynamicCache

    from glmv.engine.local_kv import BatchKV

    def cache(length: int, fill: float):
        one = DynamicCache()
        one.update(torch.full((1, 2, length, 4), fill), torch.full((1, 2, length, 4), -fill), 0)
        return one

    kv = BatchKV()
    kv.join(cache(5, 1.0), 5)
    kv.join(cache(3, 2.0), 3, copies=2)
    assert kv.mask.tolist() == [[1] * 5, [0, 0, 1, 1, 1], [0, 0, 1, 1, 1]]
    keys = kv.cache.layers[0].keys
    assert keys[1, :, :2].abs().sum() == 0 and bool((keys[1, :, 2:] == 2.0).all())
    assert kv.grow().tolist() == [[1] * 6, [0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]]
    kv.cache.update(torch.zeros(3, 2, 1, 4), torch.zeros(3, 2, 1, 4), 0)  # what the model's step appends
    kv.keep([1, 2])  # the long row left: its two extra columns go, and with them all padding
    assert (kv.rows, kv.length) == (2, 4) and kv.cache.layers[0].keys.shape[2] == 4
    assert kv.grow() is None  # no padding: the model takes its plain causal path
    assert kv.mask.tolist() == [[1] * 5] * 2
    kv.keep([])
    assert kv.rows == 0


# -- the vision cache ------------------------------------------------------------------------------------------


def test_an_image_seen_before_skips_the_vision_tower(tiny_checkpoints):
    with LocalEngine(tiny_checkpoints("glm-4.6v-flash")) as engine:
        calls = []
        hook = engine.model.model.visual.register_forward_hook(lambda *_: calls.append(1))
        try:
            image = taught(engine, "image")
            first = engine.chat(image).raw
            again = engine.chat(image).raw  # a new conversation (or a regenerate) with the same image
            follow_up = image.with_(
                messages=[*image.messages, {"role": "assistant", "content": first}, user_message("And now?")],
                max_tokens=4,
            )
            engine.chat(follow_up)  # the next turn holds the same image
        finally:
            hook.remove()
        assert first == again == reference(engine, image)
        assert len(calls) == 1
        assert (engine.vision_cache.encoded, engine.vision_cache.hits) == (1, 2)


def test_the_vision_cache_drops_the_least_recently_used_image_past_its_budget():
    from types import SimpleNamespace

    import torch

    from glmv.engine.local_vision import VisionCache, image_keys

    encoded = []

    def get_image_features(pixels, grid):  # a stand-in tower: each image's features are its pixel rows
        encoded.append(len(grid))
        return SimpleNamespace(pooler_output=torch.split(pixels, grid.prod(-1).tolist()))

    tower = SimpleNamespace(device=torch.device("cpu"))
    tower.model = SimpleNamespace(get_image_features=get_image_features)
    grid = torch.tensor([[1, 2, 2]])
    images = {name: torch.full((4, 6), float(value)) for value, name in enumerate("abc")}
    cache = VisionCache(budget=2 * images["a"].numel() * 4)  # room for two images

    def features(*names):
        pixels = torch.cat([images[name] for name in names])
        grids = grid.repeat(len(names), 1)
        out = cache.features(tower, pixels, grids, image_keys(pixels, grids))
        assert torch.equal(out, pixels)

    features("a", "b")  # both encoded in one call
    features("b", "c")  # b from the cache; c pushes out a, the least recently used
    features("a")  # encoded again
    assert encoded == [2, 1, 1]
    assert len(cache) == 2 and cache.hits == 1


# -- the prefix cache --------------------------------------------------------------------------------------------


def test_a_request_that_starts_like_a_finished_one_prefills_only_what_is_new(tiny_checkpoints):
    with LocalEngine(tiny_checkpoints("glm-4.6v-flash")) as engine:
        cache = engine.prefix_cache
        tools_turn = next(c for c in taught_conversations(engine.family) if c.name == "tool-call-paris")
        result_turn = next(c for c in taught_conversations(engine.family) if c.name == "tool-result")
        first = taught(engine, "tool-call-paris", tools=list(tools_turn.tools))
        assert engine.chat(first).raw == tools_turn.reply and cache.reused_tokens == 0
        second = taught(engine, "tool-result", tools=list(result_turn.tools))
        reply = engine.chat(second)
        assert reply.raw == result_turn.reply == reference(engine, second)
        assert cache.reused_tokens >= engine.prompt_tokens(first) - 8  # the tools and the question, at least
        image = taught(engine, "image")
        first_reply = engine.chat(image).raw
        before = cache.reused_tokens
        assert engine.chat(image).raw == first_reply == reference(engine, image)  # a regenerate
        assert cache.reused_tokens - before == engine.prompt_tokens(image) - 1  # all but the last token


def test_a_prefix_counts_only_as_far_as_its_images_are_the_same(tiny_checkpoints, tmp_path):
    from PIL import Image

    with LocalEngine(tiny_checkpoints("glm-4.6v-flash"), vision_cache_bytes=0) as engine:
        pictures = []
        for colour in ((200, 30, 30), (30, 30, 200)):
            pictures.append(tmp_path / f"{colour[0]}.png")
            Image.new("RGB", (56, 56), colour).save(pictures[-1])
        red, blue = (
            ChatRequest(messages=[user_message("Describe it.", images=[p])], max_tokens=6, **GREEDY)
            for p in pictures
        )
        engine.chat(red)
        before = engine.prefix_cache.reused_tokens
        assert engine.chat(blue).raw == reference(engine, blue)
        prompt = engine.processor(text=[engine.render_prompt(blue)], images=[load_image(pictures[1])])
        first_image = prompt["input_ids"][0].index(engine.model.config.image_token_id)
        assert engine.prefix_cache.reused_tokens - before == first_image  # the text before the image only
